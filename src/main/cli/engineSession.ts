import { resolve } from 'node:path'
import type { BackendReport } from '../../shared/api'
import { initBackend, backendFromEnv } from '../engine/backend'
import { deviceInUse } from '../engine/executors/device'
import { forwardExecutor, forwardFallbackReason, isOnnxRuntime } from '../engine/executors/onnxRuntime'
import type { LoadedModel } from '../engine/model'
import { loadModel } from '../engine/models/loadModel'

/** Whether one-shot commands name their backend on stderr: `info` does, the others only with `--verbose` (issue 9). */
let announceBackend = false

/** Set once by the CLI's entry from the command-wide `--verbose` flag. */
export function setVerbose(verbose: boolean): void {
  announceBackend = verbose
}

/** Initialise the backend for a one-shot CLI command; `announce`: say which one on stderr (stdout stays machine-readable). */
export async function initCliBackend(flag: string | undefined, quiet = false, announce = announceBackend): Promise<BackendReport> {
  const report = await initBackend({ forced: backendFromEnv(flag) })
  if (announce && !quiet) {
    const chosen = report.attempts.find((a) => a.name === report.active)
    console.error(`convscope: backend ${report.active}${chosen ? ` (${chosen.reason})` : ''}`)
  }
  return report
}

/** The executor forward work of `model` runs on, and why (`info` says it). */
function describeExecutor(model: LoadedModel): string {
  const executor = forwardExecutor(model)
  const why = isOnnxRuntime(executor) ? `device: ${deviceInUse().reason}` : (forwardFallbackReason(model) ?? 'tfjs is chosen')
  return `${executor} (${why})`
}

/** The backend, then the model in `dir`, for the length of `use`; the model's tensors are freed after. */
export async function withModel<T>(dir: string, options: { backend?: string; quiet?: boolean; announce?: boolean }, use: (model: LoadedModel) => Promise<T>): Promise<T> {
  await initCliBackend(options.backend, options.quiet, options.announce)
  const model = await loadModel(resolve(dir))
  try {
    // `info` only: other commands keep --verbose's one backend line before their error (their callers parse it).
    if (options.announce === true && !options.quiet) console.error(`convscope: forward work on ${describeExecutor(model)}`)
    return await use(model)
  } finally {
    model.dispose()
  }
}
