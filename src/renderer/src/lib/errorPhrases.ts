import type { ErrorCode } from '@shared/api'

/** A few words per engine error code for the toasts; the code itself stays in their tooltip (issue 9). */
export const ERROR_PHRASES: Record<ErrorCode, string> = {
  BAD_REQUEST: 'Invalid request',
  NOT_FOUND: 'Not found',
  BAD_MODEL: 'Not a readable model',
  UNSUPPORTED_OP: 'Not supported by this backend',
  BAD_IMAGE: 'Not a readable image',
  FORBIDDEN: 'Outside the opened folders',
  CANCELLED: 'Cancelled',
  UNAVAILABLE: 'Not available here',
  INTERNAL: 'Internal error',
}
