/**
 * Entry of the engine process: a Node child process (child_process.fork with serialization 'advanced',
 * from served mode and the CLI) or an Electron utilityProcess (process.parentPort, from the app).
 *
 * It initialises the engine, announces `{kind: 'ready', backend}` (or `init-failed`), then answers
 * request envelopes with response envelopes and progress envelopes (see src/shared/transport.ts).
 *
 * Scheduling: requests run one at a time in arrival order, because tfjs computes synchronously and two
 * jobs would only interleave their slowness. That is why the shell runs two of these processes (host/engines.ts):
 * one for the views' quick calls and one for long jobs, so a scan never queues the views behind it. A cancel message must still be read while a job runs, and a
 * message is only read when the event loop gets a turn: so every long method yields between units of
 * work with `await setImmediate()` (from node:timers/promises; a resolved promise is not enough, it never
 * leaves the microtask queue) and then calls throwIfCancelled(ctx). A unit should take well under 100 ms.
 */
import { CancelEnvelope, ConvscopeError, isMethodName, RequestEnvelope, type Progress } from '../../shared/api'
import { errorPayload, type EngineToShell } from '../../shared/transport'
import { engineOptionsFrom } from '../workspace'
import type { JobContext } from './context'
import { createEngine } from './engine'

/** The two ways this process can be talking to its shell. */
interface ShellChannel {
  post(message: EngineToShell): void
  onMessage(listener: (message: unknown) => void): void
}

/** Electron's utilityProcess side of the channel (typed here: this file must not import 'electron'). */
interface ParentPort {
  postMessage(message: unknown): void
  on(event: 'message', listener: (event: { data: unknown }) => void): void
}

function connectToShell(): ShellChannel {
  const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort
  if (parentPort) {
    return { post: (m) => parentPort.postMessage(m), onMessage: (l) => parentPort.on('message', (e) => l(e.data)) }
  }
  if (process.send) {
    // Our shell went away (crash, kill -9): nothing will ever read our answers, so do not linger.
    process.on('disconnect', () => process.exit(0))
    return { post: (m) => void process.send!(m), onMessage: (l) => process.on('message', l) }
  }
  throw new Error('The engine process is started by the shell (engineHost.ts): no parentPort or IPC channel found.')
}

/** At most one progress event per this many ms per job: a tight loop must not flood the channel. */
const PROGRESS_INTERVAL_MS = 50

async function main(): Promise<void> {
  const shell = connectToShell()
  const engine = createEngine(engineOptionsFrom(process.argv.slice(2), process.env))

  const queue: RequestEnvelope[] = []
  const running = new Map<number, AbortController>()
  let pumping = false
  // Requests that arrive during init wait in the queue; cancels can already remove them from it.
  let ready = false

  async function run(request: RequestEnvelope): Promise<void> {
    const controller = new AbortController()
    running.set(request.id, controller)
    let lastProgress = -Infinity
    const ctx: JobContext = {
      signal: controller.signal,
      progress(progress: Progress) {
        const now = performance.now()
        const final = progress.total !== null && progress.done >= progress.total
        if (!final && now - lastProgress < PROGRESS_INTERVAL_MS) return
        lastProgress = now
        shell.post({ kind: 'progress', id: request.id, progress })
      },
    }
    try {
      if (!isMethodName(request.method)) throw new ConvscopeError('BAD_REQUEST', `Unknown method "${request.method}"`)
      // engine.handle parses the params and validates the result: this process's one check of each.
      const result = await engine.handle(request.method, request.params, ctx)
      shell.post({ kind: 'response', id: request.id, ok: true, result })
    } catch (error) {
      const payload = errorPayload(error)
      // An unexpected error reaches the user as a message only: keep its stack in the engine's log.
      if (payload.code === 'INTERNAL' && error instanceof Error) console.error(`convscope engine: ${request.method} failed:`, error.stack)
      // A method that stops on the abort signal by throwing something else was still cancelled.
      if (controller.signal.aborted && payload.code !== 'CANCELLED') {
        shell.post({ kind: 'response', id: request.id, ok: false, error: { code: 'CANCELLED', message: 'Cancelled by the user' } })
      } else {
        shell.post({ kind: 'response', id: request.id, ok: false, error: payload })
      }
    } finally {
      running.delete(request.id)
    }
  }

  async function pump(): Promise<void> {
    if (pumping || !ready) return
    pumping = true
    try {
      for (let next = queue.shift(); next; next = queue.shift()) await run(next)
    } finally {
      pumping = false
    }
  }

  function receive(message: unknown): void {
    const cancel = CancelEnvelope.safeParse(message)
    if (cancel.success) {
      const queued = queue.findIndex((r) => r.id === cancel.data.id)
      if (queued >= 0) {
        queue.splice(queued, 1)
        shell.post({ kind: 'response', id: cancel.data.id, ok: false, error: { code: 'CANCELLED', message: 'Cancelled before it started' } })
      }
      running.get(cancel.data.id)?.abort()
      return
    }
    const request = RequestEnvelope.safeParse(message)
    if (request.success) {
      queue.push(request.data)
      void pump()
      return
    }
    const id = (message as { id?: unknown } | null)?.id
    if (typeof id === 'number') {
      shell.post({ kind: 'response', id, ok: false, error: { code: 'BAD_REQUEST', message: 'Malformed envelope sent to the engine' } })
    } else {
      console.error('convscope engine: ignoring a malformed message')
    }
  }

  // Listen before init so that nothing sent meanwhile is lost.
  shell.onMessage(receive)
  process.once('SIGTERM', () => {
    engine.dispose()
    process.exit(0)
  })

  try {
    const backend = await engine.init()
    shell.post({ kind: 'ready', backend, pid: process.pid })
  } catch (error) {
    shell.post({ kind: 'init-failed', error: errorPayload(error) })
    // Give the channel a moment to flush before exiting.
    setTimeout(() => process.exit(1), 100)
    return
  }
  ready = true
  void pump()
}

main().catch((error) => {
  console.error('convscope engine: fatal:', error)
  process.exit(1)
})
