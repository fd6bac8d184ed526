/** Error codes and the one error type that crosses process boundaries. */
import { z } from 'zod'

export const ErrorCode = z.enum([
  'BAD_REQUEST', // params failed validation
  'NOT_FOUND', // a file or folder is missing
  'BAD_MODEL', // not a model, unreadable model.json, missing/short weights
  'UNSUPPORTED_OP', // the backend cannot run an op of the model
  'BAD_IMAGE', // not an image, truncated, too large, ...
  'FORBIDDEN', // a path outside the folders the user opened, or a missing token
  'CANCELLED',
  'UNAVAILABLE', // e.g. native dialogs in served mode
  'INTERNAL',
])
export type ErrorCode = z.infer<typeof ErrorCode>

export const ErrorPayload = z.object({ code: ErrorCode, message: z.string() })

/** An error that crosses process boundaries with its code and a message a user can act on. */
export class ConvscopeError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'ConvscopeError'
  }
  toPayload(): z.infer<typeof ErrorPayload> {
    return { code: this.code, message: this.message }
  }
  static from(payload: z.infer<typeof ErrorPayload>): ConvscopeError {
    return new ConvscopeError(payload.code, payload.message)
  }
}
