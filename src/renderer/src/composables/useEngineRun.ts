import type { MethodName, Params, Result } from '@shared/api'
import { useJobs } from '../stores/jobs'
import { engineRun, type EngineRun, type EngineRunOptions } from './engineRun'

/**
 * Run `method` with `params()` when `run()` is called, through the jobs store (status bar, Jobs view for
 * long jobs), with progress and cancel; errors are shown in place, not toasted. See engineRun.ts.
 */
export function useEngineRun<M extends MethodName>(
  method: M,
  params: () => Params<M> | null,
  options: EngineRunOptions & { label: (params: Params<M>) => string },
): EngineRun<Result<M>> {
  const jobs = useJobs()
  return engineRun(method, params, (p, signal, onProgress) => jobs.call(method, p, { label: options.label(p), signal, quiet: true, onProgress }), options)
}
