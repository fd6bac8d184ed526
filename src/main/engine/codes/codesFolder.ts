/**
 * A codes folder (issue 13): the result folder of a codes run of the scan pipeline (scan/runScan.ts with
 * `codes`; scan/manifest.ts describes every file), so shards, workers, checkpoints, resume and merge are the
 * scan's. Readers of codes (neighbours, projections, grids) use only the functions here.
 *
 *   manifest.json        written last: kind "convscope-scan", shard 0/1, and `codes`:
 *                          { layer, dim, pooled, height, width, dtype, classes, labels }
 *                        plus the scan's model { id, name, dir, preprocessing }, dataset { id, root, count },
 *                        images [{ path (relative to dataset.root), className, width, height }], skipped, timing
 *   codes.npy            float16 | float32 [count, dim]   the layer's output, averaged over its h × w positions
 *                                                       when spatial; NaN rows for skipped images
 *   pixels.npy           uint8 [count, 3072]              each image squashed to 32 × 32 RGB, HWC (codes/codeBatch.ts
 *                                                       thumbnail: whole image, aspect ignored, Lanczos-3); zero rows: skipped
 *   predicted.npy        int32 [count]                   the model's top-1 class (-1: skipped, or no class output)
 *   <stem>.topk.* / <stem>.maxima.npy                    only when the run also scanned top-K layers
 *   .scan-checkpoint.bin, .codes.partial, …              while unfinished only
 *   codes-request.json                                   a workspace job's request (methods/embeddings/codes.ts)
 *   embeddings/, grids/                                  made later by the projections and grids
 */
import { open } from 'node:fs/promises'
import { endianness } from 'node:os'
import { join } from 'node:path'
import { ConvscopeError, type CodeImage, type CodesSummary } from '../../../shared/api'
import { float16BitsToFloat32, readNpyHead, readNpyRows, type NpyDtype } from '../store/npy'
import { CODES_FILE, MANIFEST_FILE, PIXELS_FILE, PREDICTED_FILE, readManifest, type ScanCodes, type ScanManifest } from '../scan/manifest'
import { THUMBNAIL_BYTES } from './codeBatch'

export interface CodesFolder {
  dir: string
  summary: CodesSummary
  /** The model the codes are of (its content identity). */
  modelId: string
  images: CodeImage[]
}

export type CodesManifest = ScanManifest & { codes: ScanCodes }

/** The manifest of a finished, whole (not one shard's) codes folder; a clear error for anything else. */
export async function readCodesManifest(dir: string): Promise<CodesManifest> {
  const m = await readManifest(dir).catch((e: unknown) => {
    if (e instanceof ConvscopeError) throw new ConvscopeError('BAD_REQUEST', `${dir} is not a finished codes folder: ${e.message}`)
    throw e
  })
  if (!m.codes) throw new ConvscopeError('BAD_REQUEST', `${dir} holds a scan without codes (made by convscope scan, not convscope codes)`)
  if (m.shard.count !== 1) {
    throw new ConvscopeError('BAD_REQUEST', `${dir} holds shard ${m.shard.index}/${m.shard.count} of a codes run; merge the shards first (convscope merge DIR... --out DIR)`)
  }
  return m as CodesManifest
}

export function codesSummary(dir: string, m: CodesManifest): CodesSummary {
  return {
    dir,
    status: 'complete',
    modelId: m.model.id,
    dataDir: m.dataset.root,
    layer: m.codes.layer,
    dim: m.codes.dim,
    pooled: m.codes.pooled,
    dtype: m.codes.dtype,
    images: m.dataset.count,
    skipped: m.skipped.map((s) => ({ path: s.path, reason: s.reason })),
    seconds: m.timing.seconds,
    imagesPerSecond: m.timing.imagesPerSecond,
    finishedAt: m.timing.finishedAt,
  }
}

/** Manifest and images of a finished codes folder; a clear error for anything else. */
export async function readCodesFolder(dir: string): Promise<CodesFolder> {
  const m = await readCodesManifest(dir)
  const predicted = await readRows(dir, PREDICTED_FILE, 'int32', m.dataset.count, 1, (bytes) => new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4))
  const skipped = new Set(m.skipped.map((s) => s.index))
  const labels = m.codes.labels
  const images = m.images.map((img, index): CodeImage => {
    const p = predicted[index]!
    return {
      index,
      path: join(m.dataset.root, img.path),
      className: img.className,
      predicted: p >= 0 ? p : null,
      predictedLabel: p >= 0 ? (labels?.[p] ?? null) : null,
      ok: !skipped.has(index),
    }
  })
  return { dir, summary: codesSummary(dir, m), modelId: m.model.id, images }
}

/** Rows read per block while widening float16 (memory: the result plus one block). */
const BLOCK_ROWS = 4096

/**
 * The whole of a row file (`count` rows of `width` values, of `dtype`) into one array made by `make` from its
 * bytes; float16 is widened to float32 block by block.
 */
async function readRows<T>(dir: string, file: string, dtype: NpyDtype, count: number, width: number, make: (bytes: Uint8Array) => T, widen16 = false): Promise<T> {
  if (endianness() !== 'LE') throw new ConvscopeError('UNSUPPORTED_OP', 'codes folders are read on little-endian machines only')
  const path = join(dir, file)
  const fh = await open(path).catch((e: NodeJS.ErrnoException) => {
    throw new ConvscopeError('BAD_REQUEST', `${dir} is not a complete codes folder: ${file} ${e.code === 'ENOENT' ? 'is missing' : `cannot be read (${e.message})`}`)
  })
  try {
    const head = await readNpyHead(fh)
    const shape = width === 1 && file === PREDICTED_FILE ? [count] : [count, width]
    if (head.dtype !== dtype || head.shape.join(',') !== shape.join(',')) {
      throw new ConvscopeError('BAD_REQUEST', `${path} is ${head.dtype} [${head.shape.join(', ')}], expected ${dtype} [${shape.join(', ')}] (as ${MANIFEST_FILE} says)`)
    }
    const size = dtype === 'float32' || dtype === 'int32' ? 4 : dtype === 'float16' ? 2 : 1
    if (!widen16) {
      const bytes = await readNpyRows(fh, head.dataOffset, width * size, 0, count)
      return make(bytes)
    }
    const out = new Float32Array(count * width)
    const block = new Uint8Array(Math.min(count, BLOCK_ROWS) * width * 2)
    for (let r0 = 0; r0 < count; r0 += BLOCK_ROWS) {
      const rows = Math.min(BLOCK_ROWS, count - r0)
      const bytes = await readNpyRows(fh, head.dataOffset, width * 2, r0, rows, block.subarray(0, rows * width * 2))
      const bits = new Uint16Array(bytes.buffer, bytes.byteOffset, rows * width)
      for (let i = 0; i < bits.length; i++) out[r0 * width + i] = float16BitsToFloat32(bits[i]!)
    }
    return make(new Uint8Array(out.buffer))
  } finally {
    await fh.close()
  }
}

/** The codes as float32 [count, dim] row-major (float16 files widened); NaN rows for skipped images. */
export async function readCodeMatrix(dir: string): Promise<{ data: Float32Array; count: number; dim: number }> {
  const m = await readCodesManifest(dir)
  const { count } = m.dataset
  const { dim, dtype } = m.codes
  const data = await readRows(dir, CODES_FILE, dtype, count, dim, (b) => new Float32Array(b.buffer, b.byteOffset, b.length / 4), dtype === 'float16')
  return { data, count, dim }
}

/** The 32×32 RGB thumbnails as uint8 [count, 3072] row-major (HWC); zero rows for skipped images. */
export async function readPixelMatrix(dir: string): Promise<{ data: Uint8Array; count: number; dim: number }> {
  const m = await readCodesManifest(dir)
  const count = m.dataset.count
  const data = await readRows(dir, PIXELS_FILE, 'uint8', count, THUMBNAIL_BYTES, (b) => b)
  return { data, count, dim: THUMBNAIL_BYTES }
}
