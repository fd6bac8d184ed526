/** The envelopes: identical over Electron IPC, the WebSocket and the engine process channel. */
import { z } from 'zod'
import { ErrorPayload } from './errors'
import { Progress } from './progress'

export const RequestEnvelope = z.object({ kind: z.literal('request'), id: z.number().int(), method: z.string(), params: z.unknown() })
export const ResponseEnvelope = z.union([
  z.object({ kind: z.literal('response'), id: z.number().int(), ok: z.literal(true), result: z.unknown() }),
  z.object({ kind: z.literal('response'), id: z.number().int(), ok: z.literal(false), error: ErrorPayload }),
])
export const ProgressEnvelope = z.object({ kind: z.literal('progress'), id: z.number().int(), progress: Progress })
export const CancelEnvelope = z.object({ kind: z.literal('cancel'), id: z.number().int() })
export const ClientEnvelope = z.union([RequestEnvelope, CancelEnvelope])
export const ServerEnvelope = z.union([ResponseEnvelope, ProgressEnvelope])
export type RequestEnvelope = z.infer<typeof RequestEnvelope>
export type ResponseEnvelope = z.infer<typeof ResponseEnvelope>
export type ProgressEnvelope = z.infer<typeof ProgressEnvelope>
export type CancelEnvelope = z.infer<typeof CancelEnvelope>
export type ClientEnvelope = z.infer<typeof ClientEnvelope>
export type ServerEnvelope = z.infer<typeof ServerEnvelope>
