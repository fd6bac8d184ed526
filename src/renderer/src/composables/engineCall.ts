/**
 * The views' engine calls, keyed on what they ask: the key is the method and its whole params (stable
 * JSON), never hand-made, so a view cannot forget a parameter (ClassMapsView once left out `dataDir`).
 * Results live in a bounded cache per method that outlives the views (tabs unmount them); a newer key
 * cancels the call in flight; errors land in `error` for the view to show in place. No DOM and no store
 * here (useEngineCall.ts binds the jobs store), so this runs under node in test/unit/engineCall.test.ts.
 */
import { onScopeDispose, ref, shallowRef, watch, type Ref, type ShallowRef } from 'vue'
import { ConvscopeError, type MethodName, type Params, type Result } from '../../../shared/api'

/** JSON with object keys sorted and undefined members left out: equal params give one key whatever their order. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v,
  )
}

/** The cache key of one call: the method and every parameter. */
export const callKey = <M extends MethodName>(method: M, params: Params<M>): string => `${method} ${stableJson(params)}`

/** A few recent results of one kind, least recently used dropped first. */
export class RecentResults<T> {
  private readonly map = new Map<string, T>()
  constructor(readonly capacity: number) {}
  get(key: string): T | undefined {
    const value = this.map.get(key)
    if (value !== undefined) {
      this.map.delete(key)
      this.map.set(key, value)
    }
    return value
  }
  set(key: string, value: T): void {
    this.map.delete(key)
    this.map.set(key, value)
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string)
  }
  get size(): number {
    return this.map.size
  }
  clear(): void {
    this.map.clear()
  }
}

/**
 * Results kept per method: activations and filters are large and cheap to recompute; class maps serve the
 * top-5 cards and up to 24 images of the "across images" strip; a unit's top patches are small.
 */
const KEEP: Partial<Record<MethodName, number>> = {
  getActivations: 6,
  getFilters: 8,
  getTopPatches: 24,
  getClassMaps: 48,
  getFaithfulness: 8,
  getClassMapGrid: 6,
}
const DEFAULT_KEEP = 4
const caches = new Map<MethodName, RecentResults<unknown>>()

/** The one cache of `method`'s results in this window. */
export function resultCache<M extends MethodName>(method: M): RecentResults<Result<M>> {
  let cache = caches.get(method)
  if (!cache) caches.set(method, (cache = new RecentResults(KEEP[method] ?? DEFAULT_KEEP)))
  return cache as RecentResults<Result<M>>
}

/** How a call reaches the engine (the jobs store's quiet call in the window, a stand-in in tests). */
export type EngineCaller<M extends MethodName> = (params: Params<M>, signal: AbortSignal) => Promise<Result<M>>

export interface EngineCall<T> {
  /** The result for the current params; the previous one stays (shown stale) while the next loads, and goes when it fails. */
  data: ShallowRef<T | null>
  loading: Ref<boolean>
  error: ShallowRef<ConvscopeError | null>
}

/** What to show for the current params: a key, the result if cached, and how to compute it. */
interface Plan<T> {
  key: string
  cached(): T | undefined
  run(signal: AbortSignal): Promise<T>
}

/** Follow `plan()`: a cache hit shows at once, a new key cancels the previous load, leaving the scope cancels too. */
function follow<T>(plan: () => Plan<T> | null): EngineCall<T> {
  const data = shallowRef<T | null>(null)
  const loading = ref(false)
  const error = shallowRef<ConvscopeError | null>(null)
  let controller: AbortController | null = null
  let shown: string | null | undefined // undefined: nothing yet

  watch(
    plan,
    (p) => {
      const key = p?.key ?? null
      if (key === shown) return // the getter ran again but asks the same
      shown = key
      controller?.abort()
      controller = null
      error.value = null
      loading.value = false
      if (p === null) {
        data.value = null
        return
      }
      const hit = p.cached()
      if (hit !== undefined) {
        data.value = hit
        return
      }
      const mine = new AbortController()
      controller = mine
      loading.value = true
      p.run(mine.signal).then(
        (value) => {
          if (mine.signal.aborted) return
          data.value = value
          loading.value = false
        },
        (err: unknown) => {
          if (mine.signal.aborted) return
          error.value = err instanceof ConvscopeError ? err : new ConvscopeError('INTERNAL', String(err))
          data.value = null // the previous result would pass for this one (issue 9: stale activations under a new name)
          loading.value = false
        },
      )
    },
    { immediate: true },
  )
  onScopeDispose(() => controller?.abort())
  return { data, loading, error }
}

/** One call of `method` with `params()` (null: nothing to load), kept in the method's cache. */
export function engineCall<M extends MethodName>(method: M, params: () => Params<M> | null, call: EngineCaller<M>): EngineCall<Result<M>> {
  const cache = resultCache(method)
  return follow(() => {
    const p = params()
    if (p === null) return null
    const key = callKey(method, p)
    return {
      key,
      cached: () => cache.get(key),
      run: async (signal) => {
        const value = await call(p, signal)
        cache.set(key, value)
        return value
      },
    }
  })
}

/** One answer of a list of calls, with the params it answers (the list may have changed while it loaded). */
export interface Answer<M extends MethodName> {
  params: Params<M>
  result: Result<M>
}

/**
 * Several calls of `method` shown together (one class across a folder's images), one after another; each
 * result is cached on its own, so a longer list only computes what it adds.
 */
export function engineCalls<M extends MethodName>(method: M, list: () => Params<M>[] | null, call: EngineCaller<M>): EngineCall<Answer<M>[]> {
  const cache = resultCache(method)
  return follow(() => {
    const all = list()
    if (all === null) return null
    const keys = all.map((p) => callKey(method, p))
    return {
      key: keys.join('\n'),
      cached: () => {
        const hits = keys.map((k) => cache.get(k))
        return hits.every((h) => h !== undefined) ? all.map((params, i) => ({ params, result: hits[i]! })) : undefined
      },
      run: async (signal) => {
        const out: Answer<M>[] = []
        for (const [i, params] of all.entries()) {
          const result = cache.get(keys[i]!) ?? (await call(params, signal))
          cache.set(keys[i]!, result)
          out.push({ params, result })
        }
        return out
      },
    }
  })
}
