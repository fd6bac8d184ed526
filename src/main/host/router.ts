/**
 * The one place that answers envelopes from a window, used by both transports (Electron IPC in
 * src/main/app, the WebSocket in src/main/server): shell methods are answered here at once, even while
 * the engines are busy; engine methods go to the engine process of their lane (engines.ts: the interactive
 * one, or the one for long jobs). Every envelope is validated with shared/api, and params are parsed here,
 * once, where a window's call enters the shell.
 *
 * Access: every `LocalPath` in the params (found by walking the method's schema, pathParams.ts) must lie inside
 * a folder the user opened, or the call is refused with FORBIDDEN before any engine sees it. `OpenedPath`s
 * (openModel, openImageFolder) are how the user opens a folder: the answer's folder becomes readable.
 */
import {
  ClientEnvelope,
  ConvscopeError,
  isMethodName,
  methods,
  parseParams,
  parseResult,
  type MethodName,
  type Params,
  type Progress,
  type ServerEnvelope,
  type ShellMethodName,
} from '../../shared/api'
import { errorPayload } from '../../shared/transport'
import type { AllowedRoots } from './access'
import type { EngineLanes } from './engines'
import { pathValues } from './pathParams'
import { shellMethods, type ShellContext } from './shellMethods'

export interface RouterOptions {
  engines: EngineLanes
  roots: AllowedRoots
  shell: Omit<ShellContext, 'engines'>
}

/** One conversation with a window (a WebSocket, an Electron webContents): request ids are its own. */
export interface RouterSession {
  /** Handle one envelope from the window; answers (and progress) go to the session's `send`. */
  dispatch(envelope: unknown): void
  /** The window went away: cancel what it still waits for. */
  close(): void
}

export class Router {
  private readonly shellContext: ShellContext

  constructor(private readonly options: RouterOptions) {
    this.shellContext = { ...options.shell, engines: options.engines }
  }

  session(send: (message: ServerEnvelope) => void): RouterSession {
    const jobs = new Map<number, AbortController>()
    let closed = false
    const answer = (message: ServerEnvelope) => {
      if (closed) return
      try {
        send(message)
      } catch (error) {
        console.error('convscope: could not send to the window:', (error as Error).message)
      }
    }
    return {
      dispatch: (raw) => {
        const parsed = ClientEnvelope.safeParse(raw)
        if (!parsed.success) {
          const id = (raw as { id?: unknown } | null)?.id
          if (Number.isInteger(id)) {
            answer({ kind: 'response', id: id as number, ok: false, error: { code: 'BAD_REQUEST', message: 'Malformed envelope' } })
          }
          return
        }
        const envelope = parsed.data
        if (envelope.kind === 'cancel') {
          jobs.get(envelope.id)?.abort()
          return
        }
        if (jobs.has(envelope.id)) {
          answer({ kind: 'response', id: envelope.id, ok: false, error: { code: 'BAD_REQUEST', message: `Request id ${envelope.id} is already in use` } })
          return
        }
        const controller = new AbortController()
        jobs.set(envelope.id, controller)
        this.run(envelope.method, envelope.params, controller.signal, (progress) => answer({ kind: 'progress', id: envelope.id, progress }))
          .then(
            (result) => answer({ kind: 'response', id: envelope.id, ok: true, result }),
            (error) => answer({ kind: 'response', id: envelope.id, ok: false, error: errorPayload(error) }),
          )
          .finally(() => jobs.delete(envelope.id))
      },
      close: () => {
        closed = true
        for (const controller of jobs.values()) controller.abort()
        jobs.clear()
      },
    }
  }

  private async run(name: string, rawParams: unknown, signal: AbortSignal, onProgress: (p: Progress) => void): Promise<unknown> {
    if (!isMethodName(name)) throw new ConvscopeError('BAD_REQUEST', `Unknown method "${name}"`)
    const params = parseParams(name, rawParams)
    await this.assertPathsAllowed(name, params)
    if (methods[name].where === 'shell') {
      const method = name as ShellMethodName
      const handler = shellMethods[method] as (params: unknown, ctx: ShellContext) => Promise<unknown>
      return parseResult(method, await handler(params, this.shellContext))
    }
    const result = await this.options.engines.request(name, params as Params<typeof name>, { signal, onProgress })
    await this.recordOpenedFolder(name, result)
    return result
  }

  /**
   * FORBIDDEN unless every file or folder the call would read lies inside an opened folder. The engine still
   * gets the path as asked (results name it so); assertAllowed compared real paths, so no symlink leads out.
   */
  private async assertPathsAllowed(name: MethodName, params: unknown): Promise<void> {
    for (const { kind, path } of pathValues(methods[name].params, params)) {
      if (kind === 'local') await this.options.roots.assertAllowed(path)
    }
  }

  /** A folder the user opened becomes readable by the window (its images, thumbnails and so on). */
  private async recordOpenedFolder(name: MethodName, result: unknown): Promise<void> {
    const folder = name === 'openModel' ? (result as { dir: string }).dir : name === 'openImageFolder' ? (result as { root: string }).root : null
    if (folder === null) return
    try {
      await this.options.roots.add(folder)
    } catch (error) {
      console.error(`convscope: could not allow ${folder}:`, (error as Error).message)
    }
  }
}
