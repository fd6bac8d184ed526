/** The occluded copies of one image, made on the CPU as one NHWC batch of values for the forward executor. */
import { positionCorner, type OcclusionGrid } from './grid'

/**
 * Positions `from` … `from + count − 1` of `grid` as a batch [count, height, width, 3]: each a copy of `image`
 * whose square at that position takes the pixels of `fill` (fills.ts).
 */
export function occludedCopies(image: Float32Array, fill: Float32Array, grid: OcclusionGrid, from: number, count: number): Float32Array {
  const { height, width, size } = grid
  const pixels = height * width * 3
  const batch = new Float32Array(count * pixels)
  const rowLength = size * 3
  for (let i = 0; i < count; i++) {
    const base = i * pixels
    batch.set(image, base)
    const { y, x } = positionCorner(grid, from + i)
    for (let yy = y; yy < y + size; yy++) {
      const start = (yy * width + x) * 3
      batch.set(fill.subarray(start, start + rowLength), base + start)
    }
  }
  return batch
}
