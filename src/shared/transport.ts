/**
 * The transports that carry the envelopes of shared/api (envelopes.ts), seen from each side.
 *
 * - Electron: the preload exposes `window.convscope` (an `ElectronBridge`); the renderer wraps it into a
 *   `ConvscopeApi`. Over IPC values travel by structured clone, so Float32Array needs no encoding.
 * - Served mode: a WebSocket at `/ws?token=...` carrying the same envelopes as text (wire.ts encoding).
 * - Engine process: the shell talks to the engine with the same envelopes plus the engine's
 *   `ready` / `init-failed` announcement below (structured clone in both process kinds).
 */
import { ConvscopeError, ErrorCode, type BackendReport, type ErrorPayload, type ProgressEnvelope, type RequestEnvelope, type ResponseEnvelope } from './api'
import type { z } from 'zod'

/** What the preload puts on `window.convscope` in an Electron window (absent in served mode). */
export interface ElectronBridge {
  readonly shell: 'electron'
  /** Send one request; resolves with its response envelope (errors are `ok: false` envelopes, not rejections). */
  request(envelope: RequestEnvelope): Promise<ResponseEnvelope>
  /** Ask the engine to stop the request with this id; its response then says CANCELLED. */
  cancel(id: number): void
  /** Progress events of every pending request of this window; returns the unsubscribe function. */
  onProgress(listener: (progress: ProgressEnvelope) => void): () => void
  /** URL for an <img src> of a local image inside a folder the user opened (the convscope-file protocol). */
  imageUrl(path: string): string
}

/** Electron IPC channel names (the preload repeats them as literals: it may import nothing but 'electron'). */
export interface IpcChannels {
  request: 'convscope:request'
  cancel: 'convscope:cancel'
  progress: 'convscope:progress'
}
export const IPC_CHANNELS: IpcChannels = { request: 'convscope:request', cancel: 'convscope:cancel', progress: 'convscope:progress' }

/**
 * The custom protocol of the Electron shell for images from the folders the user opened. An image URL is
 * `convscope-file://local/` + encodeURIComponent(absolute path) (made by the preload's imageUrl).
 */
export const IMAGE_PROTOCOL = 'convscope-file'

/** The engine process's first message: the backend it initialised, or why it could not. */
export type EngineAnnouncement =
  | { kind: 'ready'; backend: BackendReport; pid: number }
  | { kind: 'init-failed'; error: z.infer<typeof ErrorPayload> }

export type EngineToShell = EngineAnnouncement | ResponseEnvelope | ProgressEnvelope

/**
 * The payload an error travels as: a ConvscopeError keeps its code; anything else is INTERNAL with its
 * message (duck-typed too, for errors made by another bundle's copy of shared/api).
 */
export function errorPayload(error: unknown): z.infer<typeof ErrorPayload> {
  if (error instanceof ConvscopeError) return error.toPayload()
  const e = error as { name?: unknown; code?: unknown; message?: unknown } | null
  if (e && e.name === 'ConvscopeError' && ErrorCode.safeParse(e.code).success && typeof e.message === 'string') {
    return { code: e.code as ErrorCode, message: e.message }
  }
  const message = error instanceof Error ? error.message : String(error)
  return { code: 'INTERNAL', message: message || 'Unknown internal error' }
}
