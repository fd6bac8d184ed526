/**
 * `convscope codes`: the code of every image of a folder or file list at one layer (issue 13), a codes run of
 * the scan pipeline (scan/runScan.ts with `codes`): resumable, shardable (`--shard`, then `convscope merge`),
 * over worker processes (`--workers`, scan/workers.ts with command 'codes': the same IPC protocol as `scan`).
 */
import { parseArgs } from 'node:util'
import { availableParallelism } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { stat } from 'node:fs/promises'
import * as tf from '@tensorflow/tfjs'
import { CodeDtype, ConvscopeError } from '../../shared/api'
import { defaultCodeLayer, describeCodeLayer } from '../engine/codes/codeLayer'
import { forwardExecutor, isOnnxRuntime, runtimeThreads } from '../engine/executors/onnxRuntime'
import { listDataset } from '../engine/images/imageList'
import { runScan } from '../engine/scan/runScan'
import { CHECKPOINT_FILE, CODES_FILE, MANIFEST_FILE, parseShard, shardIndices, type ScanManifest, type Shard } from '../engine/scan/manifest'
import { WORKER_ENV, WORKERS_DIR, runScanWorkers, unfinishedWorkerCount } from '../engine/scan/workers'
import { withModel } from './engineSession'
import { progressBar } from './progressBar'
import { defaultWorkers, send } from './scanCommand'
import type { Command } from './index'
import { wholeNumberOption, applyExecutorOptions, EXECUTOR_USAGE, executorOptions } from './options'

const usage = `usage: convscope codes MODEL DATA [--layer L] [--dtype float16|float32] [--out DIR] [--shard i/n] [--workers N|auto] [--batch B] [--limit N] [--backend NAME] ${EXECUTOR_USAGE} [--json]

The code of every image at one layer: its output, averaged over space when it is a map (a [units] vector as it
is), written as codes.npy [images, dim] with each image's 32×32 thumbnail (pixels.npy, uint8) and the model's
top-1 class (predicted.npy, int32) — the input of \`convscope neighbours\`, \`embed\` and \`grid\`.
  MODEL        a model folder or .onnx file
  DATA         a folder of images (class folders, flat or nested) or a text file listing one image per line
  --layer L    the code layer (default: the classifier's input, e.g. fc7, or the globally pooled last conv map)
  --dtype      float32 (default) or float16 (half the file and the memory of a kNN query, ~3 significant digits)
  --out DIR    the codes folder (default ./<DATA's name>-codes)
  --shard i/n  only images whose index ≡ i (mod n); merge the n folders with \`convscope merge\`
  --workers N  compute in N processes, merged at the end (auto: one per core; default: as \`convscope scan\`)
  --batch B    images per forward pass (default 16)
  --limit N    list at most N images (default 1000000)
  --json       print the result's summary as JSON on stdout
A killed run resumes from its last checkpoint (every 30 s; env CONVSCOPE_CHECKPOINT_MS) when run again with the
same arguments; unreadable images are skipped (NaN code rows) and listed.`

export const codesCommand: Command = {
  summary: 'the code of every image at one layer (fc7, pooled conv map), for neighbours and maps',
  usage,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        layer: { type: 'string' },
        dtype: { type: 'string' },
        out: { type: 'string' },
        shard: { type: 'string' },
        workers: { type: 'string' },
        batch: { type: 'string' },
        limit: { type: 'string' },
        backend: { type: 'string' },
        ...executorOptions,
        json: { type: 'boolean', default: false },
      },
    })
    applyExecutorOptions(values)
    if (positionals.length !== 2) {
      console.error(usage)
      return 2
    }
    const [modelArg, dataArg] = positionals as [string, string]
    const dtypeParsed = CodeDtype.safeParse(values.dtype ?? 'float32')
    if (!dtypeParsed.success) throw new ConvscopeError('BAD_REQUEST', `--dtype is float16 or float32, got "${values.dtype}"`)
    const dtype = dtypeParsed.data
    const batchSize = wholeNumberOption(values.batch, '--batch') ?? 16
    const limit = wholeNumberOption(values.limit, '--limit') ?? 1_000_000
    const workersFlag = values.workers?.trim()
    const explicitWorkers = workersFlag === 'auto' ? availableParallelism() : wholeNumberOption(workersFlag, '--workers')
    let shard: Shard | undefined
    try {
      shard = values.shard ? parseShard(values.shard) : undefined
    } catch (e) {
      throw new ConvscopeError('BAD_REQUEST', (e as Error).message)
    }
    const folder = await listDataset(resolve(dataArg), limit)
    if (folder.images.length === 0) throw new ConvscopeError('NOT_FOUND', `${dataArg} holds no images`)
    if (folder.truncated) console.error(`convscope codes: warning: only the first ${limit} images are read (--limit)`)
    const out = resolve(values.out ?? `${basename(resolve(dataArg))}-codes`)
    const exists = (name: string) => stat(join(out, name)).then(() => true, () => false)
    const finished = await exists(MANIFEST_FILE)
    const worker = process.env[WORKER_ENV] === '1' && typeof process.send === 'function'
    const workers = explicitWorkers ?? (worker ? 1 : await defaultWorkers(out, finished, shardIndices(folder.images.length, shard ?? { index: 0, count: 1 }).length))

    let bar = null as ReturnType<typeof progressBar> | null
    const onProgress = (p: { done: number; total: number; skipped: number }) => {
      bar ??= progressBar(process.stderr)
      bar.update(p.done, p.total)
    }
    const abort = new AbortController()
    const onSignal = () => abort.abort()
    const signals = ['SIGINT', 'SIGTERM'] as const
    for (const s of signals) process.once(s, onSignal)
    if (worker) process.once('disconnect', onSignal)
    const started = (layer: string, how: string) =>
      console.error(`convscope codes: ${folder.images.length} images, layer ${layer}, ${dtype}${shard ? `, shard ${shard.index}/${shard.count}` : ''}, ${how}`)
    let manifest: ScanManifest
    try {
      if (workers > 1 && !finished) {
        if (await exists(CHECKPOINT_FILE)) {
          throw new ConvscopeError('BAD_REQUEST', `${out} holds an unfinished codes run made in one process; run it again with --workers 1 (or without --workers) to resume it, or choose another --out folder`)
        }
        const forward = [resolve(modelArg), resolve(dataArg), '--dtype', dtype, '--batch', String(batchSize), '--limit', String(limit)]
        if (values.layer) forward.push('--layer', values.layer)
        if (values.backend) forward.push('--backend', values.backend)
        manifest = await runScanWorkers({
          workers,
          command: 'codes',
          args: forward,
          out,
          shard,
          signal: abort.signal,
          onStarted: ({ backend, layers, executor }) => started(layers[0] ?? '?', `${workers} workers on backend ${backend}${executor ? ` (${executor}, one thread each)` : ''}`),
          onProgress,
        })
      } else {
        if (!finished) {
          const others = await unfinishedWorkerCount(out)
          if (others !== null) throw new ConvscopeError('BAD_REQUEST', `${out} holds an unfinished codes run with --workers ${others} (in ${join(out, WORKERS_DIR)}); run it again with --workers ${others} (or without --workers) to resume it, or choose another --out folder`)
        }
        manifest = await withModel(modelArg, { backend: values.backend, quiet: worker }, async (model) => {
          const layer = describeCodeLayer(model, values.layer ?? defaultCodeLayer(model))
          const executor = forwardExecutor(model)
          if (worker) send({ kind: 'scan-started', backend: tf.getBackend(), layers: [layer.name], executor })
          else started(`${layer.name} (${layer.dim}${layer.pooled ? `, averaged over ${layer.height}×${layer.width}` : ''})`, `1 process on ${executor}${isOnnxRuntime(executor) ? `, ${runtimeThreads()} thread(s)` : ''}`)
          const result = await runScan({
            model,
            images: folder.images.map((i) => i.path),
            classNames: folder.images.map((i) => i.className),
            root: folder.root,
            layers: [],
            codes: { layer: layer.name, dtype },
            batchSize,
            out,
            shard,
            signal: abort.signal,
            onProgress: worker ? (p) => send({ kind: 'scan-progress', done: p.done, total: p.total, skipped: p.skipped }) : onProgress,
          })
          if (worker) {
            const total = shardIndices(result.dataset.count, result.shard).length
            send({ kind: 'scan-progress', done: total, total, skipped: result.skipped.length })
          }
          return result
        })
      }
    } finally {
      bar?.end()
      for (const s of signals) process.off(s, onSignal)
      if (worker) process.off('disconnect', onSignal)
    }
    const codes = manifest.codes!
    const { timing } = manifest
    if (values.json) {
      const summary = { out, images: manifest.dataset.count, layer: codes.layer, dim: codes.dim, pooled: codes.pooled, dtype: codes.dtype, shard: manifest.shard, executor: manifest.executor, workers, seconds: timing.seconds, imagesPerSecond: timing.imagesPerSecond, resumed: timing.resumed, skipped: manifest.skipped }
      console.log(JSON.stringify(summary, null, 1))
      return 0
    }
    console.log(`wrote ${join(out, CODES_FILE)}: ${manifest.dataset.count} images × ${codes.dim} (${codes.layer}, ${codes.dtype}), ${timing.seconds.toFixed(1)} s${timing.resumed ? ' (resumed)' : ''}`)
    if (manifest.skipped.length) {
      console.log(`skipped ${manifest.skipped.length} file(s) (NaN rows):`)
      for (const s of manifest.skipped.slice(0, 20)) console.log(`  ${s.path}: ${s.reason}`)
      if (manifest.skipped.length > 20) console.log(`  … and ${manifest.skipped.length - 20} more (manifest.json lists them all)`)
    }
    return 0
  },
}
