/**
 * getNeighbours (issue 13, item 2; the lecture's figure): an image's k nearest in code space (cosine or L2) beside
 * its k nearest in pixel space (Euclidean distance of the 32 × 32 thumbnails). Exact: every row is compared
 * (engine/embeddings/knn.ts, products on onnxruntime). An image of the folder uses its own row and is left out of its
 * neighbours; any other image gets its code computed now (codes/imageCode.ts) with the folder's model.
 * The codes and thumbnails of one folder stay in memory between calls (re-read when the folder changes), so a
 * query over 100 000 codes costs one pass over them, not a 1.6 GB read.
 */
import { stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { ConvscopeError, type Metric, type Neighbour, type ParsedParams, type Result } from '../../../../shared/api'
import { readCodeMatrix, readCodesFolder, readPixelMatrix, type CodesFolder } from '../../codes/codesFolder'
import { imageCode } from '../../codes/imageCode'
import { knnIndex, searchIndexAsync, type KnnIndex } from '../../embeddings/knn'
import type { LoadedModel } from '../../model'
import { CODES_FILE, MANIFEST_FILE } from '../../scan/manifest'

interface Resident {
  folder: CodesFolder
  rowOfPath: Map<string, number>
  codes: KnnIndex
  pixels: KnnIndex
}

// One folder per engine process: its matrices are the memory (1.6 GB for 100 000 codes of 4 096 floats).
let resident: { dir: string; stamp: string; loaded: Promise<Resident> } | null = null

/** What changes when a codes folder is made again: the manifest's and the codes file's times and sizes. */
async function folderStamp(dir: string): Promise<string> {
  const [m, c] = await Promise.all([stat(join(dir, MANIFEST_FILE)), stat(join(dir, CODES_FILE))]).catch(() => [null, null])
  return m && c ? `${m.mtimeMs}:${m.size}:${c.mtimeMs}:${c.size}` : 'missing'
}

async function load(dir: string): Promise<Resident> {
  const folder = await readCodesFolder(dir)
  const codes = await readCodeMatrix(dir)
  const pixels = await readPixelMatrix(dir)
  return {
    folder,
    rowOfPath: new Map(folder.images.map((img) => [img.path, img.index])),
    codes: knnIndex(codes.data, codes.count, codes.dim),
    pixels: knnIndex(pixels.data, pixels.count, pixels.dim),
  }
}

/** The folder's codes and thumbnails, from memory when they are still current. */
export async function residentCodes(codesDir: string): Promise<Resident> {
  const dir = resolve(codesDir)
  const stamp = await folderStamp(dir)
  if (resident?.dir === dir && resident.stamp === stamp) return resident.loaded
  const loaded = load(dir)
  resident = { dir, stamp, loaded }
  loaded.catch(() => {
    if (resident?.loaded === loaded) resident = null
  })
  return loaded
}

/** The query's code and thumbnail: its row, or computed with the folder's model. */
async function queryOf(r: Resident, codesDir: string, image: string, model: (id: string) => Promise<LoadedModel>) {
  const row = r.rowOfPath.get(image)
  if (row !== undefined) {
    const info = r.folder.images[row]!
    if (!info.ok) throw new ConvscopeError('BAD_REQUEST', `${image} could not be read when the codes were made, so it has no code`)
    const code = new Float32Array(r.codes.dim)
    const codeRows = r.codes.rows as Float32Array // readCodeMatrix gives float32
    code.set(codeRows.subarray(row * r.codes.dim, (row + 1) * r.codes.dim))
    const pixels = Float32Array.from((r.pixels.rows as Uint8Array).subarray(row * r.pixels.dim, (row + 1) * r.pixels.dim))
    return { row, code, pixels }
  }
  const loaded = await model(r.folder.modelId).catch((e: unknown) => {
    const why = e instanceof Error ? e.message : String(e)
    throw new ConvscopeError('BAD_REQUEST', `${image} is not in ${codesDir}; its code needs the folder's model (${r.folder.summary.modelId}): ${why}`)
  })
  const computed = await imageCode(loaded, codesDir, image)
  return { row: null, code: computed.code, pixels: Float32Array.from(computed.pixels) }
}

function neighboursOf(r: Resident, indices: Int32Array, distances: Float32Array): Neighbour[] {
  const out: Neighbour[] = []
  indices.forEach((index, i) => {
    if (index < 0) return
    const img = r.folder.images[index]!
    out.push({ index, path: img.path, className: img.className, distance: distances[i]! })
  })
  return out
}

/** k nearest in code space (metric) and in pixel space (L2) of one image. */
export async function findNeighbours(codesDir: string, image: string, k: number, metric: Metric, model: (id: string) => Promise<LoadedModel>): Promise<Result<'getNeighbours'>> {
  const started = performance.now()
  const dir = resolve(codesDir)
  const r = await residentCodes(dir)
  const path = resolve(image)
  const q = await queryOf(r, dir, path, model)
  const exclude = Int32Array.of(q.row ?? -1)
  const code = await searchIndexAsync(r.codes, q.code, 1, k, metric, { exclude })
  const pixel = await searchIndexAsync(r.pixels, q.pixels, 1, k, 'l2', { exclude })
  return {
    codesDir: dir,
    image: path,
    index: q.row,
    metric,
    code: neighboursOf(r, code.indices, code.distances),
    pixel: neighboursOf(r, pixel.indices, pixel.distances),
    milliseconds: performance.now() - started,
  }
}

/** `model(id)`: the engine's opened model of that identity (a query image outside the folder needs its code computed). */
export async function getNeighbours(p: ParsedParams<'getNeighbours'>, model: (id: string) => Promise<LoadedModel>): Promise<Result<'getNeighbours'>> {
  return findNeighbours(p.codesDir, p.image, p.k, p.metric, model)
}
