/**
 * A JobContext for one-shot CLI commands that run engine jobs (embed, grid): progress drawn as one bar per phase
 * (a change of unit starts a new bar, its message printed once) on stderr, and cancel by Ctrl-C.
 */
import type { Progress } from '../../shared/api'
import type { JobContext } from '../engine/context'
import { progressBar } from './progressBar'

const SHORT_UNITS: Record<string, string> = { iterations: 'it', images: 'img' }

export function cliJobContext(command: string, signal: AbortSignal): JobContext & { end(): void } {
  let bar: ReturnType<typeof progressBar> | null = null
  let phase: string | undefined
  return {
    signal,
    progress(p: Progress) {
      if (p.total === null) return
      const key = `${p.unit}\n${p.message ?? ''}`
      if (key !== phase) {
        bar?.end()
        phase = key
        if (p.message) console.error(`convscope ${command}: ${p.message}`)
        bar = progressBar(process.stderr, SHORT_UNITS[p.unit ?? ''] ?? p.unit ?? '')
      }
      bar!.update(p.done, p.total)
    },
    end() {
      bar?.end()
      bar = null
      phase = undefined
    },
  }
}

/** Run `work` with a context cancelled by Ctrl-C (SIGINT); a cancelled run ends in CANCELLED "<command> cancelled". */
export async function withCliJob<T>(command: string, work: (ctx: JobContext & { end(): void }) => Promise<T>): Promise<T> {
  const abort = new AbortController()
  const onSignal = () => abort.abort()
  process.once('SIGINT', onSignal)
  const ctx = cliJobContext(command, abort.signal)
  try {
    return await work(ctx)
  } finally {
    ctx.end()
    process.off('SIGINT', onSignal)
  }
}
