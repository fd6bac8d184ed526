import type { BackendReport } from '../../shared/api'
import { initBackend, backendFromEnv } from '../engine/backend'

/** Initialise the backend for a one-shot CLI command and say which one on stderr (stdout stays machine-readable). */
export async function initCliBackend(flag: string | undefined, quiet = false): Promise<BackendReport> {
  const report = await initBackend({ forced: backendFromEnv(flag) })
  if (!quiet) {
    const chosen = report.attempts.find((a) => a.name === report.active)
    console.error(`convscope: backend ${report.active}${chosen ? ` (${chosen.reason})` : ''}`)
  }
  return report
}
