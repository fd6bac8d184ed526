/**
 * Engine calls run on demand (a button), with progress and cancel: occlusion, activation maximization.
 * Unlike engineCall.ts nothing runs when the params change; what shows is the cached result of the current
 * params (same bounded per-method cache, so a result comes back when its unit or image is selected again),
 * else nothing. One run at a time per panel: starting another cancels the one in flight. A run whose params
 * are no longer the current ones still lands in the cache. No DOM and no store here (useEngineRun.ts binds
 * the jobs store), so this runs under node in test/unit/engineRun.test.ts.
 */
import { computed, onScopeDispose, ref, shallowRef, watch, type Ref, type ShallowRef } from 'vue'
import { ConvscopeError, type MethodName, type Params, type Progress, type Result } from '../../../shared/api'
import { callKey, resultCache } from './engineCall'

/** How a run reaches the engine: the jobs store's call with progress in the window, a stand-in in tests. */
export type EngineRunner<M extends MethodName> = (params: Params<M>, signal: AbortSignal, onProgress: (p: Progress) => void) => Promise<Result<M>>

export interface EngineRun<T> {
  /** The cached result of the current params, null when they have none yet. */
  data: ShallowRef<T | null>
  /** A run of the current params is in flight. */
  running: Ref<boolean>
  /** Its last progress event (null before the first, and when not running). */
  progress: ShallowRef<Progress | null>
  /** Why the last run of the current params failed (cancelling is no failure). */
  error: ShallowRef<ConvscopeError | null>
  /** The last run of the current params was cancelled. */
  cancelled: Ref<boolean>
  run(): Promise<void>
  cancel(): void
}

export interface EngineRunOptions {
  /** Cancel the run in flight when the panel goes away (default); false lets a long job finish into the cache. */
  cancelOnLeave?: boolean
}

export function engineRun<M extends MethodName>(method: M, params: () => Params<M> | null, call: EngineRunner<M>, options: EngineRunOptions = {}): EngineRun<Result<M>> {
  const cache = resultCache(method)
  const data = shallowRef(null) as ShallowRef<Result<M> | null> // (shallowRef<Result<M>>'s inferred type does not narrow over M)
  const progress = shallowRef<Progress | null>(null)
  const error = shallowRef<ConvscopeError | null>(null)
  const cancelled = ref(false)
  const runningKey = ref<string | null>(null)
  let controller: AbortController | null = null

  const current = computed(() => {
    const p = params()
    return p === null ? null : { params: p, key: callKey(method, p) }
  })
  const running = computed(() => runningKey.value !== null && runningKey.value === current.value?.key)

  watch(
    () => current.value?.key ?? null,
    (key) => {
      data.value = key === null ? null : (cache.get(key) ?? null)
      error.value = null
      cancelled.value = false
    },
    { immediate: true },
  )

  async function run(): Promise<void> {
    const c = current.value
    if (!c) return
    controller?.abort()
    const mine = new AbortController()
    controller = mine
    runningKey.value = c.key
    progress.value = null
    error.value = null
    cancelled.value = false
    try {
      const result = await call(c.params, mine.signal, (p) => {
        if (controller === mine) progress.value = p
      })
      cache.set(c.key, result)
      if (current.value?.key === c.key) data.value = result
    } catch (err) {
      const e = err instanceof ConvscopeError ? err : new ConvscopeError('INTERNAL', String(err))
      // A run cancelled by a newer one says nothing: the newer one speaks for the params.
      if (controller === mine && current.value?.key === c.key) {
        if (e.code === 'CANCELLED' || mine.signal.aborted) cancelled.value = true
        else error.value = e
      }
    } finally {
      if (controller === mine) {
        controller = null
        runningKey.value = null
        progress.value = null
      }
    }
  }

  const cancel = (): void => controller?.abort()
  if (options.cancelOnLeave ?? true) onScopeDispose(cancel)

  return { data, running, progress, error, cancelled, run, cancel }
}
