/**
 * Drawing pixel maps (gradient, deconvnet, guided backprop: h×w×3 HWC, signed, raw) and occlusion maps as
 * RGBA pixels, and an .npy file of a map for download. Pure functions (no DOM), tested under node in
 * test/unit/pixelMapDrawing.test.ts; the components put the pixels on canvases.
 */
import { npyPreamble } from '../../../shared/npyPreamble'

/** What a signed map's colour range spans: its largest |v|, or the 99.5th percentile of |v| (one hot pixel does not darken the rest). */
export type MapBound = 'max' | 'p99.5'

/** The bound of a map: max |v|, or that percentile of |v| (never 0, so a zero map draws as flat grey). */
export function absBound(values: Float32Array, bound: MapBound): number {
  if (values.length === 0) return 1
  let m = 0
  if (bound === 'max') {
    for (const v of values) m = Math.max(m, Math.abs(v))
  } else {
    const abs = Float32Array.from(values, Math.abs).sort()
    m = abs[Math.min(abs.length - 1, Math.floor(0.995 * (abs.length - 1)))]!
    if (!(m > 0)) m = abs[abs.length - 1]! // sparse maps (a unit's receptive field): the percentile is 0
  }
  return m > 0 ? m : 1
}

/**
 * The signed RGB rendering: each channel 128 + 127·v/bound, clipped, so 0 is mid-grey, positive
 * gradients brighten the colour they belong to and negative ones darken it (Springenberg et al.'s figures).
 */
export function signedRgba(values: Float32Array, height: number, width: number, bound: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(height * width * 4)
  for (let i = 0; i < height * width; i++) {
    for (let c = 0; c < 3; c++) out[i * 4 + c] = Math.round(128 + (127 * Math.max(-1, Math.min(1, values[i * 3 + c]! / bound))))
    out[i * 4 + 3] = 255
  }
  return out
}

/** max over the colour channels of |v| per pixel (Simonyan et al. 2014's saliency map): h×w. */
export function magnitude(values: Float32Array, height: number, width: number): Float32Array {
  const out = new Float32Array(height * width)
  for (let i = 0; i < out.length; i++) out[i] = Math.max(Math.abs(values[i * 3]!), Math.abs(values[i * 3 + 1]!), Math.abs(values[i * 3 + 2]!))
  return out
}

/** A non-negative h×w map in grey, 0 black and `bound` (or more) white. */
export function grayRgba(map: Float32Array, bound: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(map.length * 4)
  for (let i = 0; i < map.length; i++) {
    const g = Math.round(255 * Math.max(0, Math.min(1, map[i]! / bound)))
    out[i * 4] = out[i * 4 + 1] = out[i * 4 + 2] = g
    out[i * 4 + 3] = 255
  }
  return out
}

/** `values` clipped to ±bound (the overlay's heat follows what the other renderings show). */
export const clipped = (map: Float32Array, bound: number): Float32Array => map.map((v) => Math.max(-bound, Math.min(bound, v)))

/** A whole .npy file (float32, C order, little-endian as every host the window runs on): what numpy.load reads back as `shape`. */
export function npyFloat32(values: Float32Array, shape: readonly number[]): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1)
  if (n !== values.length) throw new Error(`npy: shape [${shape.join(', ')}] holds ${n} values, the map has ${values.length}`)
  const head = npyPreamble('<f4', shape)
  const out = new Uint8Array(head.length + values.byteLength)
  out.set(head, 0)
  out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), head.length)
  return out
}

/** An occlusion result's grid: rows × cols values, the square's top-left at (row·stride, col·stride). */
export interface OcclusionGrid {
  rows: number
  cols: number
  size: number
  stride: number
  values: Float32Array
}

/** How much covering each position lowers the target: value on the whole image − value with the square there. */
export const occlusionDrop = (grid: OcclusionGrid, baseline: number): Float32Array => grid.values.map((v) => baseline - v)

/**
 * Where the grid's cells lie on the network input, in pixels: each value drawn as a stride-wide cell centred
 * on its square's centre (row·stride + size/2), so the map lines up with what was covered.
 */
export function occlusionGridBox(grid: OcclusionGrid): { x0: number; y0: number; x1: number; y1: number } {
  const x0 = (grid.size - grid.stride) / 2
  return { x0, y0: x0, x1: x0 + grid.cols * grid.stride, y1: x0 + grid.rows * grid.stride }
}

/** The position whose square lowers the target most, and by how much. */
export function largestDrop(grid: OcclusionGrid, baseline: number): { row: number; col: number; drop: number } | null {
  let best: { row: number; col: number; drop: number } | null = null
  for (let i = 0; i < grid.values.length; i++) {
    const drop = baseline - grid.values[i]!
    if (!best || drop > best.drop) best = { row: Math.floor(i / grid.cols), col: i % grid.cols, drop }
  }
  return best
}
