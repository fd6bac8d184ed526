import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { ConvscopeError, type ErrorCode, type MethodName, type Params, type Progress, type Result } from '@shared/api'
import { useApi } from '../api/instance'

export interface Job {
  id: number
  label: string
  method: MethodName
  startedAt: number
  progress: Progress | null
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

/** Every engine call the UI makes: what is running (status bar) and what went wrong (toasts). */
export const useJobs = defineStore('jobs', () => {
  const running = ref<Job[]>([])
  const toasts = ref<Toast[]>([])
  let nextId = 1

  const busy = computed(() => running.value.length > 0)
  /** The job the status bar shows: the oldest one still running. */
  const current = computed(() => running.value[0] ?? null)

  async function call<M extends MethodName>(method: M, params: Params<M>, options: JobOptions): Promise<Result<M>> {
    const job: Job = { id: nextId++, label: options.label, method, startedAt: Date.now(), progress: null }
    running.value.push(job)
    const tracked = running.value[running.value.length - 1]
    try {
      return await useApi().call(method, params, {
        signal: options.signal,
        onProgress: (p) => {
          tracked.progress = p
          options.onProgress?.(p)
        },
      })
    } catch (err) {
      const error = err instanceof ConvscopeError ? err : new ConvscopeError('INTERNAL', String(err))
      if (error.code !== 'CANCELLED' && !options.quiet) report(error, options.label)
      throw error
    } finally {
      running.value = running.value.filter((j) => j.id !== job.id)
    }
  }

  function report(error: ConvscopeError, title: string): void {
    const toast: Toast = { id: nextId++, code: error.code, title, message: error.message }
    toasts.value = [...toasts.value.slice(-4), toast]
    setTimeout(() => dismiss(toast.id), TOAST_MS)
  }

  function dismiss(id: number): void {
    toasts.value = toasts.value.filter((t) => t.id !== id)
  }

  return { running, toasts, busy, current, call, report, dismiss }
})
