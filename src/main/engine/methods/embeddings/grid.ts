/**
 * getImageGrid (issue 13): Karpathy's cnnembed grid — the images of a codes folder (or a lasso selection of
 * them) snapped from a finished 2-D embedding onto a cols × rows grid by an optimal assignment
 * (embeddings/gridAssignment.ts), drawn as a PNG into <codesDir>/grids/<hash of the settings>.png.
 */
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { ConvscopeError, type ParsedParams, type Result } from '../../../../shared/api'
import { readCodesFolder } from '../../codes/codesFolder'
import type { JobContext } from '../../context'
import { readEmbedding } from '../../embeddings/embeddingStore'
import { assignGrid } from '../../embeddings/gridAssignment'
import { writeGridPng } from '../../embeddings/gridPng'

export const GRIDS_FOLDER = 'grids'

/** The codes rows a grid is made of: `indices` (checked, deduplicated, in order) or every row; rows without a point (unreadable images) left out. */
export function gridRows(points: Float32Array, count: number, indices: readonly number[] | undefined): Int32Array {
  const asked = indices ?? Array.from({ length: count }, (_, i) => i)
  const bad = asked.find((i) => !(Number.isInteger(i) && i >= 0 && i < count))
  if (bad !== undefined) throw new ConvscopeError('BAD_REQUEST', `image index ${bad} is not a row of the codes folder (0 … ${count - 1})`)
  const rows = [...new Set(asked)].filter((i) => Number.isFinite(points[2 * i]!) && Number.isFinite(points[2 * i + 1]!))
  return Int32Array.from(rows)
}

export async function getImageGrid(p: ParsedParams<'getImageGrid'>, ctx: JobContext): Promise<Result<'getImageGrid'>> {
  const started = performance.now()
  const rows = p.rows ?? p.cols
  const folder = await readCodesFolder(p.codesDir)
  const embedding = await readEmbedding(p.codesDir, p.method, p.params, 2)
  if (!embedding) {
    throw new ConvscopeError('BAD_REQUEST', `${p.codesDir} has no finished 2-D ${p.method} map with these settings: make it first (startEmbedding, or convscope embed ${p.codesDir} --method ${p.method})`)
  }
  const selected = gridRows(embedding.points, embedding.count, p.indices)
  if (selected.length === 0) throw new ConvscopeError('BAD_REQUEST', `none of the ${p.indices ? 'selected ' : ''}images of ${p.codesDir} has a point on the map (all unreadable)`)
  const points = new Float32Array(2 * selected.length)
  selected.forEach((r, i) => points.set(embedding.points.subarray(2 * r, 2 * r + 2), 2 * i))

  const grid = await assignGrid(points, p.cols, rows, ctx)
  const cells = Array.from(grid.cells, (i) => (i === -1 ? -1 : selected[i]!))
  const key = createHash('sha256')
    .update(JSON.stringify({ embedding: embedding.file, params: embedding.params, cols: p.cols, rows, cell: p.cell, indices: Array.from(selected) }))
    .digest('hex')
    .slice(0, 16)
  const png = join(p.codesDir, GRIDS_FOLDER, `${p.method}-${p.cols}x${rows}-${key}.png`)
  await writeGridPng(png, { cols: p.cols, rows, cell: p.cell, cells, paths: folder.images.map((im) => im.path), ctx })
  return { cols: p.cols, rows, cell: p.cell, cells, cost: grid.cost, png, milliseconds: performance.now() - started }
}
