import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { ConvscopeError, methods, type ErrorCode, type MethodName, type Params, type Progress, type Result } from '@shared/api'
import { progressRate, type RateSample } from '@shared/progressRate'
import { useApi } from '../api/instance'

export type JobState = 'running' | 'done' | 'failed' | 'cancelled'

export interface Job {
  id: number
  label: string
  method: MethodName
  /** What it was called with (the Jobs view runs a cancelled job again with them). */
  params: unknown
  startedAt: number
  progress: Progress | null
  state: JobState
  finishedAt: number | null
  /** The result of a finished job, the message of a failed one. */
  result: unknown
  error: string | null
  /** Items per second and seconds left: the engine's figures, else measured here from the progress events. */
  rate: number | null
  etaSeconds: number | null
  /** First progress event with a total (to measure the rate when the engine sends none; a resumed job starts at its checkpoint). */
  firstSample: RateSample | null
}

export interface Toast {
  id: number
  code: ErrorCode
  /** What the user was doing, e.g. "Opening /data/model". */
  title: string
  message: string
}

export interface JobOptions {
  /** Shown in the status bar while it runs and as the title of its error toast. */
  label: string
  signal?: AbortSignal
  /** Do not toast errors (the caller shows them in place). */
  quiet?: boolean
  /** Also hand progress to the caller (the status bar shows it either way). */
  onProgress?: (p: Progress) => void
}

const TOAST_MS = 15_000

/** Whether a method is a long job (api.ts lane 'jobs'): those are kept in `history` for the Jobs view. */
export const isLongJob = (method: MethodName): boolean => methods[method].where === 'jobs'

/** Rate and ETA of a job after a progress event: the engine's figures, else measured here by the same rule (progressRate.ts). */
function measure(job: Job, p: Progress, now: number): void {
  if (p.total !== null) job.firstSample ??= { done: p.done, at: now }
  const measured = job.firstSample ? progressRate(job.firstSample, { done: p.done, at: now }, p.total) : { rate: null, etaSeconds: null }
  job.rate = p.rate ?? measured.rate
  job.etaSeconds = p.rate !== undefined ? (p.etaSeconds ?? null) : measured.etaSeconds
}

/**
 * Every engine call the UI makes: what is running (status bar), what went wrong (toasts), and the long jobs
 * of this session (api.ts lane 'jobs': scans, the demo dataset) with their state, progress, rate and
 * cancellation, for the Jobs view.
 */
export const useJobs = defineStore('jobs', () => {
  const running = ref<Job[]>([])
  /** Long jobs of this session, oldest first, finished ones included. */
  const history = ref<Job[]>([])
  const toasts = ref<Toast[]>([])
  const controllers = new Map<number, AbortController>()
  let nextId = 1

  const busy = computed(() => running.value.length > 0)
  /** The job the status bar shows: the oldest long job still running, else the oldest call. */
  const current = computed(() => running.value.find((j) => isLongJob(j.method)) ?? running.value[0] ?? null)
  const runningJobs = computed(() => history.value.filter((j) => j.state === 'running'))

  async function call<M extends MethodName>(method: M, params: Params<M>, options: JobOptions): Promise<Result<M>> {
    const job: Job = {
      id: nextId++,
      label: options.label,
      method,
      params,
      startedAt: Date.now(),
      progress: null,
      state: 'running',
      finishedAt: null,
      result: null,
      error: null,
      rate: null,
      etaSeconds: null,
      firstSample: null,
    }
    // Long jobs can also be cancelled from the Jobs view: one controller follows the caller's signal and cancel().
    const controller = new AbortController()
    const onCallerAbort = () => controller.abort()
    if (options.signal?.aborted) controller.abort()
    options.signal?.addEventListener('abort', onCallerAbort, { once: true })
    running.value.push(job)
    const tracked = running.value[running.value.length - 1]! // the reactive proxy: changes reach every view
    if (isLongJob(method)) {
      history.value.push(job)
      controllers.set(job.id, controller)
    }
    try {
      const result = await useApi().call(method, params, {
        signal: controller.signal,
        onProgress: (p) => {
          tracked.progress = p
          measure(tracked, p, performance.now())
          options.onProgress?.(p)
        },
      })
      tracked.state = 'done'
      tracked.result = result
      return result
    } catch (err) {
      const error = err instanceof ConvscopeError ? err : new ConvscopeError('INTERNAL', String(err))
      tracked.state = error.code === 'CANCELLED' ? 'cancelled' : 'failed'
      tracked.error = error.message
      if (error.code !== 'CANCELLED' && !options.quiet) report(error, options.label)
      throw error
    } finally {
      tracked.finishedAt = Date.now()
      options.signal?.removeEventListener('abort', onCallerAbort)
      controllers.delete(job.id)
      running.value = running.value.filter((j) => j.id !== job.id)
    }
  }

  /** Cancel a running long job (the engine checkpoints and stops it; a scan resumes when started again). */
  function cancel(id: number): void {
    controllers.get(id)?.abort()
  }

  /** Run a finished long job again with the same parameters (a cancelled scan resumes from its checkpoint). */
  function rerun(job: Job): Promise<unknown> {
    return call(job.method, job.params as Params<typeof job.method>, { label: job.label }).catch(() => null)
  }

  function report(error: ConvscopeError, title: string): void {
    const toast: Toast = { id: nextId++, code: error.code, title, message: error.message }
    toasts.value = [...toasts.value.slice(-4), toast]
    setTimeout(() => dismiss(toast.id), TOAST_MS)
  }

  function dismiss(id: number): void {
    toasts.value = toasts.value.filter((t) => t.id !== id)
  }

  return { running, history, runningJobs, toasts, busy, current, call, cancel, rerun, report, dismiss }
})
