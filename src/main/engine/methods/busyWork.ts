import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { z } from 'zod'
import type { BusyWork } from '../../../shared/api'
import { throwIfCancelled, type JobContext } from '../context'

/** Length of one unit of synchronous work: short enough that a cancel is noticed within a few ms. */
const UNIT_MS = 5
const PROGRESS_EVERY_MS = 100

/**
 * Keep the engine busy for `milliseconds` of CPU work, reporting progress and honouring cancellation.
 * Responsiveness tests and benchmarks use it as a stand-in for a scan. Like every long method, it yields
 * to the event loop between units of work (setImmediate, not a microtask: only a macrotask lets the
 * process read the cancel message that arrived meanwhile).
 */
export async function busyWork(params: z.infer<typeof BusyWork>, ctx: JobContext): Promise<{ iterations: number }> {
  const start = performance.now()
  const end = start + params.milliseconds
  let iterations = 0
  let lastProgress = -Infinity
  let sink = 0
  for (let now = start; now < end; now = performance.now()) {
    const unitEnd = Math.min(end, now + UNIT_MS)
    while (performance.now() < unitEnd) {
      for (let i = 0; i < 1000; i++) sink += Math.sqrt(i + iterations)
      iterations++
    }
    if (unitEnd - lastProgress >= PROGRESS_EVERY_MS) {
      lastProgress = unitEnd
      ctx.progress({ done: Math.round(unitEnd - start), total: params.milliseconds, message: 'busy' })
    }
    await yieldToEventLoop()
    throwIfCancelled(ctx)
  }
  ctx.progress({ done: params.milliseconds, total: params.milliseconds, message: 'busy' })
  // `sink` keeps the loop from being optimised away.
  return { iterations: Number.isFinite(sink) ? iterations : iterations }
}
