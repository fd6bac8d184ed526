/**
 * The renderer's only way to the engine: `ConvscopeApi` over the Electron bridge (preload IPC) or over a
 * WebSocket (served mode). Both carry the envelopes of src/shared/api/envelopes.ts; this file adds request ids,
 * progress routing and cancellation (AbortSignal → cancel envelope). It checks envelopes, not params or
 * results: the shell parses params where a call enters it (host/router.ts) and the engine validates results
 * before they leave it (engine/engine.ts), each once.
 */
import {
  ConvscopeError,
  ServerEnvelope,
  type CallOptions,
  type ConvscopeApi,
  type MethodName,
  type Params,
  type Progress,
  type ProgressEnvelope,
  type RequestEnvelope,
  type ResponseEnvelope,
  type Result,
} from '@shared/api'
import { decodeMessage, encodeMessage } from '@shared/wire'

export type ConnectionState = 'connecting' | 'open' | 'closed'
export type ConnectionListener = (state: ConnectionState, detail: string | null) => void

export interface ClientApi extends ConvscopeApi {
  /** Connection to the engine (served mode: the WebSocket; Electron: always open). Calls `cb` at once with the current state. */
  onConnection(cb: ConnectionListener): () => void
}

/** A request/response channel with progress events: what both transports provide. */
interface Channel {
  request(envelope: RequestEnvelope): Promise<ResponseEnvelope>
  cancel(id: number): void
  onProgress(cb: (p: ProgressEnvelope) => void): () => void
}

export function createApi(): ClientApi {
  const bridge = window.convscope // the preload's ElectronBridge, absent in a plain browser (served mode)
  if (bridge?.shell === 'electron') {
    const alwaysOpen = (cb: ConnectionListener) => {
      cb('open', null)
      return () => {}
    }
    return apiOver(bridge, 'electron', (path) => bridge.imageUrl(path), alwaysOpen)
  }
  const token = new URLSearchParams(location.search).get('token') ?? ''
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
  const socket = new SocketChannel(`${scheme}://${location.host}/ws?token=${encodeURIComponent(token)}`)
  const imageUrl = (path: string) => `/file?path=${encodeURIComponent(path)}&token=${encodeURIComponent(token)}`
  return apiOver(socket, 'served', imageUrl, (cb) => socket.onConnection(cb))
}

function apiOver(
  channel: Channel,
  shell: 'electron' | 'served',
  imageUrl: (path: string) => string,
  onConnection: ClientApi['onConnection'],
): ClientApi {
  let nextId = 1
  const progressById = new Map<number, (p: Progress) => void>()
  channel.onProgress((envelope) => progressById.get(envelope.id)?.(envelope.progress))

  async function call<M extends MethodName>(method: M, params: Params<M>, options: CallOptions = {}): Promise<Result<M>> {
    const { signal, onProgress } = options
    const envelope: RequestEnvelope = { kind: 'request', id: nextId++, method, params }
    if (signal?.aborted) throw cancelled(method)
    if (onProgress) progressById.set(envelope.id, onProgress)
    let onAbort = () => {}
    // The caller gets CANCELLED at once; the engine's own answer to the cancel envelope is dropped.
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        channel.cancel(envelope.id)
        reject(cancelled(method))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
    const answer = channel.request(envelope).catch(transportError)
    answer.catch(() => {}) // after an abort nobody awaits it: its late failure is not an unhandled rejection
    try {
      const response = await Promise.race([answer, aborted])
      if (!response.ok) throw ConvscopeError.from(response.error)
      return response.result as Result<M>
    } finally {
      signal?.removeEventListener('abort', onAbort)
      progressById.delete(envelope.id)
    }
  }

  return { shell, imageUrl, onConnection, call }
}

const cancelled = (method: string) => new ConvscopeError('CANCELLED', `${method} cancelled`)

/** Errors thrown by a transport itself (IPC failure, lost socket) become ConvscopeErrors too. */
function transportError(err: unknown): never {
  if (err instanceof ConvscopeError) throw err
  throw new ConvscopeError('INTERNAL', err instanceof Error ? err.message : String(err))
}

interface PendingRequest {
  envelope: RequestEnvelope
  sent: boolean
  resolve: (r: ResponseEnvelope) => void
  reject: (e: ConvscopeError) => void
}

/**
 * Served mode: one WebSocket, reconnected with exponential backoff when it drops. Requests made while it
 * connects wait for it; when it closes, every request still waiting is rejected (the engine may have
 * finished it, but the answer is lost), so no call hangs forever.
 */
class SocketChannel implements Channel {
  private ws: WebSocket | null = null
  private readonly pending = new Map<number, PendingRequest>()
  private readonly progressListeners = new Set<(p: ProgressEnvelope) => void>()
  private readonly connectionListeners = new Set<ConnectionListener>()
  private state: ConnectionState = 'connecting'
  private detail: string | null = null
  private everOpened = false
  private failures = 0

  constructor(private readonly url: string) {
    this.connect()
  }

  request(envelope: RequestEnvelope): Promise<ResponseEnvelope> {
    return new Promise((resolve, reject) => {
      const entry: PendingRequest = { envelope, sent: false, resolve, reject }
      this.pending.set(envelope.id, entry)
      this.flush(entry)
    })
  }

  cancel(id: number): void {
    const entry = this.pending.get(id)
    if (!entry) return
    if (entry.sent && this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(encodeMessage({ kind: 'cancel', id }))
    } else {
      this.pending.delete(id)
      entry.resolve({ kind: 'response', id, ok: false, error: { code: 'CANCELLED', message: 'Cancelled before it was sent' } })
    }
  }

  onProgress(cb: (p: ProgressEnvelope) => void): () => void {
    this.progressListeners.add(cb)
    return () => this.progressListeners.delete(cb)
  }

  onConnection(cb: ConnectionListener): () => void {
    this.connectionListeners.add(cb)
    cb(this.state, this.detail)
    return () => this.connectionListeners.delete(cb)
  }

  private flush(entry: PendingRequest): void {
    if (entry.sent || this.ws?.readyState !== WebSocket.OPEN) return
    this.ws.send(encodeMessage(entry.envelope))
    entry.sent = true
  }

  private setState(state: ConnectionState, detail: string | null): void {
    this.state = state
    this.detail = detail
    for (const cb of this.connectionListeners) cb(state, detail)
  }

  private connect(): void {
    this.setState('connecting', null)
    const ws = new WebSocket(this.url)
    this.ws = ws
    ws.onopen = () => {
      this.everOpened = true
      this.failures = 0
      this.setState('open', null)
      for (const entry of this.pending.values()) this.flush(entry)
    }
    ws.onmessage = (event) => this.receive(event.data)
    ws.onclose = (event) => {
      if (this.ws !== ws) return
      this.ws = null
      const delay = Math.min(5000, 250 * 2 ** this.failures++)
      const why = event.reason || `code ${event.code}`
      const message = this.everOpened
        ? `Lost the connection to the convscope server (${why}); reconnecting in ${(delay / 1000).toFixed(1)} s`
        : `Cannot reach the convscope server at ${location.host} (${why}): is it running, and is the token in the page address right? Retrying in ${(delay / 1000).toFixed(1)} s`
      const error = new ConvscopeError('UNAVAILABLE', message)
      for (const entry of this.pending.values()) entry.reject(error)
      this.pending.clear()
      this.setState('closed', message)
      setTimeout(() => this.connect(), delay)
    }
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') return
    const parsed = ServerEnvelope.safeParse(decodeMessage(data))
    if (!parsed.success) {
      console.warn('convscope: ignoring a malformed message from the server', parsed.error)
      return
    }
    const envelope = parsed.data
    if (envelope.kind === 'progress') {
      for (const cb of this.progressListeners) cb(envelope)
      return
    }
    const entry = this.pending.get(envelope.id)
    if (!entry) return
    this.pending.delete(envelope.id)
    entry.resolve(envelope)
  }
}
