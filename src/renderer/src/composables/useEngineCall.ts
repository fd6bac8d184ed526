import type { MethodName, Params, Result } from '@shared/api'
import { useJobs } from '../stores/jobs'
import { engineCall, engineCalls, type Answer, type EngineCall, type EngineCaller } from './engineCall'

export interface EngineCallOptions<M extends MethodName> {
  /** What the status bar says while it runs (default: the method's name). */
  label?: (params: Params<M>) => string
}

/** The jobs store's quiet call: the view shows errors in place, so they are not toasted as well. */
function quietCall<M extends MethodName>(method: M, options: EngineCallOptions<M>): EngineCaller<M> {
  const jobs = useJobs()
  return (params, signal) => jobs.call(method, params, { label: options.label?.(params) ?? method, signal, quiet: true })
}

/**
 * Load `method` with `params()` whenever they change (null: nothing to load), keyed on the whole params and
 * cached per method across view switches; a change cancels the call in flight, and so does leaving the view.
 */
export function useEngineCall<M extends MethodName>(method: M, params: () => Params<M> | null, options: EngineCallOptions<M> = {}): EngineCall<Result<M>> {
  return engineCall(method, params, quietCall(method, options))
}

/** As useEngineCall, for several calls shown together (each result cached on its own). */
export function useEngineCalls<M extends MethodName>(method: M, list: () => Params<M>[] | null, options: EngineCallOptions<M> = {}): EngineCall<Answer<M>[]> {
  return engineCalls(method, list, quietCall(method, options))
}
