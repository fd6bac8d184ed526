/**
 * A dataset scan (DESIGN.md, Scans; issue 4): stream images → decode + preprocess (the next batch is
 * decoded while the current one runs) → one forward pass to every layer → per-channel max and argmax
 * (spatialMax.ts) → per-unit top-K (topK.ts) and, optionally, the per-image × per-unit maxima.
 *
 * Checkpoints (every `checkpointMs`, default env CONVSCOPE_CHECKPOINT_MS or 30 s, and at the end) hold the
 * whole state in one file written atomically; maxima rows go straight into a partial file laid out as the
 * final .npy (header first: the row count is known; row r at its offset), fsynced before each checkpoint and
 * renamed into place at the end, so memory holds one batch of rows, whatever the dataset's size. A scan
 * killed at any moment and started again with the same arguments resumes from its last
 * checkpoint and ends with exactly the result of an uninterrupted run. Result format: manifest.ts.
 */
import { open, readFile, readdir, rename, rm, mkdir, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type LayerInfo, type ModelInfo } from '../../../shared/api'
import type { LoadedModel } from '../model'
import { readModelInput } from '../images/readImage'
import { toInputTensor, type ModelInput } from '../images/preprocess'
import { writeFileAtomic } from '../store/catalog'
import { float32ToFloat16Bits, npyHeader, writeNpy } from '../store/npy'
import { emptyTopK, offerBatch, type TopK } from './topK'
import { spatialMaxima, type SpatialMax } from './spatialMax'
import {
  CHECKPOINT_FILE,
  MANIFEST_FILE,
  SCAN_FORMAT,
  checkShard,
  datasetIdentity,
  layerFileStem,
  maximaFile,
  maximaPartialFile,
  readManifest,
  relativeImagePath,
  shardIndices,
  topkFiles,
  type ScanLayer,
  type ScanManifest,
  type Shard,
  type SkippedImage,
} from './manifest'

export interface ScanProgress {
  /** Images of this shard done (scanned or skipped). */
  done: number
  total: number
  skipped: number
  /** The skipped images so far (the scan's own list: read, do not keep or change). */
  skippedFiles?: readonly SkippedImage[]
}

export interface ScanOptions {
  model: LoadedModel
  /** Absolute paths, in a deterministic order (an image's index is its position here). */
  images: string[]
  /** Class name per image (e.g. from listImageFolder), same order; default none. */
  classNames?: (string | null)[]
  /** Folder the manifest's relative paths start from; default the deepest folder holding every image. */
  root?: string
  layers: string[]
  k?: number
  batchSize?: number
  keepMaxima?: boolean
  out: string
  shard?: Shard
  /** Checkpoint interval; default env CONVSCOPE_CHECKPOINT_MS, else 30 000. */
  checkpointMs?: number
  onProgress?: (p: ScanProgress) => void
  signal?: AbortSignal
}

/** The layers a scan takes by default: every spatial conv / depthwise / pool layer except the first one. */
export function defaultScanLayers(info: ModelInfo): string[] {
  const candidates = info.layers.filter((l) => l.spatial && (l.kind === 'conv' || l.kind === 'depthwise' || l.kind === 'pool'))
  return candidates.slice(1).map((l) => l.name)
}

function commonRoot(paths: readonly string[]): string {
  if (paths.length === 0) return '/'
  let parts = paths[0]!.split('/').slice(0, -1)
  for (const p of paths) {
    const q = p.split('/').slice(0, -1)
    let i = 0
    while (i < parts.length && i < q.length && parts[i] === q[i]) i++
    parts = parts.slice(0, i)
  }
  return parts.join('/') || '/'
}

function describeLayer(info: ModelInfo, name: string): ScanLayer {
  const layer: LayerInfo | undefined = info.layers.find((l) => l.name === name)
  if (!layer) throw new ConvscopeError('BAD_REQUEST', `model ${info.name} has no layer "${name}"`)
  const shape = layer.outputShape
  let height = 1
  let width = 1
  let units: number | null
  if (shape.length === 3) {
    ;[height, width, units] = shape as [number, number, number | null]
  } else if (shape.length === 1) {
    units = shape[0]!
  } else {
    throw new ConvscopeError('BAD_REQUEST', `layer ${name} has output shape [${shape.join(', ')}]; a scan needs [h, w, c] or [units]`)
  }
  if (units == null || height == null || width == null) {
    throw new ConvscopeError('BAD_REQUEST', `layer ${name} has output shape [${shape.join(', ')}] with unknown sizes; scans need a model with a fixed input size`)
  }
  return { name, file: layerFileStem(name), units, height, width, receptiveField: layer.receptiveField }
}

/** What a result or checkpoint must agree on to be resumed or reused. */
interface ScanKey {
  format: number
  modelId: string
  datasetId: string
  layers: string[]
  k: number
  keepMaxima: boolean
  shard: Shard
}

function keyDifference(a: ScanKey, b: ScanKey): string | null {
  if (a.format !== b.format) return `format ${b.format}, not ${a.format}`
  if (a.modelId !== b.modelId) return `another model (${b.modelId})`
  if (a.datasetId !== b.datasetId) return 'another dataset (image paths, sizes or dates differ)'
  if (a.layers.join('\n') !== b.layers.join('\n')) return `other layers (${b.layers.join(', ')})`
  if (a.k !== b.k) return `top ${b.k}, not ${a.k}`
  if (a.keepMaxima !== b.keepMaxima) return b.keepMaxima ? 'maxima kept' : 'no maxima'
  if (a.shard.index !== b.shard.index || a.shard.count !== b.shard.count) return `shard ${b.shard.index}/${b.shard.count}`
  return null
}

interface CheckpointState {
  key: ScanKey
  /** Images of the shard done, in shard order. */
  position: number
  skipped: SkippedImage[]
  /** [width, height] per shard image done, null for skipped ones. */
  sizes: ([number, number] | null)[]
  startedAt: string
  elapsedSeconds: number
}

const MAGIC = Buffer.from('CSCK')

function encodeCheckpoint(state: CheckpointState, tops: TopK[]): Buffer {
  const json = Buffer.from(JSON.stringify(state))
  const head = Buffer.alloc(8)
  MAGIC.copy(head, 0)
  head.writeUInt32LE(json.length, 4)
  const parts: Buffer[] = [head, json]
  for (const t of tops) {
    parts.push(Buffer.from(t.values.buffer, t.values.byteOffset, t.values.byteLength))
    parts.push(Buffer.from(t.images.buffer, t.images.byteOffset, t.images.byteLength))
    parts.push(Buffer.from(t.yx.buffer, t.yx.byteOffset, t.yx.byteLength))
  }
  return Buffer.concat(parts)
}

/** The checkpoint's JSON state and where its arrays start (they are read by restoreTops, after the key is checked). */
function readCheckpointState(buf: Buffer): { state: CheckpointState; offset: number } {
  if (buf.length < 8 || !buf.subarray(0, 4).equals(MAGIC)) throw new ConvscopeError('BAD_REQUEST', 'the scan checkpoint is damaged')
  const len = buf.readUInt32LE(4)
  return { state: JSON.parse(buf.subarray(8, 8 + len).toString('utf8')) as CheckpointState, offset: 8 + len }
}

function restoreTops(buf: Buffer, offset: number, tops: TopK[]): void {
  let off = offset
  for (const t of tops) {
    for (const target of [t.values, t.images, t.yx]) {
      const bytes = target.byteLength
      if (off + bytes > buf.length) throw new ConvscopeError('BAD_REQUEST', 'the scan checkpoint is truncated')
      new Uint8Array(target.buffer, target.byteOffset, bytes).set(buf.subarray(off, off + bytes))
      off += bytes
    }
  }
}

interface Decoded {
  index: number
  input: ModelInput | null
  size: [number, number] | null
  error: string | null
}

async function decodeBatch(paths: readonly string[], indices: readonly number[], model: LoadedModel): Promise<Decoded[]> {
  return Promise.all(
    indices.map(async (index): Promise<Decoded> => {
      try {
        const { input, width, height } = await readModelInput(paths[index]!, model.info.preprocessing)
        return { index, input, size: [width, height], error: null }
      } catch (e) {
        // A file gone since the listing (or named by a file list but absent) is "missing"; else the reader's reason.
        return { index, input: null, size: null, error: e instanceof ConvscopeError && e.code === 'NOT_FOUND' ? 'missing' : (e as Error).message }
      }
    }),
  )
}

/** Per-channel max and flat argmax over space for each requested layer (spatialMax.ts: in JS on CPU backends). */
async function layerMaxima(model: LoadedModel, inputs: ModelInput[], layers: ScanLayer[]): Promise<SpatialMax[]> {
  const x = toInputTensor(inputs)
  let outs: tf.Tensor[] = []
  try {
    outs = model.forward(x, layers.map((l) => l.name))
    outs.forEach((t, i) => {
      const [height, width, units] = t.rank === 4 ? t.shape.slice(1) : [1, 1, t.shape[1]]
      const l = layers[i]!
      if (height !== l.height || width !== l.width || units !== l.units) {
        throw new ConvscopeError('INTERNAL', `layer ${l.name} gave [${t.shape.slice(1).join(', ')}], expected [${l.height}, ${l.width}, ${l.units}]`)
      }
    })
    return await spatialMaxima(outs)
  } finally {
    tf.dispose([x, ...outs])
  }
}

const NAN16 = 0x7e00

/** Temp files of atomic writes cut short by a kill (writeFileAtomic: NAME.tmp-PID-TIME; writeNpy: .NAME.PID.TIME.tmp). */
async function removeStaleTempFiles(out: string): Promise<void> {
  const names = await readdir(out).catch(() => [] as string[])
  for (const name of names) {
    if (/\.tmp-\d+-\d+$/.test(name) || /^\..+\.npy\.\d+\.\d+\.tmp$/.test(name)) await rm(join(out, name), { force: true })
  }
}

function checkpointInterval(option: number | undefined): number {
  if (option !== undefined) return option
  const env = Number(process.env.CONVSCOPE_CHECKPOINT_MS)
  return Number.isFinite(env) && env >= 0 && process.env.CONVSCOPE_CHECKPOINT_MS !== '' ? env : 30_000
}

/** Run (or resume, or reuse) a scan; returns the manifest of the finished result in `out`. */
export async function runScan(options: ScanOptions): Promise<ScanManifest> {
  const { model, images, out } = options
  const k = options.k ?? 16
  const batchSize = Math.max(1, options.batchSize ?? 16)
  const keepMaxima = options.keepMaxima ?? true
  const shard = options.shard ?? { index: 0, count: 1 }
  checkShard(shard)
  if (options.layers.length === 0) throw new ConvscopeError('BAD_REQUEST', 'a scan needs at least one layer')
  if (new Set(options.layers).size !== options.layers.length) throw new ConvscopeError('BAD_REQUEST', 'a layer is named twice')
  const layers = options.layers.map((name) => describeLayer(model.info, name))
  const stems = new Set(layers.map((l) => l.file))
  if (stems.size !== layers.length) throw new ConvscopeError('BAD_REQUEST', 'two layers map to the same file name')
  const root = options.root ?? commonRoot(images)
  const interval = checkpointInterval(options.checkpointMs)

  const key: ScanKey = {
    format: SCAN_FORMAT,
    modelId: model.info.id,
    datasetId: await datasetIdentity(root, images),
    layers: layers.map((l) => l.name),
    k,
    keepMaxima,
    shard,
  }
  const keyOf = (m: ScanManifest): ScanKey => ({
    format: m.format,
    modelId: m.model.id,
    datasetId: m.dataset.id,
    layers: m.layers.map((l) => l.name),
    k: m.k,
    keepMaxima: m.keepMaxima,
    shard: m.shard,
  })

  await mkdir(out, { recursive: true })
  const manifestExists = await stat(join(out, MANIFEST_FILE)).then(() => true, () => false)
  if (manifestExists) {
    const done = await readManifest(out)
    const diff = keyDifference(key, keyOf(done))
    if (diff) throw new ConvscopeError('BAD_REQUEST', `${out} holds a scan made with ${diff}; choose another --out folder`)
    return done
  }

  const local = shardIndices(images.length, shard)
  const tops = layers.map((l) => emptyTopK(l.units, k))
  let state: CheckpointState = { key, position: 0, skipped: [], sizes: [], startedAt: new Date().toISOString(), elapsedSeconds: 0 }
  let resumed = false
  const checkpointPath = join(out, CHECKPOINT_FILE)
  const saved = await readFile(checkpointPath).catch(() => null)
  if (saved) {
    const { state: restored, offset } = readCheckpointState(saved)
    const diff = keyDifference(key, restored.key)
    if (diff) throw new ConvscopeError('BAD_REQUEST', `${out} holds an unfinished scan made with ${diff}; refusing to resume into it (choose another --out folder)`)
    restoreTops(saved, offset, tops)
    state = { ...restored, key }
    resumed = true
  }

  // Maxima rows: float16, one row per shard image, in shard order, written into a partial file that is
  // already the final .npy (header, then row r at header + r * rowBytes).
  const partials: FileHandle[] = []
  const rowBytes = layers.map((l) => l.units * 2)
  const headers = layers.map((l) => npyHeader('float16', [local.length, l.units]))
  const rowBuffers = keepMaxima ? layers.map((l) => new Uint16Array(batchSize * l.units)) : []
  const closePartials = async () => {
    for (const fh of partials.splice(0)) await fh.close().catch(() => {})
  }
  try {
    if (keepMaxima) {
      for (const [i, l] of layers.entries()) {
        const path = join(out, maximaPartialFile(l.file))
        const exists = async (p: string) => stat(p).then(() => true, () => false)
        // A run killed while finishing may have renamed the partial file already: take it back.
        if (resumed && !(await exists(path)) && (await exists(join(out, maximaFile(l.file))))) await rename(join(out, maximaFile(l.file)), path)
        const reuse = resumed && (await exists(path))
        const fh = await open(path, reuse ? 'r+' : 'w+')
        partials.push(fh)
        const header = headers[i]!
        if (reuse) {
          const head = Buffer.alloc(header.length)
          await fh.read(head, 0, head.length, 0)
          if (!head.equals(header)) throw new ConvscopeError('BAD_REQUEST', `${path} is not the maxima file this scan writes (made by an older convscope?); delete ${out} or choose another --out folder`)
        } else {
          await fh.write(header, 0, header.length, 0)
        }
        const end = header.length + state.position * rowBytes[i]!
        if ((await fh.stat()).size < end) throw new ConvscopeError('INTERNAL', `${path} is shorter than its checkpoint says`)
        await fh.truncate(end)
      }
    }

    // Time spent by earlier (killed) runs, plus this one.
    const sessionStart = performance.now()
    const baseElapsed = state.elapsedSeconds
    const elapsed = () => baseElapsed + (performance.now() - sessionStart) / 1000
    const writeCheckpoint = async () => {
      for (const fh of partials) await fh.sync()
      const snapshot = { ...state, elapsedSeconds: elapsed() }
      await writeFileAtomic(checkpointPath, encodeCheckpoint(snapshot, tops))
    }

    const report = () => options.onProgress?.({ done: state.position, total: local.length, skipped: state.skipped.length, skippedFiles: state.skipped })
    report()
    let lastCheckpoint = performance.now()
    const batchAt = (pos: number) => local.slice(pos, pos + batchSize)
    let next = state.position < local.length ? decodeBatch(images, batchAt(state.position), model) : null
    while (next) {
      if (options.signal?.aborted) {
        await next.catch(() => {})
        await writeCheckpoint()
        throw new ConvscopeError('CANCELLED', 'scan cancelled; run it again with the same arguments to resume')
      }
      const decoded = await next
      const after = state.position + decoded.length
      // Overlap: decode the next batch (sharp, libuv pool) while this one runs on the backend.
      next = after < local.length ? decodeBatch(images, batchAt(after), model) : null
      const good = decoded.filter((d) => d.input)
      const results = good.length ? await layerMaxima(model, good.map((d) => d.input!), layers) : []
      const goodIndices = good.map((d) => d.index)
      results.forEach((r, li) => offerBatch(tops[li]!, r.max, r.arg, layers[li]!.width, goodIndices))
      if (keepMaxima) {
        for (const [li, l] of layers.entries()) {
          // One buffer per layer for the whole scan: a batch of rows, float16, NaN for skipped images.
          const rows = rowBuffers[li]!.subarray(0, decoded.length * l.units).fill(NAN16)
          const max = results[li]?.max
          let g = 0
          decoded.forEach((d, row) => {
            if (!d.input) return
            for (let u = 0; u < l.units; u++) rows[row * l.units + u] = float32ToFloat16Bits(max![g * l.units + u]!)
            g++
          })
          await partials[li]!.write(new Uint8Array(rows.buffer, 0, rows.byteLength), 0, rows.byteLength, headers[li]!.length + state.position * rowBytes[li]!)
        }
      }
      for (const d of decoded) {
        if (d.error !== null) state.skipped.push({ index: d.index, path: relativeImagePath(root, images[d.index]!), reason: d.error })
        state.sizes.push(d.size)
      }
      state.position = after
      report()
      if (performance.now() - lastCheckpoint >= interval && state.position < local.length) {
        await writeCheckpoint()
        lastCheckpoint = performance.now()
      }
    }
    await writeCheckpoint()
    await closePartials()

    // Final files: arrays first, the manifest last (its presence means complete), then drop the state.
    for (const [li, l] of layers.entries()) {
      const t = tops[li]!
      const f = topkFiles(l.file)
      await writeNpy(join(out, f.values), t.values, [l.units, k])
      await writeNpy(join(out, f.images), t.images, [l.units, k])
      await writeNpy(join(out, f.yx), t.yx, [l.units, k, 2])
      // The partial file is complete (fsynced by the last checkpoint): renaming it is the final write.
      if (keepMaxima) await rename(join(out, maximaPartialFile(l.file)), join(out, maximaFile(l.file)))
    }
    const sizeOf = new Map<number, [number, number] | null>()
    state.sizes.forEach((s, i) => sizeOf.set(local[i]!, s))
    const seconds = elapsed()
    const manifest: ScanManifest = {
      format: SCAN_FORMAT,
      kind: 'convscope-scan',
      status: 'complete',
      model: { id: model.info.id, name: model.info.name, dir: model.info.dir, preprocessing: model.info.preprocessing },
      dataset: { id: key.datasetId, root, count: images.length },
      layers,
      k,
      keepMaxima,
      shard,
      images: images.map((p, i) => {
        const s = sizeOf.get(i) ?? null
        return { path: relativeImagePath(root, p), className: options.classNames?.[i] ?? null, width: s ? s[0] : null, height: s ? s[1] : null }
      }),
      skipped: [...state.skipped].sort((a, b) => a.index - b.index),
      timing: {
        startedAt: state.startedAt,
        finishedAt: new Date().toISOString(),
        seconds,
        imagesPerSecond: seconds > 0 ? local.length / seconds : 0,
        resumed,
      },
    }
    await writeFileAtomic(join(out, MANIFEST_FILE), JSON.stringify(manifest, null, 1) + '\n')
    await closePartials()
    await rm(checkpointPath, { force: true })
    await removeStaleTempFiles(out)
    return manifest
  } finally {
    await closePartials()
  }
}
