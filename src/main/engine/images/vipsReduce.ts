/**
 * sharp's `resize(w, h, { fit: 'fill', kernel: 'linear' })` of 8-bit RGB, when it only shrinks and by less than
 * 4× per axis, done in JS to the byte: libvips 8.18's vips_resize then runs reducev then reduceh (no box
 * shrink below a factor of 4: its `gap` is 2), each a 2·rint(f)+1-tap triangle mask chosen among 65 sub-pixel
 * positions, in 12-bit fixed point with round-half-up and edge pixels copied outward (resample/reducev.cpp,
 * reduceh.cpp, templates.h; the vector paths use the same coefficients and rounding). Saves readImage.ts a
 * resize inside sharp (≈ 0.5 ms of a 128² → 64² decode; bench/decode.ts).
 *
 * Only for factors whose multiples are exact in binary floating point (dyadic: f·1024 a whole number): libvips
 * steps its sample position per output strip, and with such factors the position is the same whatever the
 * strips are. test/unit/vipsReduce.test.ts compares with sharp on every factor kind it takes and refuses.
 */
const TRANSFORM_SCALE = 64 // VIPS_TRANSFORM_SCALE: sub-pixel positions of the masks
const INTERPOLATE_SHIFT = 12 // VIPS_INTERPOLATE_SHIFT: the masks' fixed point

/** C's rint: to the nearest, halves to even. */
const rint = (x: number) => {
  const r = Math.round(x)
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/** sharp's shrink factor for one axis (input / target, as ResolveShrink computes it), if vipsReduce does it. */
function axisFactor(input: number, target: number): number | null {
  const f = input / target
  if (f === 1) return 1
  return f > 1 && f < 4 && Number.isInteger(f * 1024) ? f : null
}

/** Whether vipsReduce gives sharp's bytes for this size change (see the module comment). */
export function vipsReducible(width: number, height: number, outWidth: number, outHeight: number): boolean {
  return axisFactor(width, outWidth) !== null && axisFactor(height, outHeight) !== null
}

/** The fixed-point masks of vips_reduce_make_mask (linear kernel) for each of the 65 sub-pixel positions. */
function masks(shrink: number): { points: number; masks: Int32Array[] } {
  const points = 2 * rint(shrink) + 1
  const out: Int32Array[] = []
  for (let x = 0; x <= TRANSFORM_SCALE; x++) {
    const half = Math.fround(x / TRANSFORM_SCALE) + points / 2 - 1 // (float) x / VIPS_TRANSFORM_SCALE
    const c = new Float64Array(points)
    let sum = 0
    for (let i = 0; i < points; i++) {
      const d = Math.abs((i - half) / shrink)
      c[i] = d < 1 ? 1 - d : 0
      sum += c[i]!
    }
    out.push(Int32Array.from(c, (v) => Math.trunc((v / sum) * (1 << INTERPOLATE_SHIFT)))) // (short) truncates
  }
  return { points, masks: out }
}

interface AxisTaps {
  weights: Int32Array[]
  samples: Int32Array[]
}

// A dataset's images mostly share a size: the taps of the last few size changes are kept.
const tapCache = new Map<string, AxisTaps>()

/** Per output sample of one axis: its mask's non-zero weights and the input samples they weigh (edges copied outward). */
function axisTaps(length: number, outLength: number, shrink: number): AxisTaps {
  const key = `${length} ${outLength} ${shrink}`
  let taps = tapCache.get(key)
  if (!taps) {
    if (tapCache.size >= 16) tapCache.delete(tapCache.keys().next().value!)
    taps = computeTaps(length, outLength, shrink)
    tapCache.set(key, taps)
  }
  return taps
}

function computeTaps(length: number, outLength: number, shrink: number): AxisTaps {
  const { points, masks: m } = masks(shrink)
  const extra = outLength * shrink - length
  const offset = (1 + extra) / 2 - 1 // hoffset / voffset
  const edge = Math.ceil(points / 2) - 1 // pixels embedded before the image (VIPS_EXTEND_COPY)
  const weights: Int32Array[] = []
  const samples: Int32Array[] = []
  let X = 0.5 * shrink - 0.5 - offset
  for (let x = 0; x < outLength; x++) {
    const ix = Math.trunc(X)
    const sx = Math.trunc(X * TRANSFORM_SCALE * 2)
    const k = m[((sx & (TRANSFORM_SCALE * 2 - 1)) + 1) >> 1]!
    const used = [...k.keys()].filter((i) => k[i] !== 0)
    weights.push(Int32Array.from(used, (i) => k[i]!))
    samples.push(Int32Array.from(used, (i) => Math.min(length - 1, Math.max(0, ix - edge + i))))
    X += shrink
  }
  return { weights, samples }
}

const ROUND = 1 << (INTERPOLATE_SHIFT - 1)
const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v)

/** reducev: rows of `row` bytes, height → outHeight. */
function reduceRows(src: Uint8Array, row: number, height: number, outHeight: number, shrink: number): Uint8Array {
  const { weights, samples } = axisTaps(height, outHeight, shrink)
  const out = new Uint8Array(row * outHeight)
  const sum = new Int32Array(row)
  for (let y = 0; y < outHeight; y++) {
    const k = weights[y]!
    const rows = samples[y]!
    const o = y * row
    if (k.length === 4) {
      // Four weights (a 2× shrink: its mask's fifth is 0), written out: twice as fast as the loop below.
      const [w0, w1, w2, w3] = k as unknown as [number, number, number, number]
      const [r0, r1, r2, r3] = [rows[0]! * row, rows[1]! * row, rows[2]! * row, rows[3]! * row]
      for (let x = 0; x < row; x++) {
        out[o + x] = clamp((ROUND + w0 * src[r0 + x]! + w1 * src[r1 + x]! + w2 * src[r2 + x]! + w3 * src[r3 + x]!) >> INTERPOLATE_SHIFT)
      }
      continue
    }
    // One tap at a time over the whole row: short, simple loops the JIT compiles well.
    sum.fill(ROUND)
    for (let i = 0; i < k.length; i++) {
      const w = k[i]!
      const r = rows[i]! * row
      for (let x = 0; x < row; x++) sum[x] += w * src[r + x]!
    }
    for (let x = 0; x < row; x++) out[o + x] = clamp(sum[x]! >> INTERPOLATE_SHIFT)
  }
  return out
}

/** reduceh: `height` rows of width RGB pixels, width → outWidth. */
function reduceColumns(src: Uint8Array, width: number, height: number, outWidth: number, shrink: number): Uint8Array {
  const { weights, samples } = axisTaps(width, outWidth, shrink)
  const columns = samples.map((c) => c.map((x) => x * 3))
  const out = new Uint8Array(outWidth * 3 * height)
  for (let y = 0; y < height; y++) {
    const base = y * width * 3
    let o = y * outWidth * 3
    for (let x = 0; x < outWidth; x++) {
      const k = weights[x]!
      const cols = columns[x]!
      const n = k.length
      let r = ROUND
      let g = ROUND
      let b = ROUND
      for (let i = 0; i < n; i++) {
        const p = base + cols[i]!
        const w = k[i]!
        r += w * src[p]!
        g += w * src[p + 1]!
        b += w * src[p + 2]!
      }
      out[o++] = clamp(r >> INTERPOLATE_SHIFT)
      out[o++] = clamp(g >> INTERPOLATE_SHIFT)
      out[o++] = clamp(b >> INTERPOLATE_SHIFT)
    }
  }
  return out
}

/** `rgb` (width × height × 3) resized to outWidth × outHeight as sharp's linear 'fill' resize does (`rgb` itself when the size stays); vipsReducible first. */
export function vipsReduce(rgb: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
  const fx = axisFactor(width, outWidth)
  const fy = axisFactor(height, outHeight)
  if (fx === null || fy === null) throw new Error(`vipsReduce: ${width}×${height} → ${outWidth}×${outHeight} is not a reduce it reproduces`)
  let cur = rgb
  if (fy !== 1) cur = reduceRows(cur, width * 3, height, outHeight, 1 / (1 / fy))
  if (fx !== 1) cur = reduceColumns(cur, width, outHeight, outWidth, 1 / (1 / fx))
  return cur
}
