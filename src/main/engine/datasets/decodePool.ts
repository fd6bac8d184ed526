/**
 * Decode threads for the dataset loop (issue 11): worker_threads running decodeWorker.ts, so that reading,
 * decoding, resizing and normalising images runs beside the forward pass. An onnxruntime-node run holds its
 * thread's event loop for the whole run, so decoding on the same thread only advances between runs.
 *
 *   answers   the decoder's result (its typed arrays transferred, not copied), or the same Skip reason as
 *             in-thread decoding (the same function runs there); a thread that dies fails its pending calls
 *             with INTERNAL, and the pool is not used again
 *   spread    each call goes to the thread with the fewest pending calls (a thread works on several at once:
 *             file reads and sharp's libuv work overlap its own JS)
 *   lifetime  one shared pool per process (acquireDecodePool / release), closed when unused for IDLE_CLOSE_MS;
 *             a thread is unref'd while it has nothing pending, so it never keeps a process alive
 *   busy      busyMs(): the threads' event-loop active time (a scan's --profile "decode threads busy")
 */
import { availableParallelism } from 'node:os'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { ConvscopeError, type Preprocessing } from '../../../shared/api'
import { decodeCodeImage, type CodeImageInput } from '../codes/codeBatch'
import { locateEntryFile } from '../../entryFile'
import { Skip } from './datasetLoop'
import { decodeImage, type DecodedImage } from './decodeImage'

/** What a decode thread can be asked for: decodeImage, or a codes run's decodeCodeImage (input + thumbnail). */
export interface DecodeResults {
  image: DecodedImage
  codeImage: CodeImageInput
}
export type DecodeKind = keyof DecodeResults

export interface DecodeRequest {
  id: number
  kind: DecodeKind
  path: string
  preprocessing: Preprocessing
}
export type DecodeReply = { id: number; result: object } | { id: number; skip: string } | { id: number; error: string }

/** Most decode threads a pool starts by default, whatever the core count. */
export const MAX_DECODE_THREADS = 8
/**
 * Fewest images a pass must have before its loads go to decode threads. They pay where decoding is a large part
 * of an image's time: the demo scan (5 000 128² images, decode ≈ 1 ms, forward ≈ 1 ms) took 8.5–9.4 s with one
 * against 10–11 s in one thread; MobileNet's 280 (forward ≈ 34 ms) was faster without (16.5 vs 21.9 s best of 3,
 * load 8–11; bench/results/scan-2026-12-05-threads-*.json), where starting the thread is not paid back.
 */
export const MIN_IMAGES_FOR_DECODE_THREADS = 1000
/** A shared pool nobody used for this long is closed. */
export const IDLE_CLOSE_MS = 30_000

/**
 * Decode threads by default: CONVSCOPE_DECODE_THREADS (a whole number; 0 decodes in the calling thread), else in a
 * scan's worker process its share (CONVSCOPE_WORKER_DECODE_THREADS, set by scan/workers.ts), else one per core but
 * the one the forward pass runs on (none on one core), at most MAX_DECODE_THREADS.
 */
export function decodeThreads(env: NodeJS.ProcessEnv = process.env, cores: number = availableParallelism()): number {
  const text = env.CONVSCOPE_DECODE_THREADS
  if (text !== undefined && text.trim() !== '') {
    const n = Number(text)
    if (!Number.isInteger(n) || n < 0) throw new ConvscopeError('BAD_REQUEST', `CONVSCOPE_DECODE_THREADS is "${text}"; use a whole number ≥ 0 (0 decodes in the calling thread)`)
    return n
  }
  const share = Number(env.CONVSCOPE_WORKER_DECODE_THREADS)
  if (env.CONVSCOPE_WORKER_DECODE_THREADS && Number.isInteger(share) && share >= 0) return share
  return Math.min(MAX_DECODE_THREADS, Math.max(0, cores - 1))
}

/** The decode thread's entry and how to start it (entryFile.ts: decodeWorker.ts under tsx, else the built decodeWorker.js). */
function workerOf(moduleUrl: string): Worker {
  const entry = locateEntryFile(moduleUrl, './decodeWorker.ts', 'decodeWorker.js')
  if (!entry.fromSource) return new Worker(entry.path)
  // Node 20 does not pass tsx's loader (--import) on to a worker: register it there, then import the entry.
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'))
  const boot = `import(${api}).then(({ register }) => { register(); return import(${JSON.stringify(pathToFileURL(entry.path).href)}) })`
  return new Worker(boot, { eval: true })
}

interface Pending {
  resolve(value: object | Skip): void
  reject(error: Error): void
}

interface Thread {
  worker: Worker
  pending: Map<number, Pending>
  exited: Promise<void>
}

export class DecodePool {
  private readonly threads: Thread[] = []
  private nextId = 0
  private failure: ConvscopeError | null = null
  private closing = false

  constructor(readonly size: number, moduleUrl: string = import.meta.url) {
    if (!Number.isInteger(size) || size < 1) throw new ConvscopeError('BAD_REQUEST', `a decode pool needs 1 or more threads, got ${size}`)
    for (let i = 0; i < size; i++) this.threads.push(this.start(workerOf(moduleUrl)))
  }

  /** False once a thread died or close() was called: calls are refused. */
  get usable(): boolean {
    return this.failure === null && !this.closing
  }

  /** Decode `path` on the least busy thread: the decoder's result, or a Skip with its reason. */
  decode<K extends DecodeKind>(kind: K, path: string, preprocessing: Preprocessing): Promise<DecodeResults[K] | Skip> {
    if (this.failure) return Promise.reject(this.failure)
    if (this.closing) return Promise.reject(new ConvscopeError('INTERNAL', 'the decode threads were closed'))
    const thread = this.threads.reduce((a, b) => (b.pending.size < a.pending.size ? b : a))
    const id = this.nextId++
    return new Promise<object | Skip>((resolve, reject) => {
      if (thread.pending.size === 0) thread.worker.ref() // a call in flight keeps the process alive until it answers
      thread.pending.set(id, { resolve, reject })
      thread.worker.postMessage({ id, kind, path, preprocessing } satisfies DecodeRequest)
    }) as Promise<DecodeResults[K] | Skip>
  }

  /** Milliseconds the threads' event loops were active since they started, summed. */
  busyMs(): number {
    return this.threads.reduce((sum, t) => sum + t.worker.performance.eventLoopUtilization().active, 0)
  }

  /** Stop every thread (pending calls fail); resolves once all have exited. */
  async close(): Promise<void> {
    this.closing = true
    await Promise.all(this.threads.map((t) => t.worker.terminate()))
    await Promise.all(this.threads.map((t) => t.exited))
  }

  private start(worker: Worker): Thread {
    const thread: Thread = { worker, pending: new Map(), exited: new Promise((resolve) => worker.once('exit', () => resolve())) }
    worker.unref()
    worker.on('message', (reply: DecodeReply) => {
      const call = thread.pending.get(reply.id)
      if (!call) return
      thread.pending.delete(reply.id)
      if (thread.pending.size === 0) worker.unref()
      if ('result' in reply) call.resolve(reply.result)
      else if ('skip' in reply) call.resolve(new Skip(reply.skip))
      else call.reject(new ConvscopeError('INTERNAL', `a decode thread failed: ${reply.error}`))
    })
    const fail = (why: string) => {
      if (!this.closing) this.failure ??= new ConvscopeError('INTERNAL', `a decode thread stopped: ${why}`)
      const error = this.failure ?? new ConvscopeError('INTERNAL', 'the decode threads were closed')
      for (const call of thread.pending.values()) call.reject(error)
      thread.pending.clear()
    }
    worker.on('error', (e) => fail(e.stack ?? e.message))
    worker.on('exit', (code) => fail(`it exited with code ${code}`))
    return thread
  }
}

/** The process's shared pool and who uses which pool (an old one lives until its last user releases it). */
let shared: DecodePool | null = null
const uses = new Map<DecodePool, { users: number; idle: NodeJS.Timeout | null }>()

/** The process's shared pool of `threads` threads (a new one when it has another size or is unusable); release it when done. */
export function acquireDecodePool(threads: number): DecodePool {
  if (shared && (shared.size !== threads || !shared.usable)) {
    const old = shared
    shared = null
    if (uses.get(old)!.users === 0) retire(old)
  }
  if (!shared) {
    shared = new DecodePool(threads)
    uses.set(shared, { users: 0, idle: null })
  }
  const use = uses.get(shared)!
  if (use.idle) clearTimeout(use.idle)
  use.idle = null
  use.users++
  return shared
}

/** A caller of acquireDecodePool is done with `pool`: the last user closes it, or (the shared one) starts its idle timer. */
export function releaseDecodePool(pool: DecodePool): void {
  const use = uses.get(pool)
  if (!use || --use.users > 0) return
  if (pool !== shared) return retire(pool)
  use.idle = setTimeout(() => {
    if (shared === pool) shared = null
    retire(pool)
  }, IDLE_CLOSE_MS)
  use.idle.unref()
}

function retire(pool: DecodePool): void {
  const idle = uses.get(pool)?.idle
  if (idle) clearTimeout(idle)
  uses.delete(pool)
  void pool.close()
}

/** Close the shared pool now, and any old one nobody uses (tests; an engine shutting down). */
export async function closeSharedDecodePool(): Promise<void> {
  const idle = [...uses].filter(([pool, use]) => pool === shared || use.users === 0).map(([pool]) => pool)
  shared = null
  for (const pool of idle) retire(pool)
  await Promise.all(idle.map((pool) => pool.close()))
}

/** The loads of one dataset pass: on the shared decode threads, or in this thread (decodeImage.ts, codeBatch.ts). */
export interface ImageDecoders {
  image(path: string, preprocessing: Preprocessing): Promise<DecodedImage | Skip>
  codeImage(path: string, preprocessing: Preprocessing): Promise<CodeImageInput | Skip>
  /** Decode threads in use; 0 when the calls decode in this thread. */
  threads: number
  /** The decode threads' busy milliseconds since this was made (0 in this thread). */
  busyMs(): number
  /** The pass is over (the threads stay for the next pass until IDLE_CLOSE_MS). */
  release(): void
}

/**
 * The decoders of a pass over `images` images: decode threads (decodeThreads()) when there are at least
 * MIN_IMAGES_FOR_DECODE_THREADS images or CONVSCOPE_DECODE_THREADS asks for some, else (or with
 * CONVSCOPE_DECODE_THREADS=0) this thread.
 */
export function imageDecoders(images: number, env: NodeJS.ProcessEnv = process.env): ImageDecoders {
  const threads = decodeThreads(env)
  const asked = (env.CONVSCOPE_DECODE_THREADS ?? '').trim() !== ''
  if (threads === 0 || (images < MIN_IMAGES_FOR_DECODE_THREADS && !asked)) {
    return { image: decodeImage, codeImage: decodeCodeImage, threads: 0, busyMs: () => 0, release: () => {} }
  }
  const pool = acquireDecodePool(threads)
  const busyBefore = pool.busyMs()
  let released = false
  return {
    image: (path, pre) => pool.decode('image', path, pre),
    codeImage: (path, pre) => pool.decode('codeImage', path, pre),
    threads,
    busyMs: () => pool.busyMs() - busyBefore,
    release: () => {
      if (!released) releaseDecodePool(pool)
      released = true
    },
  }
}
