import { onBeforeUnmount, ref, shallowRef, watch, type Ref, type ShallowRef } from 'vue'
import { ConvscopeError } from '@shared/api'

/** A few recent results of one kind, kept across view switches (tabs unmount their views). */
export class RecentResults<T> {
  private readonly map = new Map<string, T>()
  constructor(private readonly capacity: number) {}
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
}

export interface EngineResource<T> {
  /** The result for the current key; the previous one stays while the next loads. */
  data: ShallowRef<T | null>
  loading: Ref<boolean>
  error: ShallowRef<ConvscopeError | null>
}

/**
 * Load `load(signal)` whenever `key()` changes (null: nothing to load). A newer key cancels the call in
 * flight (the engine gets a cancel envelope), and leaving the view cancels it too. Errors land in `error`
 * for the view to show in place (load with `quiet: true` so they are not toasted as well).
 */
export function useEngineResource<T>(
  key: () => string | null,
  load: (signal: AbortSignal) => Promise<T>,
  cache: RecentResults<T>,
): EngineResource<T> {
  const data = shallowRef<T | null>(null)
  const loading = ref(false)
  const error = shallowRef<ConvscopeError | null>(null)
  let controller: AbortController | null = null

  watch(
    key,
    (k) => {
      controller?.abort()
      controller = null
      error.value = null
      loading.value = false
      if (k === null) {
        data.value = null
        return
      }
      const hit = cache.get(k)
      if (hit !== undefined) {
        data.value = hit
        return
      }
      const mine = new AbortController()
      controller = mine
      loading.value = true
      load(mine.signal).then(
        (value) => {
          if (mine.signal.aborted) return
          cache.set(k, value)
          data.value = value
          loading.value = false
        },
        (err: unknown) => {
          if (mine.signal.aborted) return
          error.value = err instanceof ConvscopeError ? err : new ConvscopeError('INTERNAL', String(err))
          loading.value = false
        },
      )
    },
    { immediate: true },
  )
  onBeforeUnmount(() => controller?.abort())
  return { data, loading, error }
}
