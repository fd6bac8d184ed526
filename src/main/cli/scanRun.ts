/**
 * The run of a scan-pipeline command (`convscope scan`, `convscope codes`: both runScan.ts): its flags --shard,
 * --workers, --batch, --limit; one process or worker processes (workers.ts, the parent's side and the worker's);
 * the refusal of an unfinished run made the other way; the progress bar; SIGINT / SIGTERM (and a worker's lost
 * parent) as cancel; the JSON summary's common fields and the list of skipped files. Each command says what it
 * scans (runScan's layers / codes) and how its result reads.
 */
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { stat } from 'node:fs/promises'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ImageFolder } from '../../shared/api'
import { deviceInUse } from '../engine/executors/device'
import { executorChoice, forwardExecutor, isOnnxRuntime, runtimeThreads } from '../engine/executors/onnxRuntime'
import type { LoadedModel } from '../engine/model'
import { runScan, type ScanOptions } from '../engine/scan/runScan'
import { CHECKPOINT_FILE, MANIFEST_FILE, parseShard, shardIndices, type ScanManifest, type Shard } from '../engine/scan/manifest'
import type { ScanProfile } from '../engine/scan/profile'
import { WORKER_ENV, WORKERS_DIR, defaultWorkerCount, runScanWorkers, unfinishedWorkerCount, type WorkerMessage } from '../engine/scan/workers'
import { withModel } from './engineSession'
import { progressBar } from './progressBar'
import { executorOptions, wholeNumberOption } from './options'

/** parseArgs options every scan-pipeline command takes. */
export const scanRunOptions = {
  shard: { type: 'string' },
  workers: { type: 'string' },
  batch: { type: 'string' },
  limit: { type: 'string' },
  backend: { type: 'string' },
  ...executorOptions,
  json: { type: 'boolean', default: false },
} as const

export interface ScanRunFlags {
  /** --workers as given (auto: one per core); undefined: chosen by runScanCommand. */
  workers?: number
  shard?: Shard
  batchSize: number
  limit: number
}

/** Reads scanRunOptions' numbers; a bad value throws a BAD_REQUEST naming the flag. */
export function scanRunFlags(values: { shard?: string; workers?: string; batch?: string; limit?: string }): ScanRunFlags {
  const batchSize = wholeNumberOption(values.batch, '--batch') ?? 16
  const limit = wholeNumberOption(values.limit, '--limit') ?? 1_000_000
  const workersFlag = values.workers?.trim()
  const workers = workersFlag === 'auto' ? availableParallelism() : wholeNumberOption(workersFlag, '--workers')
  let shard: Shard | undefined
  try {
    shard = values.shard ? parseShard(values.shard) : undefined
  } catch (e) {
    throw new ConvscopeError('BAD_REQUEST', (e as Error).message)
  }
  return { workers, shard, batchSize, limit }
}

/** What one process of the command scans, once its model is loaded. */
export interface ScanRunPlan {
  /** The layers a worker reports to its parent. */
  layers: string[]
  /** How the first line names them. */
  label: string
  scan: Pick<ScanOptions, 'layers' | 'codes' | 'k' | 'keepMaxima'>
}

export interface ScanRunOptions {
  /** The command, also the one each worker process runs. */
  command: 'scan' | 'codes'
  /** What the refusals call an unfinished run ('scan', 'codes run'). */
  noun: string
  /** The model as given on the command line. */
  model: string
  backend?: string
  folder: ImageFolder
  out: string
  flags: ScanRunFlags
  /** The command's arguments for a worker, without --out, --shard and --workers. */
  workerArgs: string[]
  plan: (model: LoadedModel) => ScanRunPlan
  /** The first line on stderr: what is scanned (a plan's label, or the workers' layers) and how ("1 process on …"). */
  announce: (label: string, how: string) => void
  /** Say on stderr as they happen that unreadable files were skipped. */
  tellSkips?: boolean
  /** Keep each process's profile (scan/profile.ts). */
  profile?: boolean
}

export interface ScanRunResult {
  manifest: ScanManifest
  workers: number
  /** Per process that scanned in this run, when `profile`; holes where a worker did not. */
  profiles: ScanProfile[]
  /** Seconds the merge of the workers' results took (worker runs with `profile`). */
  mergeSeconds?: number
}

/**
 * Runs the command's scan into `out`: over worker processes when --workers (or the default, defaultWorkers)
 * says more than one and `out` holds no finished result, else in this process — also as a worker child
 * (env WORKER_ENV), which then reports to its parent instead of drawing a bar.
 */
export async function runScanCommand(o: ScanRunOptions): Promise<ScanRunResult> {
  const { folder, out, flags } = o
  const { shard } = flags
  const exists = (name: string) => stat(join(out, name)).then(() => true, () => false)
  const finished = await exists(MANIFEST_FILE)
  const worker = process.env[WORKER_ENV] === '1' && typeof process.send === 'function'
  const workers = flags.workers ?? (worker ? 1 : await defaultWorkers(out, finished, shardIndices(folder.images.length, shard ?? { index: 0, count: 1 }).length))
  const profiles: ScanProfile[] = []
  let mergeSeconds: number | undefined

  // Made at the first report, so that its images/s leave out model loading and starting workers.
  let bar = null as ReturnType<typeof progressBar> | null
  let skipped = 0
  const onProgress = (p: { done: number; total: number; skipped: number }) => {
    bar ??= progressBar(process.stderr)
    if (o.tellSkips && p.skipped > skipped) process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}skipped ${p.skipped} unreadable file(s) so far\n`)
    skipped = p.skipped
    bar.update(p.done, p.total)
  }
  const abort = new AbortController()
  const onSignal = () => abort.abort()
  const signals = ['SIGINT', 'SIGTERM'] as const
  for (const s of signals) process.once(s, onSignal)
  // A worker whose parent went away (its IPC channel closed) checkpoints and stops.
  if (worker) process.once('disconnect', onSignal)
  try {
    if (workers > 1 && !finished) {
      // A finished result is checked and reused by runScan below, in this process.
      if (await exists(CHECKPOINT_FILE)) {
        throw new ConvscopeError('BAD_REQUEST', `${out} holds an unfinished ${o.noun} made in one process; run it again with --workers 1 (or without --workers) to resume it, or choose another --out folder`)
      }
      const manifest = await runScanWorkers({
        workers,
        command: o.command,
        args: o.workerArgs,
        out,
        shard,
        signal: abort.signal,
        onStarted: ({ backend, layers, executor }) => o.announce(layers.join(', '), `${workers} workers on backend ${backend}${executor ? ` (${executor}, one thread each)` : ''}`),
        onProgress,
        onProfile: o.profile ? (w, p) => (profiles[w] = p) : undefined,
        onMerged: (seconds) => (mergeSeconds = seconds),
      })
      return { manifest, workers, profiles, mergeSeconds }
    }
    if (!finished) {
      const others = await unfinishedWorkerCount(out)
      if (others !== null) throw new ConvscopeError('BAD_REQUEST', `${out} holds an unfinished ${o.noun} with --workers ${others} (in ${join(out, WORKERS_DIR)}); run it again with --workers ${others} (or without --workers) to resume it, or choose another --out folder`)
    }
    const manifest = await withModel(o.model, { backend: o.backend, quiet: worker }, async (model) => {
      const plan = o.plan(model)
      const executor = forwardExecutor(model)
      if (worker) send({ kind: 'scan-started', backend: tf.getBackend(), layers: plan.layers, executor })
      else o.announce(plan.label, `1 process on ${executor}${isOnnxRuntime(executor) ? `, ${runtimeThreads()} thread(s)` : ''}`)
      const onProfile = o.profile ? (p: ScanProfile) => (worker ? send({ kind: 'scan-profile', profile: p }) : profiles.push(p)) : undefined
      const result = await runScan({
        model,
        images: folder.images.map((i) => i.path),
        classNames: folder.images.map((i) => i.className),
        root: folder.root,
        ...plan.scan,
        batchSize: flags.batchSize,
        out,
        shard,
        signal: abort.signal,
        onProgress: worker ? (p) => send({ kind: 'scan-progress', done: p.done, total: p.total, skipped: p.skipped }) : onProgress,
        onProfile,
      })
      if (worker) {
        // Also when the result was there already (runScan then reports nothing): the parent's bar waits for every worker.
        const total = shardIndices(result.dataset.count, result.shard).length
        send({ kind: 'scan-progress', done: total, total, skipped: result.skipped.length })
      }
      return result
    })
    return { manifest, workers, profiles }
  } finally {
    bar?.end()
    for (const s of signals) process.off(s, onSignal)
    if (worker) process.off('disconnect', onSignal)
  }
}

/** The JSON summary of a run: the command's own fields after `out` and `images`, then those of every run. */
export function scanRunSummary(out: string, run: ScanRunResult, own: Record<string, unknown>): Record<string, unknown> {
  const { manifest, workers } = run
  const { timing } = manifest
  return { out, images: manifest.dataset.count, ...own, shard: manifest.shard, executor: manifest.executor, workers, seconds: timing.seconds, imagesPerSecond: timing.imagesPerSecond, resumed: timing.resumed, skipped: manifest.skipped }
}

/** The files a run skipped, the first 20 of them, on stdout; `note` follows "skipped N file(s)". */
export function printSkipped(skipped: ScanManifest['skipped'], note = ''): void {
  if (!skipped.length) return
  console.log(`skipped ${skipped.length} file(s)${note}:`)
  for (const s of skipped.slice(0, 20)) console.log(`  ${s.path}: ${s.reason}`)
  if (skipped.length > 20) console.log(`  … and ${skipped.length - 20} more (manifest.json lists them all)`)
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
