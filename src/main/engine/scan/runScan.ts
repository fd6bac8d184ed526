/**
 * A dataset scan (DESIGN.md, Scans; issue 4): the dataset loop (datasets/datasetLoop.ts: decode ahead,
 * skips, cancel, progress) over the shard's images → one forward pass to every layer → per-channel max and
 * argmax (scanLayer.ts, spatialMax.ts) → per-unit top-K (topK.ts) and, optionally, the per-image × per-unit
 * maxima (rowFiles.ts). A codes run (`codes`, engine/codes) also writes, per image, the code layer's output
 * averaged over space, a 32 × 32 thumbnail and the top-1 class (codes/codeBatch.ts), with or without top-K layers.
 *
 * Checkpoints (checkpoint.ts: at most every `checkpointMs`, on cancel and at the end) let a scan killed at
 * any moment and started again with the same arguments resume from its last checkpoint and end with exactly
 * the result of an uninterrupted run. Result format: manifest.ts; the manifest is written last, so its
 * presence means the result is complete.
 */
import { mkdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ConvscopeError } from '../../../shared/api'
import type { CodeDtype } from '../../../shared/api'
import { DatasetLoop, type DatasetProgress } from '../datasets/datasetLoop'
import type { DecodedImage } from '../datasets/decodeImage'
import { imageDecoders } from '../datasets/decodePool'
import { codesOfBatch, outputClassCount, THUMBNAIL_BYTES } from '../codes/codeBatch'
import { describeCodeLayer, type CodeLayer } from '../codes/codeLayer'
import { forwardExecutor, type ExecutorChoice } from '../executors/onnxRuntime'
import type { LoadedModel } from '../model'
import { writeFileAtomic } from '../store/writeFileAtomic'
import { writeNpy } from '../store/npy'
import { checkpointInterval, keyDifference, keyOfManifest, readCheckpoint, removeStaleTempFiles, writeCheckpoint, type CheckpointState, type ScanKey } from './checkpoint'
import {
  CHECKPOINT_FILE,
  MANIFEST_FILE,
  SCAN_FORMAT,
  checkShard,
  datasetIdentity,
  readManifest,
  relativeImagePath,
  shardIndices,
  topkFiles,
  type ScanCodes,
  type ScanLayer,
  type ScanManifest,
  type Shard,
} from './manifest'
import { RowFiles, rowFileSpecs } from './rowFiles'
import { ProfileCollector, type ScanProfile } from './profile'
import { describeScanLayer, layerMaxima } from './scanLayer'
import { emptyTopK, offerBatch } from './topK'

/** Progress of a scan's shard: images done (scanned or skipped) of the shard's, with rate, ETA and skips. */
export type ScanProgress = DatasetProgress

export interface ScanOptions {
  model: LoadedModel
  /** Absolute paths, in a deterministic order (an image's index is its position here). */
  images: string[]
  /** Class name per image (e.g. from listImageFolder), same order; default none. */
  classNames?: (string | null)[]
  /** Folder the manifest's relative paths start from; default the deepest folder holding every image. */
  root?: string
  /** Layers whose per-unit top-K (and maxima) are kept; may be empty in a codes run. */
  layers: string[]
  /** A codes run: the code of every image at `layer` (engine/codes), stored as `dtype`. */
  codes?: { layer: string; dtype: CodeDtype }
  k?: number
  batchSize?: number
  keepMaxima?: boolean
  out: string
  shard?: Shard
  /** Checkpoint interval; default env CONVSCOPE_CHECKPOINT_MS, else 30 000. */
  checkpointMs?: number
  onProgress?: (p: ScanProgress) => void
  signal?: AbortSignal
  /** What runs the forward passes; default env CONVSCOPE_EXECUTOR, else auto (onnxruntime for ONNX models). */
  executor?: ExecutorChoice
  /** Batches decoding ahead of the forward pass; default the dataset loop's (env CONVSCOPE_LOAD_AHEAD, else LOAD_AHEAD). */
  loadAhead?: number
  /** Where this run's time went (scan/profile.ts), once it has finished (not for a result found finished). */
  onProfile?: (p: ScanProfile) => void
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

function scanLayers(options: ScanOptions): ScanLayer[] {
  if (options.layers.length === 0 && !options.codes) throw new ConvscopeError('BAD_REQUEST', 'a scan needs at least one layer')
  if (new Set(options.layers).size !== options.layers.length) throw new ConvscopeError('BAD_REQUEST', 'a layer is named twice')
  const layers = options.layers.map((name) => describeScanLayer(options.model, name))
  if (new Set(layers.map((l) => l.file)).size !== layers.length) throw new ConvscopeError('BAD_REQUEST', 'two layers map to the same file name')
  return layers
}

/** Run (or resume, or reuse) a scan; returns the manifest of the finished result in `out`. */
export async function runScan(options: ScanOptions): Promise<ScanManifest> {
  const { model, images, out } = options
  const k = options.k ?? 16
  const batchSize = Math.max(1, options.batchSize ?? 16)
  const keepMaxima = options.keepMaxima ?? true
  const shard = options.shard ?? { index: 0, count: 1 }
  checkShard(shard)
  const layers = scanLayers(options)
  const root = options.root ?? commonRoot(images)
  const executor = forwardExecutor(model, options.executor)
  const codeLayer = options.codes ? describeCodeLayer(model, options.codes.layer) : null
  const codes = options.codes && codeLayer ? scanCodes(options, codeLayer, options.codes.dtype) : null
  const key: ScanKey = {
    format: SCAN_FORMAT,
    modelId: model.info.id,
    datasetId: await datasetIdentity(root, images),
    layers: layers.map((l) => l.name),
    k,
    keepMaxima,
    shard,
    executor,
    ...(codes && { codes: { layer: codes.layer, dtype: codes.dtype } }),
  }

  await mkdir(out, { recursive: true })
  if (await stat(join(out, MANIFEST_FILE)).then(() => true, () => false)) {
    const done = await readManifest(out)
    const diff = keyDifference(key, keyOfManifest(done))
    if (diff) throw new ConvscopeError('BAD_REQUEST', `${out} holds a scan made with ${diff}; choose another --out folder`)
    return done
  }

  const local = shardIndices(images.length, shard)
  const tops = layers.map((l) => emptyTopK(l.units, k))
  const checkpointPath = join(out, CHECKPOINT_FILE)
  const restored = await readCheckpoint(checkpointPath, key, tops, out)
  const state: CheckpointState = restored ?? { key, position: 0, skipped: [], sizes: [], startedAt: new Date().toISOString(), elapsedSeconds: 0 }
  const specs = rowFileSpecs(keepMaxima ? layers : [], codes)
  const rowFiles = specs.length ? await RowFiles.open(out, specs, local.length, batchSize, restored !== null, state.position) : null
  const profile = new ProfileCollector()
  // Decoding on threads beside the forward pass where the shard is large enough (datasets/decodePool.ts).
  const decoders = imageDecoders(local.length - state.position)
  try {
    // Time spent by earlier (killed) runs, plus this one.
    const sessionStart = performance.now()
    const elapsed = () => state.elapsedSeconds + (performance.now() - sessionStart) / 1000
    const pathOf = (index: number) => relativeImagePath(root, images[index]!)
    const skippedImages = () => loop.skipped.map((s) => ({ index: s.item, path: pathOf(s.item), reason: s.reason }))
    const loop = new DatasetLoop<number, DecodedImage & { pixels?: Uint8Array }>({
      items: local,
      start: state.position,
      skipped: state.skipped.map((s) => ({ item: s.index, reason: s.reason })),
      batchSize,
      ahead: options.loadAhead,
      // A codes run decodes each file once into the input and the thumbnail (codes/codeBatch.ts).
      load: (index) => (codes ? decoders.codeImage(images[index]!, model.info.preprocessing) : decoders.image(images[index]!, model.info.preprocessing)),
      compute: async ({ start, entries, loaded }) => {
        const inputs = loaded.map((e) => e.loaded.input)
        const results = loaded.length && layers.length ? await profile.time('forward', () => layerMaxima(model, inputs, layers, executor)) : []
        // Its own pass where top-K layers are scanned too (on onnxruntime those come back reduced in its graph).
        const coded = codeLayer && loaded.length ? await profile.time('forward', () => codesOfBatch(model, inputs, codeLayer, executor)) : null
        const goodIndices = loaded.map((e) => e.item)
        await profile.time('topK', () => results.forEach((r, li) => offerBatch(tops[li]!, r.max, r.arg, layers[li]!.width, goodIndices)))
        if (rowFiles) {
          const rows: (Float32Array | Uint8Array | Int32Array)[] = keepMaxima ? results.map((r) => r.max) : []
          if (codes) {
            const pixels = new Uint8Array(loaded.length * THUMBNAIL_BYTES)
            loaded.forEach((e, i) => pixels.set(e.loaded.pixels!, i * THUMBNAIL_BYTES))
            rows.push(coded?.codes ?? new Float32Array(0), pixels, coded?.predicted ?? new Int32Array(0))
          }
          await profile.time('maximaWrites', () => rowFiles.writeRows(start, entries.map((e) => e.loaded !== undefined), rows))
        }
        for (const e of entries) state.sizes.push(e.loaded ? [e.loaded.width, e.loaded.height] : null)
      },
      pathOf,
      signal: options.signal,
      onProgress: options.onProgress,
      reportStart: true,
      cancelMessage: `${codes ? 'codes run' : 'scan'} cancelled; run it again with the same arguments to resume`,
      onCancel: () => saveCheckpoint(),
      checkpoint: { everyMs: checkpointInterval(options.checkpointMs), save: () => saveCheckpoint() },
    })
    const saveCheckpoint = async () => {
      await rowFiles?.sync()
      const snapshot: CheckpointState = {
        ...state,
        position: loop.position,
        skipped: skippedImages(),
        elapsedSeconds: elapsed(),
      }
      await writeCheckpoint(checkpointPath, snapshot, tops)
    }
    await loop.run()
    const decodeThreads = { threads: decoders.threads, busyMs: decoders.busyMs() }
    decoders.release()
    await profile.checkpoint(saveCheckpoint)
    await rowFiles?.close()

    // Final files: arrays first, the manifest last (its presence means complete), then drop the state.
    for (const [li, l] of layers.entries()) {
      const t = tops[li]!
      const f = topkFiles(l.file)
      await writeNpy(join(out, f.values), t.values, [l.units, k])
      await writeNpy(join(out, f.images), t.images, [l.units, k])
      await writeNpy(join(out, f.yx), t.yx, [l.units, k, 2])
    }
    await rowFiles?.finish()
    const seconds = elapsed()
    const manifest = resultManifest(options, { key, root, layers, k, keepMaxima, shard, local, codes }, {
      sizes: state.sizes,
      skipped: skippedImages(),
      startedAt: state.startedAt,
      seconds,
      resumed: restored !== null,
    })
    await writeFileAtomic(join(out, MANIFEST_FILE), JSON.stringify(manifest, null, 1) + '\n')
    await rm(checkpointPath, { force: true })
    await removeStaleTempFiles(out)
    options.onProfile?.(profile.profile(loop.timings, decodeThreads))
    return manifest
  } finally {
    decoders.release()
    await rowFiles?.close()
  }
}

/** The manifest's record of a codes run: the layer and its map, the dtype, the model's classes and labels. */
function scanCodes(options: ScanOptions, layer: CodeLayer, dtype: CodeDtype): ScanCodes {
  const { model } = options
  const classes = outputClassCount(model)
  return { layer: layer.name, dim: layer.dim, pooled: layer.pooled, height: layer.height, width: layer.width, dtype, classes, labels: classes !== null ? model.info.labels : null }
}


/** The manifest of a finished scan (manifest.ts). */
function resultManifest(
  options: ScanOptions,
  scan: { key: ScanKey; root: string; layers: ScanLayer[]; k: number; keepMaxima: boolean; shard: Shard; local: readonly number[]; codes: ScanCodes | null },
  run: { sizes: CheckpointState['sizes']; skipped: CheckpointState['skipped']; startedAt: string; seconds: number; resumed: boolean },
): ScanManifest {
  const { model, images } = options
  const sizeOf = new Map<number, [number, number] | null>()
  run.sizes.forEach((s, i) => sizeOf.set(scan.local[i]!, s))
  return {
    format: SCAN_FORMAT,
    kind: 'convscope-scan',
    status: 'complete',
    model: { id: model.info.id, name: model.info.name, dir: model.info.dir, preprocessing: model.info.preprocessing },
    dataset: { id: scan.key.datasetId, root: scan.root, count: images.length },
    layers: scan.layers,
    k: scan.k,
    keepMaxima: scan.keepMaxima,
    shard: scan.shard,
    images: images.map((p, i) => {
      const s = sizeOf.get(i) ?? null
      return { path: relativeImagePath(scan.root, p), className: options.classNames?.[i] ?? null, width: s ? s[0] : null, height: s ? s[1] : null }
    }),
    skipped: [...run.skipped].sort((a, b) => a.index - b.index),
    executor: scan.key.executor,
    ...(scan.codes && { codes: scan.codes }),
    timing: {
      startedAt: run.startedAt,
      finishedAt: new Date().toISOString(),
      seconds: run.seconds,
      imagesPerSecond: run.seconds > 0 ? scan.local.length / run.seconds : 0,
      resumed: run.resumed,
    },
  }
}
