/**
 * The result folder of a dataset scan (issue 4), readable from Python with json + numpy.load.
 *
 *   manifest.json               written last, atomically: its presence with status "complete" means done
 *   <stem>.topk.values.npy      float32 [units, K]     the K best maxima per unit, descending
 *   <stem>.topk.images.npy      int32   [units, K]     index into manifest.images (-1: empty slot)
 *   <stem>.topk.yx.npy          int32   [units, K, 2]  (y, x) of the maximum in the layer's map (-1: empty)
 *   <stem>.maxima.npy           float16 [rows, units]  per-image max of every unit (only with keepMaxima);
 *                                                      row r is image shard.index + r * shard.count
 *                                                      (all images for an unsharded or merged scan);
 *                                                      NaN rows for skipped images
 *   codes.npy                   float16 | float32 [rows, dim]  a codes run's (ScanOptions.codes, engine/codes): the
 *                                                      code layer's output averaged over space; NaN rows: skipped
 *   pixels.npy                  uint8   [rows, 3072]   codes run: each image squashed to 32 × 32 RGB (HWC); zero rows: skipped
 *   predicted.npy               int32   [rows]         codes run: the model's top-1 class (-1: skipped, or no class output)
 *   .scan-checkpoint.bin        while running only: the state a killed scan resumes from
 *   .<stem>.maxima.partial      while running only: the final .npy layout (header, then float16 rows at their offsets), renamed into place at the end
 *   .codes.partial, .pixels.partial, .predicted.partial   the same for a codes run's files (scan/rowFiles.ts)
 *
 * `<stem>` is the layer name with characters other than [A-Za-z0-9._-] replaced by "_" (see
 * manifest.layers[].file). Order within a unit is value descending, then image, y, x ascending (topK.ts),
 * so shard results merge to exactly the one-run result.
 *
 * manifest.json (format 1):
 *   format: 1, kind: "convscope-scan", status: "complete"
 *   model: { id, name, dir, preprocessing }  id = content hash of the model files; preprocessing as used
 *   dataset: { id, root, count }           id = sha256 of (relative path, size, mtime) of every image, in order;
 *                                          root = the image folder, or the folder of a file list (imageList.ts)
 *   layers: [{ name, file, units, height, width, receptiveField }]   (may be [] in a codes run)
 *   codes: { layer, dim, pooled, height, width, dtype, classes, labels }   only in a codes run: the code layer
 *                                          and its map's size, classes = the output's class count (null: none,
 *                                          predicted.npy is all -1), labels = the model's labels (or null)
 *   k, keepMaxima, shard: { index, count }   also for a scan made by --workers (its workers' shards merged)
 *   images: [{ path, className, width, height }]  path relative to dataset.root (forward slashes); width and
 *                                                 height of the decoded image, null where not scanned here
 *   skipped: [{ index, path, reason }]
 *   executor: "onnxruntime-cpu" | "tfjs-<backend>"  what ran the forward passes (executors/onnxRuntime.ts);
 *                                          absent in scans made before it was recorded (tfjs)
 *   timing: { startedAt, finishedAt, seconds, imagesPerSecond, resumed }  seconds: scanning time, over killed
 *                                          and resumed runs; merged shards: their sum; --workers: the slowest worker
 */
import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { ConvscopeError, type Preprocessing, type ReceptiveField } from '../../../shared/api'

export const SCAN_FORMAT = 1
export const MANIFEST_FILE = 'manifest.json'
export const CHECKPOINT_FILE = '.scan-checkpoint.bin'

export interface ScanLayer {
  name: string
  file: string
  units: number
  height: number
  width: number
  receptiveField: ReceptiveField | null
}

export interface ScanImage {
  path: string
  className: string | null
  width: number | null
  height: number | null
}

export interface SkippedImage {
  index: number
  path: string
  reason: string
}

/** What a codes run (engine/codes) computes beside, or instead of, the top-K. */
export interface ScanCodes {
  layer: string
  dim: number
  pooled: boolean
  height: number
  width: number
  dtype: 'float16' | 'float32'
  classes: number | null
  labels: string[] | null
}

export interface Shard {
  index: number
  count: number
}

export interface ScanManifest {
  format: number
  kind: 'convscope-scan'
  status: 'complete'
  model: { id: string; name: string; dir: string; preprocessing: Preprocessing }
  dataset: { id: string; root: string; count: number }
  layers: ScanLayer[]
  k: number
  keepMaxima: boolean
  shard: Shard
  images: ScanImage[]
  skipped: SkippedImage[]
  executor?: string
  /** Only in a codes run. */
  codes?: ScanCodes
  timing: { startedAt: string; finishedAt: string; seconds: number; imagesPerSecond: number; resumed: boolean }
}

/** A file-name stem for a layer (graph-model names hold "/"). */
export function layerFileStem(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_')
}

export const topkFiles = (stem: string) => ({
  values: `${stem}.topk.values.npy`,
  images: `${stem}.topk.images.npy`,
  yx: `${stem}.topk.yx.npy`,
})
export const maximaFile = (stem: string) => `${stem}.maxima.npy`
export const maximaPartialFile = (stem: string) => `.${stem}.maxima.partial`
/** A codes run's files (names fixed: one code layer per folder). */
export const CODES_FILE = 'codes.npy'
export const PIXELS_FILE = 'pixels.npy'
export const PREDICTED_FILE = 'predicted.npy'
/** The partial file a row file is written in while running: `.codes.partial` for codes.npy. */
export const partialFileOf = (file: string) => `.${file.replace(/\.npy$/, '')}.partial`

/** Path of an image relative to `root`, with forward slashes. */
export function relativeImagePath(root: string, path: string): string {
  return relative(root, path).split(sep).join('/')
}

/** Identity of a dataset: relative paths, sizes and modification times of its images, in order. */
export async function datasetIdentity(root: string, paths: readonly string[]): Promise<string> {
  const hash = createHash('sha256')
  for (const path of paths) {
    const s = await stat(path).catch(() => null)
    hash.update(`${relativeImagePath(root, path)}\0${s ? s.size : -1}\0${s ? Math.round(s.mtimeMs) : -1}\n`)
  }
  return `sha256:${hash.digest('hex')}`
}

/** The image indices of a shard: i ≡ index (mod count). */
export function shardIndices(total: number, shard: Shard): number[] {
  const out: number[] = []
  for (let i = shard.index; i < total; i += shard.count) out.push(i)
  return out
}

export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim())
  if (!m) throw new ConvscopeError('BAD_REQUEST', `a shard is written i/n (e.g. 0/4), got "${text}"`)
  const shard = { index: Number(m[1]), count: Number(m[2]) }
  checkShard(shard)
  return shard
}

export function checkShard(shard: Shard): void {
  if (!Number.isInteger(shard.count) || shard.count < 1 || !Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count) {
    throw new ConvscopeError('BAD_REQUEST', `shard ${shard.index}/${shard.count} is not one of 0/n … (n-1)/n`)
  }
}

export async function readManifest(dir: string): Promise<ScanManifest> {
  const text = await readFile(join(dir, MANIFEST_FILE), 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new ConvscopeError('BAD_REQUEST', e.code === 'ENOENT' ? `${dir} holds no finished scan (no ${MANIFEST_FILE})` : `${join(dir, MANIFEST_FILE)}: ${e.message}`)
  })
  const manifest = JSON.parse(text) as ScanManifest
  if (manifest.kind !== 'convscope-scan' || manifest.format !== SCAN_FORMAT) {
    throw new ConvscopeError('BAD_REQUEST', `${dir}: not a convscope scan of format ${SCAN_FORMAT}`)
  }
  return manifest
}
