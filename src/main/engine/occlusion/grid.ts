/**
 * Where the occluding square goes (Zeiler & Fergus 2014): its top-left corner at (row · stride, col · stride) of
 * the network input, for every position where the whole square fits: rows = ⌊(H − size) / stride⌋ + 1 (and cols
 * alike). No last partial position is added, so the grid stays regular (position r, c is always at r · stride,
 * c · stride); when stride does not divide H − size, the last (H − size) mod stride rows (columns) of the input
 * are never covered.
 */
import { ConvscopeError } from '../../../shared/api'

export interface OcclusionGrid {
  size: number
  stride: number
  rows: number
  cols: number
  /** The network input's size. */
  height: number
  width: number
}

/** The grid of positions on a height × width input; BAD_REQUEST when the square does not fit or a number is not a whole number ≥ 1. */
export function occlusionGrid(height: number, width: number, size: number, stride: number): OcclusionGrid {
  for (const [name, v] of [['size', size], ['stride', stride]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ConvscopeError('BAD_REQUEST', `The occlusion ${name} must be a whole number ≥ 1 (network-input pixels), got ${v}`)
  }
  if (size > height || size > width) {
    throw new ConvscopeError('BAD_REQUEST', `An occluding square of ${size} pixels does not fit the ${height}×${width} network input; choose a size ≤ ${Math.min(height, width)}`)
  }
  return { size, stride, height, width, rows: Math.floor((height - size) / stride) + 1, cols: Math.floor((width - size) / stride) + 1 }
}

/** The top-left corner of position `index` (row-major: index = row · cols + col), in input pixels. */
export function positionCorner(grid: OcclusionGrid, index: number): { y: number; x: number } {
  return { y: Math.floor(index / grid.cols) * grid.stride, x: (index % grid.cols) * grid.stride }
}
