/**
 * Items per second and seconds left of a long job, measured one way everywhere (issue 9): by the engine's
 * dataset loop, the CLI's progress bar and the window's job and scan stores.
 *
 * The rate counts from the first sample of this run, so the work a resumed job found done (a scan's
 * checkpoint) is not in it; it is unknown (null) until MIN_RATE_SECONDS have passed and an item was done,
 * so the first batch's start-up does not show as a wild figure, except at the end, where it is the run's own.
 */

/** `done` items at `at` milliseconds (performance.now() or Date.now(), one clock per meter). */
export interface RateSample {
  done: number
  at: number
}

export interface RateEstimate {
  /** Items per second since the first sample; null while not measurable. */
  rate: number | null
  /** Seconds left at that rate; null without a rate or a total. */
  etaSeconds: number | null
}

export const MIN_RATE_SECONDS = 0.5

/** Rate and ETA between two samples of one run. */
export function progressRate(first: RateSample, latest: RateSample, total: number | null): RateEstimate {
  const seconds = (latest.at - first.at) / 1000
  const finished = total !== null && latest.done >= total
  const rate = seconds > 0 && (seconds >= MIN_RATE_SECONDS || finished) && latest.done > first.done ? (latest.done - first.done) / seconds : null
  const etaSeconds = rate !== null && total !== null ? Math.max(0, total - latest.done) / rate : null
  return { rate, etaSeconds }
}

/** Remembers a run's first sample and measures each later one against it. */
export class RateMeter {
  private first: RateSample | null = null

  /** The estimate at `done` of `total` items (the first call starts the run). */
  sample(done: number, total: number | null, at: number = performance.now()): RateEstimate {
    this.first ??= { done, at }
    return progressRate(this.first, { done, at }, total)
  }

  /** Forget the run (a job started again measures afresh). */
  reset(): void {
    this.first = null
  }
}

/** "0:07", "12:30", "2 h 05 min": a duration or ETA as the window shows it (rounded to whole seconds first, so never "0:60"). */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

/** The optional `rate` / `etaSeconds` fields of a progress event: present only when known. */
export function rateFields(estimate: RateEstimate): { rate?: number; etaSeconds?: number } {
  return {
    ...(estimate.rate !== null ? { rate: estimate.rate } : {}),
    ...(estimate.etaSeconds !== null ? { etaSeconds: estimate.etaSeconds } : {}),
  }
}
