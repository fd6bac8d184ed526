/**
 * `convscope scan`: the CLI of dataset scans (runScan.ts), in this process or, with --workers W, over W
 * worker processes (workers.ts). The dataset is a folder of images or a file list (imageList.ts).
 */
import { parseArgs } from 'node:util'
import { availableParallelism } from 'node:os'
import { join, resolve } from 'node:path'
import { stat } from 'node:fs/promises'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../shared/api'
import { deviceInUse } from '../engine/executors/device'
import { executorChoice, forwardExecutor, isOnnxRuntime, runtimeThreads } from '../engine/executors/onnxRuntime'
import { listDataset } from '../engine/images/imageList'
import { runScan } from '../engine/scan/runScan'
import { defaultScanLayers } from '../../shared/scanLayers'
import { CHECKPOINT_FILE, MANIFEST_FILE, parseShard, shardIndices, type ScanManifest, type Shard } from '../engine/scan/manifest'
import { formatProfile, sumProfiles, type ScanProfile } from '../engine/scan/profile'
import { MIN_IMAGES_PER_WORKER, WORKER_ENV, WORKERS_DIR, defaultWorkerCount, runScanWorkers, unfinishedWorkerCount, type WorkerMessage } from '../engine/scan/workers'
import { withModel } from './engineSession'
import { progressBar } from './progressBar'
import type { Command } from './index'
import { wholeNumberOption, applyExecutorOptions, EXECUTOR_USAGE, executorOptions } from './options'

const usage = `usage: convscope scan --model DIR|FILE.onnx --data DIR|LIST --out DIR [--layers a,b] [--top K] [--shard i/n] [--workers W|auto] [--batch N] [--no-maxima] [--limit N] [--backend NAME] ${EXECUTOR_USAGE} [--profile] [--json]

For each unit of the chosen layers, the dataset images (and the receptive-field patch at the max) that
activate it most: top-K per unit, plus every image's per-unit maxima (float16 .npy) unless --no-maxima.
  --data       a folder of images (class folders, flat or nested), or a text file listing one image path
               per line (relative to the list's folder, or absolute; "#" comments; optional TAB class name)
  --layers     comma-separated layer names (default: every spatial activation output: ReLU etc., or a conv
               with its activation fused; dense layers may be named)
  --top K      entries kept per unit (default 16)
  --shard i/n  scan only images whose index ≡ i (mod n); merge the n folders with \`convscope merge\`
  --workers W  scan in W processes, one compute thread each, merged into one result at the end (auto: one
               per CPU core; default: auto with at least ${MIN_IMAGES_PER_WORKER} images per worker, 1 on a GPU
               device, or the count of the unfinished scan in --out; 1: this process, onnxruntime on every core)
  --batch N    images per forward pass (default 16)
  --limit N    list at most N images of the folder (default 1000000)
  --profile    say where the time went (decoding, waiting for images, forward, top-K, maxima writes,
               checkpoints); with workers, summed over them (process-seconds)
  --json       print the result's summary (and --profile's numbers) as JSON on stdout
A killed scan resumes from its last checkpoint (every 30 s; env CONVSCOPE_CHECKPOINT_MS) when run again
with the same arguments.`

export const scanCommand: Command = {
  summary: 'top-K dataset patches per unit of chosen layers (resumable, shardable, multi-process)',
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        model: { type: 'string' },
        data: { type: 'string' },
        out: { type: 'string' },
        layers: { type: 'string' },
        top: { type: 'string' },
        shard: { type: 'string' },
        workers: { type: 'string' },
        batch: { type: 'string' },
        'no-maxima': { type: 'boolean', default: false },
        limit: { type: 'string' },
        backend: { type: 'string' },
        ...executorOptions,
        profile: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    })
    applyExecutorOptions(values)
    if (!values.model || !values.data || !values.out) {
      console.error(usage)
      return 2
    }
    const k = wholeNumberOption(values.top, '--top') ?? 16
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
    const folder = await listDataset(resolve(values.data), limit)
    if (folder.truncated) console.error(`convscope scan: warning: only the first ${limit} images are scanned (--limit)`)
    const out = resolve(values.out)
    const exists = (name: string) => stat(join(out, name)).then(() => true, () => false)
    const finished = await exists(MANIFEST_FILE)
    const worker = process.env[WORKER_ENV] === '1' && typeof process.send === 'function'
    const workers = explicitWorkers ?? (worker ? 1 : await defaultWorkers(out, finished, shardIndices(folder.images.length, shard ?? { index: 0, count: 1 }).length))
    const profiles: ScanProfile[] = []

    // Made at the first report, so that its images/s leave out model loading and starting workers.
    let bar = null as ReturnType<typeof progressBar> | null
    let skipped = 0
    const onProgress = (p: { done: number; total: number; skipped: number }) => {
      bar ??= progressBar(process.stderr)
      if (p.skipped > skipped) process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}skipped ${p.skipped} unreadable file(s) so far\n`)
      skipped = p.skipped
      bar.update(p.done, p.total)
    }
    const abort = new AbortController()
    const onSignal = () => abort.abort()
    const signals = ['SIGINT', 'SIGTERM'] as const
    for (const s of signals) process.once(s, onSignal)
    // A worker whose parent went away (its IPC channel closed) checkpoints and stops.
    if (worker) process.once('disconnect', onSignal)
    let manifest: ScanManifest
    try {
      if (workers > 1 && !finished) {
        // A finished result is checked and reused by runScan below, in this process.
        if (await exists(CHECKPOINT_FILE)) {
          throw new ConvscopeError('BAD_REQUEST', `${out} holds an unfinished scan made in one process; run it again with --workers 1 (or without --workers) to resume it, or choose another --out folder`)
        }
        const forward = ['--model', resolve(values.model), '--data', resolve(values.data), '--top', String(k), '--batch', String(batchSize), '--limit', String(limit)]
        if (values.layers) forward.push('--layers', values.layers)
        if (values.backend) forward.push('--backend', values.backend)
        if (values['no-maxima']) forward.push('--no-maxima')
        manifest = await runScanWorkers({
          workers,
          args: forward,
          out,
          shard,
          signal: abort.signal,
          onStarted: ({ backend, layers, executor }) =>
            console.error(
              `convscope scan: ${folder.images.length} images, layers ${layers.join(', ')}, top ${k}${shard ? `, shard ${shard.index}/${shard.count}` : ''}, ${workers} workers on backend ${backend}${executor ? ` (${executor}, one thread each)` : ''}`,
            ),
          onProgress,
          onProfile: (w, p) => (profiles[w] = p),
        })
      } else {
        if (!finished) {
          const others = await unfinishedWorkerCount(out)
          if (others !== null) throw new ConvscopeError('BAD_REQUEST', `${out} holds an unfinished scan with --workers ${others} (in ${join(out, WORKERS_DIR)}); run it again with --workers ${others} (or without --workers) to resume it, or choose another --out folder`)
        }
        manifest = await withModel(values.model, { backend: values.backend, quiet: worker }, async (model) => {
          const layers = values.layers ? values.layers.split(',').map((s) => s.trim()).filter(Boolean) : defaultScanLayers(model.info)
          if (layers.length === 0) throw new ConvscopeError('BAD_REQUEST', 'the model has no spatial conv/pool layer after the first; name layers with --layers')
          const executor = forwardExecutor(model)
          if (worker) send({ kind: 'scan-started', backend: tf.getBackend(), layers, executor })
          else {
            const threads = isOnnxRuntime(executor) ? `, ${runtimeThreads()} thread(s)` : ''
            console.error(`convscope scan: ${folder.images.length} images, layers ${layers.join(', ')}, top ${k}${shard ? `, shard ${shard.index}/${shard.count}` : ''}, 1 process on ${executor}${threads}`)
          }
          const result = await runScan({
            model,
            images: folder.images.map((i) => i.path),
            classNames: folder.images.map((i) => i.className),
            root: folder.root,
            layers,
            k,
            batchSize,
            keepMaxima: !values['no-maxima'],
            out,
            shard,
            signal: abort.signal,
            onProgress: worker ? (p) => send({ kind: 'scan-progress', done: p.done, total: p.total, skipped: p.skipped }) : onProgress,
            onProfile: (p) => (worker ? send({ kind: 'scan-profile', profile: p }) : profiles.push(p)),
          })
          if (worker) {
            // Also when the result was there already (runScan then reports nothing): the parent's bar waits for every worker.
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
    skipped = manifest.skipped.length
    const ran = profiles.filter(Boolean)
    const profile = values.profile && ran.length ? { processes: ran.length, total: sumProfiles(ran), perProcess: ran } : null
    if (values.json) {
      const { timing } = manifest
      console.log(JSON.stringify({ out, images: manifest.dataset.count, layers: manifest.layers.map((l) => l.name), k: manifest.k, shard: manifest.shard, executor: manifest.executor, workers, seconds: timing.seconds, imagesPerSecond: timing.imagesPerSecond, resumed: timing.resumed, skipped: manifest.skipped, ...(values.profile ? { profile } : {}) }, null, 1))
      return 0
    }
    console.log(`wrote ${out}: ${manifest.layers.length} layer(s), top ${manifest.k}, ${manifest.timing.seconds.toFixed(1)} s${manifest.timing.resumed ? ' (resumed)' : ''}`)
    if (skipped) {
      console.log(`skipped ${skipped} file(s):`)
      for (const s of manifest.skipped.slice(0, 20)) console.log(`  ${s.path}: ${s.reason}`)
      if (skipped > 20) console.log(`  … and ${skipped - 20} more (manifest.json lists them all)`)
    }
    if (values.profile) {
      if (!profile) console.log('profile: nothing was scanned in this run (the result was there already)')
      else for (const line of formatProfile(profile.total, profile.processes > 1 ? `profile, summed over ${profile.processes} worker processes (process-seconds)` : 'profile')) console.log(line)
    }
    return 0
  },
}

/**
 * The worker count without --workers: that of the unfinished scan in `out` (a default must resume it, not refuse
 * it), else defaultWorkerCount of the images this command scans.
 */
export async function defaultWorkers(out: string, finished: boolean, images: number): Promise<number> {
  if (finished) return 1 // reused as it is, in this process
  const earlier = await unfinishedWorkerCount(out)
  if (earlier !== null) return earlier
  if (await stat(join(out, CHECKPOINT_FILE)).then(() => true, () => false)) return 1
  // One accelerator is driven by one process (each worker would hold its own copy of the model on it).
  if (executorChoice() !== 'tfjs' && deviceInUse().device !== 'cpu') return 1
  return defaultWorkerCount(images)
}

/** Report to the parent of a worker (workers.ts); a parent gone is not an error here (the scan stops on 'disconnect'). */
export function send(message: WorkerMessage): void {
  if (process.connected) process.send!(message, undefined, undefined, () => {})
}
