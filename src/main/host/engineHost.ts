/**
 * The shell's handle on the engine process: starts it, waits for its `ready` announcement, sends requests
 * and cancels, routes responses and progress back to the caller, and notices when the process dies (every
 * pending call is rejected with a clear message and the next request starts a fresh process).
 *
 * The shell holds two of them (engines.ts): the interactive engine and the one for long jobs.
 *
 * How the process is started is injected (`SpawnEngine`): `spawnNodeEngine` (child_process.fork) for served
 * mode and the CLI; src/main/app/utilityEngine.ts (Electron utilityProcess) for the app.
 */
import { fork } from 'node:child_process'
import { z } from 'zod'
import {
  BackendReport,
  ConvscopeError,
  ErrorPayload,
  ProgressEnvelope,
  ResponseEnvelope,
  type CallOptions,
  type MethodName,
  type Params,
  type Progress,
  type Result,
} from '../../shared/api'
import type { EngineOptions } from '../engine/engine'
import { engineArgs } from '../workspace'
import { locateEntryFile, tsxLoader } from '../entryFile'

/** The module to run as the engine process and the Node flags it needs. */
export interface EngineEntry {
  path: string
  execArgv: string[]
}

/** A started engine process, whatever started it. Messages travel by structured clone. */
export interface EngineProcess {
  readonly pid: number | undefined
  send(message: unknown): void
  onMessage(listener: (message: unknown) => void): void
  onExit(listener: (code: number | null, signal: string | null) => void): void
  /** The last few kB the process wrote to stderr, for error messages. */
  recentOutput(): string
  kill(): void
}

/** `name` says which engine process it is ("engine", "jobs engine"): for its log prefix and process title. */
export type SpawnEngine = (entry: EngineEntry, args: string[], name?: string) => EngineProcess

export interface EngineHostOptions {
  engine: EngineOptions
  /** Default: spawnNodeEngine. */
  spawn?: SpawnEngine
  /** Default: locateEngineEntry(). */
  entry?: EngineEntry
  /** How long the engine may take to initialise its backend. Default 120 s (CUDA start-up is slow). */
  readyTimeoutMs?: number
  /** Which engine process this is, in messages and log lines. Default "engine" (engines.ts also starts a "jobs engine"). */
  name?: string
}

/**
 * Where the engine entry is (entryFile.ts's rule): running from source, src/main/engine/worker.ts with tsx's
 * loader; bundled by electron-vite, `engine.js` in out/main/.
 */
export function locateEngineEntry(moduleUrl: string = import.meta.url): EngineEntry {
  const entry = locateEntryFile(moduleUrl, '../engine/worker.ts', 'engine.js')
  return { path: entry.path, execArgv: entry.fromSource ? ['--import', tsxLoader()] : [] }
}

const OUTPUT_TAIL_BYTES = 4096

/** Copy an engine output stream to our stderr, each line prefixed, keeping its tail for error messages. */
export function forwardEngineOutput(stream: NodeJS.ReadableStream | null | undefined, keepTail: (text: string) => void, prefix = '[engine] '): void {
  if (!stream) return
  let partial = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    keepTail(chunk)
    const lines = (partial + chunk).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) process.stderr.write(prefix + line + '\n')
  })
  stream.on('end', () => {
    if (partial) process.stderr.write(prefix + partial + '\n')
  })
}

/** A bounded text buffer of the last bytes an engine wrote. */
export function outputTail(): { add(text: string): void; text(): string } {
  let tail = ''
  return {
    add(text) {
      tail = (tail + text).slice(-OUTPUT_TAIL_BYTES)
    },
    text: () => tail.trim(),
  }
}

/**
 * The engine as a Node child process. `serialization: 'advanced'` makes the IPC channel use structured
 * clone, so Float32Array arrives as Float32Array. Its stdout goes to our stderr: a shell's stdout is for
 * its own one-line announcements (served mode prints the URL there and tests parse it).
 */
export const spawnNodeEngine: SpawnEngine = (entry, args, name = 'engine') => {
  const child = fork(entry.path, args, {
    execArgv: entry.execArgv,
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  const tail = outputTail()
  forwardEngineOutput(child.stdout, () => {}, `[${name}] `)
  forwardEngineOutput(child.stderr, tail.add, `[${name}] `)
  // 'exit' may not follow an 'error' (a failed spawn): report exactly one exit either way.
  const exitListeners: ((code: number | null, signal: string | null) => void)[] = []
  let exited = false
  const exit = (code: number | null, signal: string | null) => {
    if (exited) return
    exited = true
    for (const listener of exitListeners) listener(code, signal)
  }
  child.on('exit', exit)
  child.on('error', (error) => {
    tail.add(`${error.message}\n`)
    if (child.pid === undefined) exit(null, null)
    // Otherwise a send to a dying process failed (EPIPE): 'exit' follows.
  })
  return {
    get pid() {
      return child.pid
    },
    send(message) {
      if (child.connected) child.send(message as object)
    },
    onMessage: (listener) => void child.on('message', listener),
    onExit: (listener) => {
      if (exited) listener(child.exitCode, child.signalCode)
      else exitListeners.push(listener)
    },
    recentOutput: tail.text,
    kill: () => void child.kill(),
  }
}

const Announcement = z.union([
  z.object({ kind: z.literal('ready'), backend: BackendReport, pid: z.number() }),
  z.object({ kind: z.literal('init-failed'), error: ErrorPayload }),
])

interface Pending {
  method: MethodName
  onProgress?: (p: Progress) => void
  settle(error: Error | null, result?: unknown): void
}

/** One engine process's lifetime. */
interface Running {
  process: EngineProcess
  ready: Promise<BackendReport>
  pending: Map<number, Pending>
  /** Set when the process has exited: the reason, for calls that arrive too late. */
  exitReason: string | null
}

function cancelled(): ConvscopeError {
  return new ConvscopeError('CANCELLED', 'Cancelled by the user')
}

export class EngineHost {
  private running: Running | null = null
  private lastBackend: BackendReport | null = null
  private nextId = 0
  private disposed = false
  private readonly spawnEngine: SpawnEngine
  private readonly entry: EngineEntry
  private readonly readyTimeoutMs: number
  /** "engine" or "jobs engine": which process this is, in messages. */
  readonly name: string

  constructor(private readonly options: EngineHostOptions) {
    this.spawnEngine = options.spawn ?? spawnNodeEngine
    this.entry = options.entry ?? locateEngineEntry()
    this.readyTimeoutMs = options.readyTimeoutMs ?? 120_000
    this.name = options.name ?? 'engine'
  }

  /** The backend the engine reported when it last became ready (null before the first start). */
  get backend(): BackendReport | null {
    return this.lastBackend
  }

  /** Process id of the running engine (undefined when none runs). */
  get pid(): number | undefined {
    return this.running?.process.pid
  }

  /** Start the engine process if none runs; resolves with its backend report once it is ready. */
  start(): Promise<BackendReport> {
    return this.ensureRunning().ready
  }

  /** Run an engine method. Rejects with the engine's ConvscopeError, CANCELLED on abort, INTERNAL if the process dies. */
  async request<M extends MethodName>(method: M, params: Params<M>, options: CallOptions = {}): Promise<Result<M>> {
    const { signal, onProgress } = options
    if (signal?.aborted) throw cancelled()
    const running = this.ensureRunning()
    await abortable(running.ready, signal)
    if (running.exitReason !== null) throw this.exitError(running.exitReason, method)
    const id = ++this.nextId
    return new Promise<Result<M>>((resolvePromise, rejectPromise) => {
      const onAbort = () => {
        if (!running.pending.delete(id)) return
        rejectPromise(cancelled())
        // The engine stops at its next check; its late CANCELLED answer finds no pending call and is dropped.
        running.process.send({ kind: 'cancel', id })
      }
      running.pending.set(id, {
        method,
        onProgress,
        settle(error, result) {
          signal?.removeEventListener('abort', onAbort)
          if (error) rejectPromise(error)
          else resolvePromise(result as Result<M>)
        },
      })
      signal?.addEventListener('abort', onAbort, { once: true })
      running.process.send({ kind: 'request', id, method, params })
    })
  }

  /** Stop the engine process; pending calls reject with UNAVAILABLE. */
  async dispose(): Promise<void> {
    this.disposed = true
    const running = this.running
    if (!running) return
    this.running = null
    this.fail(running, new ConvscopeError('UNAVAILABLE', `The ${this.name} was shut down`))
    if (running.exitReason !== null) return
    const exited = new Promise<void>((done) => running.process.onExit(() => done()))
    running.process.kill()
    await Promise.race([exited, new Promise((done) => setTimeout(done, 3000).unref())])
  }

  private ensureRunning(): Running {
    if (this.disposed) throw new ConvscopeError('UNAVAILABLE', `The ${this.name} was shut down`)
    if (this.running) return this.running
    const child = this.spawnEngine(this.entry, engineArgs(this.options.engine), this.name)
    let announced: (report: BackendReport) => void = () => {}
    let failed: (error: Error) => void = () => {}
    const ready = new Promise<BackendReport>((res, rej) => {
      announced = res
      failed = rej
    })
    ready.catch(() => {}) // whoever awaits it sees the error; nobody awaiting is not an unhandled rejection
    const running: Running = { process: child, ready, pending: new Map(), exitReason: null }
    this.running = running

    const timer = setTimeout(() => {
      failed(new ConvscopeError('INTERNAL', `The ${this.name} process did not become ready within ${this.readyTimeoutMs / 1000} s`))
      child.kill()
    }, this.readyTimeoutMs)
    timer.unref()

    child.onMessage((message) => {
      const announcement = Announcement.safeParse(message)
      if (announcement.success) {
        clearTimeout(timer)
        if (announcement.data.kind === 'ready') {
          this.lastBackend = announcement.data.backend
          announced(announcement.data.backend)
        } else {
          failed(ConvscopeError.from(announcement.data.error))
        }
        return
      }
      const progress = ProgressEnvelope.safeParse(message)
      if (progress.success) {
        running.pending.get(progress.data.id)?.onProgress?.(progress.data.progress)
        return
      }
      const response = ResponseEnvelope.safeParse(message)
      if (response.success) {
        const pending = running.pending.get(response.data.id)
        if (!pending) return
        running.pending.delete(response.data.id)
        if (response.data.ok) pending.settle(null, response.data.result)
        else pending.settle(ConvscopeError.from(response.data.error))
        return
      }
      console.error('convscope: ignoring a malformed message from the engine process')
    })

    child.onExit((code, signal) => {
      clearTimeout(timer)
      const how = signal ? `killed by ${signal}` : code === null ? 'it could not be started' : `exit code ${code}`
      running.exitReason = how
      if (this.running === running) this.running = null
      const output = child.recentOutput()
      const detail = output ? `\nLast engine output:\n${output}` : ''
      failed(new ConvscopeError('INTERNAL', `The ${this.name} process exited before it was ready (${how}).${detail}`))
      for (const [id, pending] of running.pending) {
        running.pending.delete(id)
        pending.settle(this.exitError(how, pending.method, detail))
      }
    })
    return running
  }

  private exitError(how: string, method: MethodName, detail = ''): ConvscopeError {
    return new ConvscopeError(
      'INTERNAL',
      `The ${this.name} process exited unexpectedly (${how}) while running ${method}; it will be restarted on the next request.${detail}`,
    )
  }

  private fail(running: Running, error: Error): void {
    for (const [id, pending] of running.pending) {
      running.pending.delete(id)
      pending.settle(error)
    }
  }
}

/** The promise, or a CANCELLED rejection as soon as the signal aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise
  return new Promise<T>((res, rej) => {
    const onAbort = () => rej(cancelled())
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        res(value)
      },
      (error) => {
        signal.removeEventListener('abort', onAbort)
        rej(error)
      },
    )
  })
}
