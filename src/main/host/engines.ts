/**
 * The shell's two engine processes, one per lane of shared/api (`Where`):
 *
 * - `engine`: the interactive process every view waits for (open a model, filters, activations, top
 *   patches). It is started with the shell.
 * - `jobs`: long passes over a dataset (`method('jobs', ...)`: scans, the demo dataset, evaluations). It is
 *   started on the first job.
 *
 * An engine process runs one request at a time (worker.ts), so a scan in the interactive process would queue
 * every view's call behind it for minutes. Both processes run the same worker.ts with the same workspace and
 * backend options and open models by id from the workspace catalog, so either can answer any engine method:
 * the lane only decides who waits for whom. A crash of one process fails only its own calls; the next call
 * of that lane starts it again. Cancellation goes to the process that runs the call (EngineHost.request).
 */
import { methods, type CallOptions, type EngineLane, type EngineProcessInfo, type MethodName, type Params, type Result } from '../../shared/api'
import { EngineHost, type EngineHostOptions } from './engineHost'

export class EngineLanes {
  /** The interactive engine (lane 'engine'). */
  readonly interactive: EngineHost
  /** The engine for long jobs (lane 'jobs'). */
  readonly jobs: EngineHost

  constructor(options: Omit<EngineHostOptions, 'name'>) {
    this.interactive = new EngineHost({ ...options, name: 'engine' })
    this.jobs = new EngineHost({ ...options, name: 'jobs engine' })
  }

  host(lane: EngineLane): EngineHost {
    return lane === 'jobs' ? this.jobs : this.interactive
  }

  /** The process a method runs in (shell methods have none: the router answers them). */
  laneOf(method: MethodName): EngineLane {
    return methods[method].where === 'jobs' ? 'jobs' : 'engine'
  }

  /** Run an engine method in its lane's process (started if it does not run). */
  request<M extends MethodName>(method: M, params: Params<M>, options: CallOptions = {}): Promise<Result<M>> {
    return this.host(this.laneOf(method)).request(method, params, options)
  }

  /** Both processes as getSystemInfo reports them: pid and backend, null where one has not started (yet). */
  processes(): EngineProcessInfo[] {
    return (['engine', 'jobs'] as const).map((lane) => {
      const host = this.host(lane)
      return { lane, pid: host.pid ?? null, backend: host.backend }
    })
  }

  async dispose(): Promise<void> {
    await Promise.all([this.interactive.dispose(), this.jobs.dispose()])
  }
}
