/**
 * `convscope scan --workers W`: a scan spread over W engine processes, so that CPU backends (wasm and cpu
 * run one thread each) use every core.
 *
 * Worker w of W is the CLI itself (`bin/convscope.mjs scan`, or `codes` for a codes run, forked with an IPC channel) scanning shard
 * (i + n·w)/(n·W) of the dataset into `<out>/.workers/<w>-of-<W>/`; with `--shard i/n` those W shards
 * partition shard i/n (without it, i/n is 0/1). Each worker is an ordinary resumable scan (runScan.ts), so a
 * killed run started again resumes every worker from its own checkpoint, and a worker that had finished is
 * reused as it is. When all are done their folders are merged (merge.ts) into `<out>` as shard i/n, exactly
 * the result of one process scanning shard i/n, and removed.
 *
 * Protocol: a worker is told by CONVSCOPE_SCAN_WORKER=1 in its environment to report over IPC instead of
 * drawing a bar: `{ kind: 'scan-started', backend, layers, executor }` once, then `{ kind: 'scan-progress',
 * done, total, skipped }` after every batch and, when it scanned (not when its result was there already),
 * `{ kind: 'scan-profile', profile }` (scan/profile.ts) at the end (scanCommand.ts sends them). Its stdout is dropped, its stderr kept for
 * the error message when it fails. SIGTERM (or the parent going away: the IPC channel closes) makes a
 * worker checkpoint and stop. Each worker runs its math on one thread: tfjs-node / libtensorflow and
 * libvips (sharp) are limited through their environment variables; wasm and cpu are single-threaded.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { existsSync } from 'node:fs'
import { readdir, rm, rmdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ConvscopeError } from '../../../shared/api'
import { packageRoot } from '../../packageRoot'
import { mergeScans } from './merge'
import { checkShard, type ScanManifest, type Shard } from './manifest'
import type { ScanProfile } from './profile'

/** Where the workers' folders live inside the result folder. */
export const WORKERS_DIR = '.workers'
/** Set in a worker's environment: report progress over IPC (scanCommand.ts). */
export const WORKER_ENV = 'CONVSCOPE_SCAN_WORKER'

/** Messages a worker sends to its parent. */
export type WorkerMessage =
  | { kind: 'scan-started'; backend: string; layers: string[]; executor?: string }
  | { kind: 'scan-progress'; done: number; total: number; skipped: number }
  | { kind: 'scan-profile'; profile: ScanProfile }

export interface WorkersProgress {
  /** Images done (scanned or skipped) and to do over all workers; total is 0 until every worker has reported. */
  done: number
  total: number
  skipped: number
}

export interface WorkerScanOptions {
  workers: number
  /** The CLI command each worker runs: 'scan' (default) or 'codes' (cli/codesCommand.ts, the same protocol). */
  command?: 'scan' | 'codes'
  /** The scan's arguments for one worker, without --out, --shard and --workers (e.g. --model M --data D --top 16). */
  args: string[]
  out: string
  /** The part of the dataset this command scans; default 0/1. */
  shard?: Shard
  onStarted?: (info: { backend: string; layers: string[]; executor?: string }) => void
  onProgress?: (p: WorkersProgress) => void
  /** Worker w's profile (scan/profile.ts), when it scanned in this run. */
  onProfile?: (w: number, profile: ScanProfile) => void
  /** Seconds the merge of the workers' results took (for --profile). */
  onMerged?: (seconds: number) => void
  signal?: AbortSignal
}

/**
 * Images a worker must have before `convscope scan` without --workers starts one. Workers cost their start
 * (Node, tsx, the model, an onnxruntime session each) and the merge: 11–21 s more than one process on this
 * shared 2-core machine under load 8–19 (bench/scanParallelism.ts, results/scanParallelism-2026-12-05.json),
 * a few seconds on a quiet one: the demo network scans about a thousand images in that time.
 */
export const MIN_IMAGES_PER_WORKER = 1000

/** Cores a default worker process is given: one for its forward pass, one for its decode thread (datasets/decodePool.ts). */
export const CORES_PER_WORKER = 2

/**
 * The worker count of `convscope scan` without --workers: one process per CORES_PER_WORKER cores, where the
 * shard has MIN_IMAGES_PER_WORKER images per worker; else one process. On 2 cores that is one process, its
 * loads decoded on a thread beside the forward pass: the demo scan (5 000 images) took 8.5–9.4 s that way
 * against 9.8–10.4 s for 2 processes decoding in their own thread, every round (load 2.3–3.3; under load 10–26
 * the rounds scattered both ways: bench/results/scan-2026-12-05-threads-demo*.json), with less memory
 * (330 vs 520 MiB PSS) and start-up (2.1 vs 4.4 s outside the scan). Not measured: more than 2 cores.
 */
export function defaultWorkerCount(images: number, cores: number = availableParallelism()): number {
  return Math.max(1, Math.min(Math.floor(cores / CORES_PER_WORKER), Math.floor(images / MIN_IMAGES_PER_WORKER)))
}

/**
 * Decode threads of each of W workers unless CONVSCOPE_DECODE_THREADS says: the cores a worker has beyond its
 * forward pass's one; with a worker per core (--workers auto) none, decoding in its own thread as before decode
 * threads (2 workers with a decode thread each were measured only under load 13–26, where no setup's rounds agreed).
 */
export function workerDecodeThreads(workers: number, cores: number = availableParallelism()): number {
  return Math.max(0, Math.floor(cores / workers) - 1)
}

/** The shard worker w of W scans when the command scans `shard`: (i + n·w)/(n·W). */
export function workerShard(shard: Shard, w: number, workers: number): Shard {
  return { index: shard.index + shard.count * w, count: shard.count * workers }
}

export const workerDir = (out: string, w: number, workers: number) => join(out, WORKERS_DIR, `${w}-of-${workers}`)

/** The worker count of an unfinished worker scan in `out`, if any (from its `<w>-of-<W>` folder names). */
export async function unfinishedWorkerCount(out: string): Promise<number | null> {
  const names = await readdir(join(out, WORKERS_DIR)).catch(() => [] as string[])
  const counts = new Set(names.map((n) => /^\d+-of-(\d+)$/.exec(n)?.[1]).filter((c): c is string => c !== undefined).map(Number))
  if (counts.size > 1) throw new ConvscopeError('BAD_REQUEST', `${join(out, WORKERS_DIR)} holds worker folders of several worker counts (${[...counts].join(', ')}); delete it to start over`)
  return counts.size ? [...counts][0]! : null
}

/** The CLI entry the workers run (the CLI bundle or the sources through tsx: bin/cliBundle.mjs), so sources run without a build. */
function cliEntry(): string {
  const bin = join(packageRoot(), 'bin', 'convscope.mjs')
  if (!existsSync(bin)) throw new ConvscopeError('UNAVAILABLE', `scan --workers runs ${bin} in each worker, and it is not there (a source checkout is needed)`)
  return bin
}

/** Environment of one of `workers` workers: report over IPC, one compute thread, its decode threads. */
function workerEnv(workers: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    [WORKER_ENV]: '1',
    // libtensorflow (tfjs-node): one thread inside an op, one op at a time.
    TF_NUM_INTRAOP_THREADS: '1',
    TF_NUM_INTEROP_THREADS: '1',
    OMP_NUM_THREADS: '1',
    // libvips (sharp): one thread per image operation.
    VIPS_CONCURRENCY: '1',
    // Its decode threads unless CONVSCOPE_DECODE_THREADS (passed on) says (datasets/decodePool.ts decodeThreads).
    CONVSCOPE_WORKER_DECODE_THREADS: String(workerDecodeThreads(workers)),
  }
}

const STDERR_TAIL = 4000

interface Running {
  w: number
  shard: Shard
  child: ChildProcess
  stderr: string
  progress: { done: number; total: number; skipped: number } | null
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Run the W workers to the end and merge their results into `out`; returns the merged manifest. */
export async function runScanWorkers(options: WorkerScanOptions): Promise<ScanManifest> {
  const { workers, out } = options
  const shard = options.shard ?? { index: 0, count: 1 }
  checkShard(shard)
  if (!Number.isInteger(workers) || workers < 2) throw new ConvscopeError('BAD_REQUEST', `runScanWorkers needs 2 or more workers, got ${workers}`)
  const earlier = await unfinishedWorkerCount(out)
  if (earlier !== null && earlier !== workers) {
    throw new ConvscopeError('BAD_REQUEST', `${out} holds an unfinished scan with --workers ${earlier}; run it again with --workers ${earlier} (or without --workers) to resume it, or delete ${join(out, WORKERS_DIR)} to start over`)
  }
  if (options.signal?.aborted) throw new ConvscopeError('CANCELLED', 'scan cancelled before it started')

  const bin = cliEntry()
  const env = workerEnv(workers)
  let startedReported = false
  const running: Running[] = []
  const report = () => {
    if (running.some((r) => r.progress === null)) return
    const sum = (f: (p: NonNullable<Running['progress']>) => number) => running.reduce((s, r) => s + f(r.progress!), 0)
    options.onProgress?.({ done: sum((p) => p.done), total: sum((p) => p.total), skipped: sum((p) => p.skipped) })
  }
  for (let w = 0; w < workers; w++) {
    const part = workerShard(shard, w, workers)
    const args = [options.command ?? 'scan', ...options.args, '--out', workerDir(out, w, workers), '--shard', `${part.index}/${part.count}`]
    // execArgv []: the worker needs none of this process's flags (tsx is registered by bin/convscope.mjs).
    const child = fork(bin, args, { env, execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
    let settle: (e: { code: number | null; signal: NodeJS.Signals | null }) => void = () => {}
    const r: Running = {
      w,
      shard: part,
      child,
      stderr: '',
      progress: null,
      // 'close', not 'exit': it comes after the last stderr bytes, which the error message shows.
      exit: new Promise((resolve) => {
        settle = resolve
        child.on('close', (code, signal) => resolve({ code, signal }))
      }),
    }
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (d: string) => (r.stderr = (r.stderr + d).slice(-STDERR_TAIL)))
    child.on('message', (m: WorkerMessage) => {
      if (m.kind === 'scan-progress') {
        r.progress = { done: m.done, total: m.total, skipped: m.skipped }
        report()
      } else if (m.kind === 'scan-started' && !startedReported) {
        startedReported = true
        options.onStarted?.({ backend: m.backend, layers: m.layers, executor: m.executor })
      } else if (m.kind === 'scan-profile') {
        options.onProfile?.(w, m.profile)
      }
    })
    // A fork that cannot start at all (e.g. EAGAIN) emits 'error', and then maybe no 'close'.
    child.on('error', (e) => {
      r.stderr += `\ncould not run ${bin}: ${e.message}`
      if (child.pid === undefined) settle({ code: null, signal: null })
    })
    running.push(r)
  }

  let stopping = false
  const stopAll = () => {
    if (stopping) return
    stopping = true
    for (const r of running) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM')
  }
  const onAbort = () => stopAll()
  options.signal?.addEventListener('abort', onAbort)
  const failed: { r: Running; code: number | null; signal: NodeJS.Signals | null }[] = []
  try {
    await Promise.all(
      running.map(async (r) => {
        const { code, signal } = await r.exit
        if (code === 0 && r.child.pid !== undefined) return
        // The first failure stops the others (they checkpoint, so a rerun resumes them).
        if (!stopping) failed.push({ r, code, signal })
        stopAll()
      }),
    )
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
  const failure = failed[0]
  if (failure) {
    const { r, code, signal } = failure
    const how = signal ? `was killed by ${signal}` : code === null ? 'could not start' : `failed (exit code ${code})`
    const tail = r.stderr.trim()
    // Exit code 2 is a usage error (bad option, folder holding another scan): the same for every worker.
    throw new ConvscopeError(code === 2 ? 'BAD_REQUEST' : 'INTERNAL', `worker ${r.w + 1} of ${workers} (shard ${r.shard.index}/${r.shard.count}) ${how}${tail ? `; its last output:\n${tail}` : ''}`)
  }
  // Stopped by the signal (a worker that had already finished keeps its result for the rerun).
  if (running.some((r) => r.child.exitCode !== 0)) throw new ConvscopeError('CANCELLED', 'scan cancelled; run it again with the same arguments to resume')

  const dirs = running.map((r) => workerDir(out, r.w, workers))
  const mergeStart = performance.now()
  const manifest = await mergeScans(dirs, out, { as: shard, timing: 'parallel' })
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
  await rmdir(join(out, WORKERS_DIR)).catch(() => {}) // left if it holds anything else
  options.onMerged?.((performance.now() - mergeStart) / 1000)
  return manifest
}
