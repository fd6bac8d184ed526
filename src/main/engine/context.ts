import { ConvscopeError, type Progress } from '../../shared/api'

/** What a method handler gets besides its params: a way to report progress and to notice cancellation. */
export interface JobContext {
  progress(p: Progress): void
  readonly signal: AbortSignal
}

/** Throw CANCELLED when the job was cancelled; call between units of work. */
export function throwIfCancelled(ctx: JobContext): void {
  if (ctx.signal.aborted) throw new ConvscopeError('CANCELLED', 'Cancelled by the user')
}

export const noopContext = (): JobContext => ({ progress: () => {}, signal: new AbortController().signal })
