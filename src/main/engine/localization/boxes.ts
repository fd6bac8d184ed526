/**
 * From a class map to boxes on the original image, as in the CAM paper (Zhou et al. 2016, §3) and in
 * Choe et al. 2020 ("Evaluating Weakly Supervised Object Localization Methods Right", MaxBoxAccV2):
 *
 *  1. upsample the map bilinearly onto every pixel of the original image, through the input geometry
 *     (stretch, center-crop, pad): image pixels outside the center crop were never seen and get the
 *     map's lowest value;
 *  2. normalise to [0, 1] (min → 0, max → 1), so "a fraction τ of the map's max" is `normalised ≥ τ`
 *     for maps with negative values too;
 *  3. keep the pixels ≥ τ, find their 8-connected components, and take the bounding box of the largest
 *     (CAM paper, top-1 / top-5 / GT-known) or of every component (MaxBoxAccV2).
 *
 * Box convention (the demo dataset's and the ILSVRC devkit's): integer **0-based inclusive** image pixel
 * indices; xmax is the last column inside the box, so width = xmax − xmin + 1 and IoU counts pixels
 * (the devkit's `+ 1`). PASCAL VOC files number pixels from 1: subtract 1 when reading them to compare.
 *
 * Many thresholds at once: `componentSweep` adds pixels level by level (highest threshold first) to a
 * union-find, so the components at every τ of a grid come from one pass (components only merge as τ falls),
 * instead of one labelling per threshold.
 */
import type { InputGeometry } from '../images/preprocess'
import type { ClassMap } from '../maps/types'

/** 0-based inclusive pixel box (see the file comment). */
export interface PixelBox {
  xmin: number
  ymin: number
  xmax: number
  ymax: number
}

/** A map on the original image's pixels, row-major. */
export interface ImageMap {
  width: number
  height: number
  values: Float32Array
}

export interface Component {
  /** Pixels in the component. */
  area: number
  box: PixelBox
}

/** The paper's default: keep the pixels above 20 % of the map's max. */
export const DEFAULT_THRESHOLD = 0.2

export function boxArea(b: PixelBox): number {
  return Math.max(0, b.xmax - b.xmin + 1) * Math.max(0, b.ymax - b.ymin + 1)
}

/** Intersection over union of two inclusive pixel boxes (0 when they do not overlap). */
export function iou(a: PixelBox, b: PixelBox): number {
  const iw = Math.min(a.xmax, b.xmax) - Math.max(a.xmin, b.xmin) + 1
  const ih = Math.min(a.ymax, b.ymax) - Math.max(a.ymin, b.ymin) + 1
  if (iw <= 0 || ih <= 0) return 0
  const inter = iw * ih
  return inter / (boxArea(a) + boxArea(b) - inter)
}

/** The largest IoU of any box of `boxes` with any of `targets`; 0 when either list is empty. */
export function bestIou(boxes: readonly PixelBox[], targets: readonly PixelBox[]): number {
  let best = 0
  for (const b of boxes) for (const t of targets) best = Math.max(best, iou(b, t))
  return best
}

/**
 * Bilinear upsampling of a class map onto the original image (half-pixel centres, edges clamped: the
 * resize of OpenCV, MATLAB's imresize when enlarging, and tf.image.resize). The map's grid spans the
 * whole network input (letterbox padding included); each image pixel centre is mapped into the input
 * through the geometry, then onto the grid.
 */
export function mapToImage(map: ClassMap, g: InputGeometry): ImageMap {
  const { width: mw, height: mh, values } = map
  if (values.length !== mw * mh) throw new Error(`class map of class ${map.classIndex} has ${values.length} values for a ${mh}×${mw} grid`)
  const W = g.imageWidth
  const H = g.imageHeight
  let lowest = Infinity
  for (let i = 0; i < values.length; i++) if (values[i]! < lowest) lowest = values[i]!
  // Per column / row: the two grid cells and the weight of the second, or -1 outside the network input.
  const axis = (n: number, offset: number, scale: number, inputSize: number, gridSize: number) => {
    const i0 = new Int32Array(n)
    const i1 = new Int32Array(n)
    const w1 = new Float32Array(n)
    for (let p = 0; p < n; p++) {
      const u = (p + 0.5 - offset) / scale // model-input coordinate of the pixel centre
      if (u < 0 || u >= inputSize) {
        i0[p] = -1
        continue
      }
      const c = Math.min(Math.max((u * gridSize) / inputSize - 0.5, 0), gridSize - 1)
      const f = Math.floor(c)
      i0[p] = f
      i1[p] = Math.min(f + 1, gridSize - 1)
      w1[p] = c - f
    }
    return { i0, i1, w1 }
  }
  const xs = axis(W, g.offsetX, g.scaleX, g.inputWidth, mw)
  const ys = axis(H, g.offsetY, g.scaleY, g.inputHeight, mh)
  const out = new Float32Array(W * H)
  for (let y = 0; y < H; y++) {
    const y0 = ys.i0[y]!
    if (y0 < 0) {
      out.fill(lowest, y * W, (y + 1) * W)
      continue
    }
    const r0 = y0 * mw
    const r1 = ys.i1[y]! * mw
    const wy = ys.w1[y]!
    for (let x = 0; x < W; x++) {
      const x0 = xs.i0[x]!
      if (x0 < 0) {
        out[y * W + x] = lowest
        continue
      }
      const x1 = xs.i1[x]!
      const wx = xs.w1[x]!
      const top = values[r0 + x0]! * (1 - wx) + values[r0 + x1]! * wx
      const bottom = values[r1 + x0]! * (1 - wx) + values[r1 + x1]! * wx
      out[y * W + x] = top * (1 - wy) + bottom * wy
    }
  }
  return { width: W, height: H, values: out }
}

/** (v − min) / (max − min); a constant map becomes all zeros (no pixel passes any τ > 0). */
export function normalizeMap(values: Float32Array): Float32Array {
  let lo = Infinity
  let hi = -Infinity
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    if (v < lo) lo = v
    if (v > hi) hi = v
  }
  const out = new Float32Array(values.length)
  const range = hi - lo
  if (!(range > 0)) return out
  for (let i = 0; i < values.length; i++) out[i] = (values[i]! - lo) / range
  return out
}

/**
 * The 8-connected components of the pixels with `normalized ≥ τ`, for every τ of `thresholds` (any
 * order), in one pass. Returns, per threshold in the order given, its components sorted by decreasing
 * area (ties: the one whose first pixel comes first in raster order).
 */
export function componentSweep(normalized: Float32Array, width: number, height: number, thresholds: readonly number[]): Component[][] {
  const n = width * height
  if (normalized.length !== n) throw new Error(`componentSweep: ${normalized.length} values for a ${width}×${height} map`)
  // Thresholds from high to low; each pixel enters at the first level it passes. The union-find after a
  // level does not depend on the order pixels entered in, so bucketing by level replaces a sort.
  const byDescending = thresholds.map((t, i) => ({ t, i })).sort((a, b) => b.t - a.t)
  const levels = byDescending.length
  const bucketStart = new Int32Array(levels + 1)
  const level = new Int32Array(n)
  for (let p = 0; p < n; p++) {
    const v = normalized[p]!
    // First level (in descending order) whose threshold v reaches; `levels` when none.
    let lo = 0
    let hi = levels
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (v >= byDescending[mid]!.t) hi = mid
      else lo = mid + 1
    }
    level[p] = lo
    if (lo < levels) bucketStart[lo + 1]!++
  }
  for (let l = 0; l < levels; l++) bucketStart[l + 1] = bucketStart[l + 1]! + bucketStart[l]!
  const order = new Int32Array(bucketStart[levels]!)
  const fill = bucketStart.slice(0, levels)
  for (let p = 0; p < n; p++) if (level[p]! < levels) order[fill[level[p]!]!++] = p
  const parent = new Int32Array(n).fill(-1) // -1: not added yet
  const area = new Int32Array(n)
  const xmin = new Int32Array(n)
  const ymin = new Int32Array(n)
  const xmax = new Int32Array(n)
  const ymax = new Int32Array(n)
  const first = new Int32Array(n) // smallest pixel index of the component, for deterministic ties
  // Roots ever made, and whether each is still one (a Set's add / delete per pixel costs more than the labelling).
  let roots: number[] = []
  const isRoot = new Uint8Array(n)
  const find = (i: number): number => {
    let r = i
    while (parent[r] !== r) r = parent[r]!
    while (parent[i] !== r) {
      const next = parent[i]!
      parent[i] = r
      i = next
    }
    return r
  }
  const union = (a: number, b: number) => {
    let ra = find(a)
    let rb = find(b)
    if (ra === rb) return
    if (area[ra]! < area[rb]!) {
      const t = ra
      ra = rb
      rb = t
    }
    parent[rb] = ra
    area[ra] = area[ra]! + area[rb]!
    xmin[ra] = Math.min(xmin[ra]!, xmin[rb]!)
    ymin[ra] = Math.min(ymin[ra]!, ymin[rb]!)
    xmax[ra] = Math.max(xmax[ra]!, xmax[rb]!)
    ymax[ra] = Math.max(ymax[ra]!, ymax[rb]!)
    first[ra] = Math.min(first[ra]!, first[rb]!)
    isRoot[rb] = 0
  }

  const result: Component[][] = new Array(thresholds.length)
  for (let l = 0; l < levels; l++) {
    const slot = byDescending[l]!.i
    for (let next = bucketStart[l]!; next < bucketStart[l + 1]!; next++) {
      const p = order[next]!
      const x = p % width
      const y = (p - x) / width
      parent[p] = p
      area[p] = 1
      xmin[p] = xmax[p] = x
      ymin[p] = ymax[p] = y
      first[p] = p
      isRoot[p] = 1
      roots.push(p)
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy
        if (yy < 0 || yy >= height) continue
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx
          if ((dx === 0 && dy === 0) || xx < 0 || xx >= width) continue
          const q = yy * width + xx
          if (parent[q]! >= 0) union(p, q)
        }
      }
    }
    roots = roots.filter((r) => isRoot[r] === 1)
    const comps = roots.map((r) => ({ r, area: area[r]!, first: first[r]! }))
    comps.sort((a, b) => b.area - a.area || a.first - b.first)
    result[slot] = comps.map(({ r }) => ({ area: area[r]!, box: { xmin: xmin[r]!, ymin: ymin[r]!, xmax: xmax[r]!, ymax: ymax[r]! } }))
  }
  return result
}

/** The components at one threshold (largest first); see componentSweep. */
export function componentsAt(normalized: Float32Array, width: number, height: number, threshold: number): Component[] {
  return componentSweep(normalized, width, height, [threshold])[0]!
}

/**
 * The largest component at one threshold (ties: the one whose first pixel comes first in raster order, as in
 * componentSweep), or null when no pixel passes. One threshold needs no sweep: runs of passing pixels per row,
 * joined with the 8-adjacent runs of the row above in a union-find over runs (a few hundred, not every pixel),
 * costs a fraction of componentSweep's per-pixel union-find.
 */
export function largestComponent(normalized: Float32Array, width: number, height: number, threshold: number): Component | null {
  if (normalized.length !== width * height) throw new Error(`largestComponent: ${normalized.length} values for a ${width}×${height} map`)
  // Per run: row, first and last column, union-find parent. Grown on demand (at most ⌈width / 2⌉ runs a row).
  let capacity = 64
  let row = new Int32Array(capacity)
  let x0 = new Int32Array(capacity)
  let x1 = new Int32Array(capacity)
  let parent = new Int32Array(capacity)
  let runs = 0
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!
    return i
  }
  let above = 0 // first run of the previous row
  let aboveEnd = 0
  for (let y = 0; y < height; y++) {
    const rowStart = runs
    const base = y * width
    let x = 0
    while (x < width) {
      if (!(normalized[base + x]! >= threshold)) {
        x++
        continue
      }
      const start = x
      while (x < width && normalized[base + x]! >= threshold) x++
      if (runs === capacity) {
        capacity *= 2
        const grow = (a: Int32Array) => {
          const b = new Int32Array(capacity)
          b.set(a)
          return b
        }
        ;[row, x0, x1, parent] = [grow(row), grow(x0), grow(x1), grow(parent)]
      }
      const r = runs++
      row[r] = y
      x0[r] = start
      x1[r] = x - 1
      parent[r] = r
      // 8-connected: a run of the row above touches this one when their columns overlap or meet diagonally.
      for (let a = above; a < aboveEnd; a++) {
        if (x1[a]! < start - 1) continue
        if (x0[a]! > x) break
        const ra = find(a)
        const rr = find(r)
        if (ra !== rr) parent[Math.max(ra, rr)] = Math.min(ra, rr)
      }
    }
    above = rowStart
    aboveEnd = runs
  }
  if (runs === 0) return null
  // Per root: area, box, first pixel; a root is the component's lowest run, so its first pixel is the run's start.
  const area = new Int32Array(runs)
  const box = new Int32Array(runs * 4)
  for (let r = 0; r < runs; r++) {
    const c = find(r)
    if (area[c] === 0) box.set([x0[r]!, row[r]!, x1[r]!, row[r]!], c * 4)
    area[c] = area[c]! + x1[r]! - x0[r]! + 1
    box[c * 4] = Math.min(box[c * 4]!, x0[r]!)
    box[c * 4 + 2] = Math.max(box[c * 4 + 2]!, x1[r]!)
    box[c * 4 + 3] = row[r]!
  }
  // Roots in raster order of their first pixel: the first of the largest areas wins the tie.
  let best = -1
  for (let c = 0; c < runs; c++) if (area[c]! > 0 && (best < 0 || area[c]! > area[best]!)) best = c
  return { area: area[best]!, box: { xmin: box[best * 4]!, ymin: box[best * 4 + 1]!, xmax: box[best * 4 + 2]!, ymax: box[best * 4 + 3]! } }
}

/** The box of the largest component at `threshold`, or null when no pixel passes. */
export function largestBox(normalized: Float32Array, width: number, height: number, threshold: number = DEFAULT_THRESHOLD): PixelBox | null {
  return largestComponent(normalized, width, height, threshold)?.box ?? null
}

/** A class map's box on the original image: upsample, normalise, threshold, largest component. */
export function classMapBox(map: ClassMap, geometry: InputGeometry, threshold: number = DEFAULT_THRESHOLD): { box: PixelBox | null; image: ImageMap; normalized: Float32Array } {
  const image = mapToImage(map, geometry)
  const normalized = normalizeMap(image.values)
  return { box: largestBox(normalized, image.width, image.height, threshold), image, normalized }
}
