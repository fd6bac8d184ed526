import { resolve } from 'node:path'
import type { BackendReport } from '../../shared/api'
import { initBackend, backendFromEnv } from '../engine/backend'
import type { LoadedModel } from '../engine/model'
import { loadModel } from '../engine/models/loadModel'

/** Initialise the backend for a one-shot CLI command and say which one on stderr (stdout stays machine-readable). */
export async function initCliBackend(flag: string | undefined, quiet = false): Promise<BackendReport> {
  const report = await initBackend({ forced: backendFromEnv(flag) })
  if (!quiet) {
    const chosen = report.attempts.find((a) => a.name === report.active)
    console.error(`convscope: backend ${report.active}${chosen ? ` (${chosen.reason})` : ''}`)
  }
  return report
}

/** The backend, then the model in `dir`, for the length of `use`; the model's tensors are freed after. */
export async function withModel<T>(dir: string, options: { backend?: string; quiet?: boolean }, use: (model: LoadedModel) => Promise<T>): Promise<T> {
  await initCliBackend(options.backend, options.quiet)
  const model = await loadModel(resolve(dir))
  try {
    return await use(model)
  } finally {
    model.dispose()
  }
}
