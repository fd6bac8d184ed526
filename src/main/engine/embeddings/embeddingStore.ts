/**
 * The embedding job's store (issue 13, item 3): a projection (engine/projections registry) of a codes folder,
 * computed once per (codes, method, settings, dims) and kept in the folder as
 *   embeddings/<method>-<key>.npy    float32 [count, dims]: one row per codes row, NaN rows for unreadable images
 *   embeddings/<method>-<key>.json   the Embedding less its points (written last: its presence marks a finished run)
 * where <key> hashes the method, every setting (defaults filled in), dims and the codes' finishedAt (a codes folder
 * made again gets new embeddings). The projection sees only the readable rows (NaN rows are dropped before and put
 * back after), so a map never has to know about skipped images.
 */
import { createHash } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { ConvscopeError, Embedding, type ProjectionParams } from '../../../shared/api'
import { readCodeMatrix, readCodesFolder } from '../codes/codesFolder'
import { throwIfCancelled, type JobContext } from '../context'
import type { Projection } from '../projections/projection'
import { projectionNamed, resolveParams } from '../projections/registry'
import { decodeNpy, writeNpy } from '../store/npy'
import { writeFileAtomic } from '../store/writeFileAtomic'

export const EMBEDDINGS_FOLDER = 'embeddings'

/** What the .json beside the points holds. */
const StoredEmbedding = Embedding.omit({ points: true, explainedVariance: true, cached: true }).extend({
  explainedVariance: z.array(z.number()).nullable(),
})

/** The method checked and its settings resolved: what names the stored file. */
interface Plan {
  projection: Projection
  params: ProjectionParams
  /** <codesDir>/embeddings/<method>-<key> (add .npy / .json). */
  base: string
}

async function plan(codesDir: string, method: string, given: ProjectionParams, dims: number): Promise<Plan> {
  const projection = projectionNamed(method)
  const { maxDims, label } = projection.info
  if (!Number.isInteger(dims) || dims < 1 || dims > maxDims) throw new ConvscopeError('BAD_REQUEST', `${label} makes 1 to ${maxDims} dimensions, not ${dims}`)
  const params = resolveParams(projection, given)
  const { summary } = await readCodesFolder(codesDir)
  const sorted = Object.fromEntries(Object.entries(params).sort(([a], [b]) => (a < b ? -1 : 1)))
  const key = createHash('sha256').update(JSON.stringify({ method, params: sorted, dims, codes: summary.finishedAt })).digest('hex').slice(0, 16)
  return { projection, params, base: join(codesDir, EMBEDDINGS_FOLDER, `${method}-${key}`) }
}

async function readStored(codesDir: string, base: string): Promise<Embedding | null> {
  let text: string
  try {
    text = await readFile(`${base}.json`, 'utf8')
  } catch {
    return null
  }
  const stored = StoredEmbedding.parse(JSON.parse(text))
  const npy = decodeNpy(await readFile(`${base}.npy`))
  if (npy.dtype !== 'float32' || npy.shape.join(',') !== `${stored.count},${stored.dims}`) {
    throw new ConvscopeError('INTERNAL', `${base}.npy is ${npy.dtype} [${npy.shape.join(', ')}], ${base}.json says float32 [${stored.count}, ${stored.dims}]`)
  }
  return {
    ...stored,
    codesDir,
    explainedVariance: stored.explainedVariance ? Float32Array.from(stored.explainedVariance) : null,
    points: npy.data as Float32Array<ArrayBuffer>, // decodeNpy made it from a file's bytes: an ArrayBuffer
    cached: true,
  }
}

/** A finished embedding of these settings, or null when none was made yet. */
export async function readEmbedding(codesDir: string, method: string, params: ProjectionParams, dims: number): Promise<Embedding | null> {
  const { base } = await plan(codesDir, method, params, dims)
  return readStored(codesDir, base)
}

/**
 * Rows without a NaN moved to the front of `data` (in place: the matrix is ours, read for this job) and their
 * row numbers; `data` unchanged when every row is readable.
 */
export function compactReadableRows(data: Float32Array, count: number, dim: number): { rows: Int32Array; data: Float32Array } {
  const rows: number[] = []
  for (let r = 0; r < count; r++) {
    let ok = true
    for (let d = r * dim, end = d + dim; d < end; d++) {
      if (Number.isNaN(data[d]!)) {
        ok = false
        break
      }
    }
    if (!ok) continue
    if (rows.length !== r) data.copyWithin(rows.length * dim, r * dim, (r + 1) * dim)
    rows.push(r)
  }
  return { rows: Int32Array.from(rows), data: data.subarray(0, rows.length * dim) }
}

/** Points of the readable rows spread back to all `count` rows, NaN elsewhere. */
export function spreadRows(points: Float32Array, rows: Int32Array, count: number, dims: number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(count * dims).fill(NaN)
  rows.forEach((r, i) => out.set(points.subarray(i * dims, (i + 1) * dims), r * dims))
  return out
}

/** The projection of a codes folder: the stored one when present (cached: true), else computed and stored. */
export async function embedCodes(codesDir: string, method: string, params: ProjectionParams, dims: number, ctx: JobContext): Promise<Embedding> {
  const p = await plan(codesDir, method, params, dims)
  const done = await readStored(codesDir, p.base)
  if (done) return done
  const started = performance.now()
  const matrix = await readCodeMatrix(codesDir)
  throwIfCancelled(ctx)
  const readable = compactReadableRows(matrix.data, matrix.count, matrix.dim)
  const count = readable.rows.length
  if (count < 2) throw new ConvscopeError('BAD_REQUEST', `${codesDir} has ${count} readable image${count === 1 ? '' : 's'}; a map needs at least 2`)
  const out = await p.projection.run({ data: readable.data, count, dim: matrix.dim }, dims, p.params, ctx)
  throwIfCancelled(ctx)
  if (out.points.length !== count * dims) throw new ConvscopeError('INTERNAL', `${method} returned ${out.points.length} values for ${count} points of ${dims} dimensions`)
  const points = spreadRows(out.points, readable.rows, matrix.count, dims)
  const embedding: Embedding = {
    codesDir,
    method,
    params: p.params,
    dims,
    count: matrix.count,
    points,
    explainedVariance: out.explainedVariance ? Float32Array.from(out.explainedVariance) : null,
    file: `${p.base}.npy`,
    seconds: (performance.now() - started) / 1000,
    cached: false,
  }
  await mkdir(join(codesDir, EMBEDDINGS_FOLDER), { recursive: true })
  await writeNpy(embedding.file, points, [matrix.count, dims])
  const { points: _points, cached: _cached, explainedVariance, ...rest } = embedding
  const stored: z.infer<typeof StoredEmbedding> = { ...rest, explainedVariance: explainedVariance ? Array.from(explainedVariance) : null }
  await writeFileAtomic(`${p.base}.json`, `${JSON.stringify(stored, null, 2)}\n`)
  return embedding
}
