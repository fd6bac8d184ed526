/**
 * The figure of `convscope top --guided --png` (Springenberg et al. 2015, Fig. 3 style): one row per unit, one
 * column per top patch, each patch (the network input inside the unit's receptive field) beside its pixel map,
 * the map shown as the paper does: 0.5 + v / (2·max|v|), max over the map's three channels, so grey is zero.
 *
 * Layout (pixels): MARGIN around, each cell SIDE = scale × the largest crop side of the figure (scale default: the
 * smallest whole number giving cells of MIN_CELL or more), a pair is
 * patch | PAIR_GAP | map, pairs and rows GAP apart; white outside the crops. A crop clipped at one edge of the
 * input sits against the cell's far side (where it would sit inside the unclipped field).
 */
import sharp from 'sharp'
import type { ImageBox } from '../../shared/api'
import { signedMapRgb } from '../engine/pixels/pixelMapPng'

/** MIN_CELL: the default scale makes cells at least this many pixels wide. */
export const GRID = { MARGIN: 8, GAP: 8, PAIR_GAP: 2, MIN_CELL: 64 } as const

export interface GridPatch {
  /** The crop in network-input pixels (edges), and the input's size (to know which side was clipped). */
  box: ImageBox
  inputWidth: number
  inputHeight: number
  /** box.height × box.width × 3 bytes of the network input (RGB). */
  rgb: Uint8Array
  /** box.height × box.width × 3, signed, raw. */
  map: Float32Array
}

/** The size of a grid of `rows` × `columns` pairs of cells `side` pixels wide. */
export function gridSize(rows: number, columns: number, side: number): { width: number; height: number } {
  const { MARGIN, GAP, PAIR_GAP } = GRID
  return {
    width: 2 * MARGIN + columns * (2 * side + PAIR_GAP) + Math.max(0, columns - 1) * GAP,
    height: 2 * MARGIN + rows * side + Math.max(0, rows - 1) * GAP,
  }
}

/** Where a crop of `length` input pixels sits in a cell of `side` (scaled) pixels: against the far side when the field was clipped at the input's near edge only, the near side when clipped at the far edge only, else centred. */
function offsetIn(side: number, start: number, length: number, inputLength: number, scale: number): number {
  const clippedNear = start === 0
  const clippedFar = start + length === inputLength
  if (clippedNear && !clippedFar) return side - length * scale
  if (clippedFar && !clippedNear) return 0
  return Math.floor((side - length * scale) / 2)
}

/** Draw the grid (rows of patches; rows may be shorter) and write it as PNG; returns its size. */
export async function writePatchGrid(path: string, rows: GridPatch[][], scaleOption?: number): Promise<{ width: number; height: number }> {
  const { MARGIN, GAP, PAIR_GAP, MIN_CELL } = GRID
  const largest = Math.max(1, ...rows.flat().map((p) => Math.max(p.box.width, p.box.height)))
  const scale = scaleOption ?? Math.max(1, Math.ceil(MIN_CELL / largest))
  const side = scale * largest
  const columns = Math.max(1, ...rows.map((r) => r.length))
  const { width, height } = gridSize(Math.max(1, rows.length), columns, side)
  const out = new Uint8Array(width * height * 3).fill(255)
  /** Nearest-neighbour upscale of w × h × 3 bytes by `scale` into `out` at (left, top). */
  const paste = (bytes: Uint8Array, w: number, h: number, left: number, top: number) => {
    for (let y = 0; y < h * scale; y++) {
      for (let x = 0; x < w * scale; x++) {
        const from = (Math.floor(y / scale) * w + Math.floor(x / scale)) * 3
        out.set(bytes.subarray(from, from + 3), ((top + y) * width + left + x) * 3)
      }
    }
  }
  rows.forEach((row, r) => {
    const top = MARGIN + r * (side + GAP)
    row.forEach((p, c) => {
      const left = MARGIN + c * (2 * side + PAIR_GAP + GAP)
      const dx = offsetIn(side, p.box.x, p.box.width, p.inputWidth, scale)
      const dy = offsetIn(side, p.box.y, p.box.height, p.inputHeight, scale)
      paste(p.rgb, p.box.width, p.box.height, left + dx, top + dy)
      paste(signedMapRgb(p.map), p.box.width, p.box.height, left + side + PAIR_GAP + dx, top + dy)
    })
  })
  await sharp(out, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 9, adaptiveFiltering: true }).toFile(path)
  return { width, height }
}
