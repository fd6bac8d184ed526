/**
 * The cnnembed image grid as a PNG (issue 13): each cell's image cover-resized to cell × cell (sharp) and laid
 * edge to edge, empty cells (and images that cannot be read) dark grey. Memory stays at one row of cells: each
 * row is drawn raw and streamed into the PNG (pngByBands.ts), so a 100 × 100 grid of 128-pixel cells
 * (12 800² pixels, 490 MB raw) never exists raw at once.
 */
import { ConvscopeError } from '../../../shared/api'
import type { JobContext } from '../context'
import { forEachCoverTile, pasteRgb } from './coverThumbnails'
import { writePngByBands } from './pngByBands'

/** The colour of an empty cell. */
export const EMPTY_CELL_RGB = [48, 48, 48] as const

export interface GridPngInput {
  cols: number
  rows: number
  /** Side of a cell in pixels. */
  cell: number
  /** Row-major, one per cell: an index into `paths`, -1 for an empty cell. */
  cells: ArrayLike<number>
  /** Image files by index. */
  paths: readonly string[]
  /** Progress in images drawn, and cancel. */
  ctx?: JobContext
}

/** Write the grid to `path` (atomically) as a PNG of cols·cell × rows·cell pixels. */
export async function writeGridPng(path: string, { cols, rows, cell, cells, paths, ctx }: GridPngInput): Promise<void> {
  if (cells.length !== cols * rows) throw new ConvscopeError('BAD_REQUEST', `a ${cols} × ${rows} grid needs ${cols * rows} cells, got ${cells.length}`)
  for (let k = 0; k < cells.length; k++) {
    const p = cells[k]!
    if (p !== -1 && !(Number.isInteger(p) && p >= 0 && p < paths.length)) throw new ConvscopeError('BAD_REQUEST', `grid cell ${k} points at image ${p}, outside the ${paths.length} given`)
  }
  const width = cols * cell
  const total = Array.from(cells).filter((p) => p !== -1).length
  let done = 0
  async function* bands(): AsyncGenerator<Uint8Array> {
    const band = new Uint8Array(width * cell * 3)
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < band.length; o += 3) band.set(EMPTY_CELL_RGB, o)
      const filled = Array.from({ length: cols }, (_, c) => c).filter((c) => cells[r * cols + c]! !== -1)
      const rowPaths = filled.map((c) => paths[cells[r * cols + c]!]!)
      await forEachCoverTile(rowPaths, rowPaths.map((_, k) => k), cell, (k, tile) => {
        if (tile) pasteRgb(band, width, cell, tile, cell, cell, filled[k]! * cell, 0)
        ctx?.progress({ done: ++done, total, unit: 'images', message: 'drawing the grid' })
      }, ctx)
      yield band
    }
  }
  await writePngByBands(path, width, rows * cell, bands())
}
