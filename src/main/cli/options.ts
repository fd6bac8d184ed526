/**
 * Options shared by the commands: one parser each, so every command refuses a bad value with the same
 * kind of message naming the flag (BAD_REQUEST: the CLI prints it and exits 2).
 */
import { ConvscopeError } from '../../shared/api'
import { DEVICE_ENV, deviceChoice, deviceInUse, EXECUTOR_ENV } from '../engine/executors/device'
import { executorChoice } from '../engine/executors/onnxRuntime'

/** A whole number ≥ min; undefined when the option is absent. */
export function wholeNumberOption(text: string | undefined, flag: string, min = 1): number | undefined {
  if (text === undefined) return undefined
  const n = Number(text)
  if (!Number.isInteger(n) || n < min) throw new ConvscopeError('BAD_REQUEST', `${flag} must be a whole number ≥ ${min}, got "${text}"`)
  return n
}

/** A fraction strictly between 0 and 1 (a map threshold). */
export function fractionOption(text: string, flag: string): number {
  const n = Number(text)
  if (!(n > 0 && n < 1)) throw new ConvscopeError('BAD_REQUEST', `${flag} must be a fraction between 0 and 1, got "${text}"`)
  return n
}

/** `--executor` and `--device`, for every command that computes (spread into its parseArgs options). */
export const executorOptions = { executor: { type: 'string' }, device: { type: 'string' } } as const

/** Usage text of executorOptions, for the commands' usage lines. */
export const EXECUTOR_USAGE = '[--executor auto|tfjs|onnxruntime] [--device auto|cpu|cuda|dml|coreml]'

/**
 * Checks `--executor` / `--device` and sets CONVSCOPE_EXECUTOR / CONVSCOPE_DEVICE, which the engine reads at call
 * time and worker and engine processes inherit. An explicit device that cannot run here fails now, with the reason.
 */
export function applyExecutorOptions(values: { executor?: string; device?: string }, env: NodeJS.ProcessEnv = process.env): void {
  if (values.executor !== undefined) env[EXECUTOR_ENV] = executorChoice(values.executor, '--executor')
  if (values.device !== undefined) {
    const choice = deviceChoice(values.device, '--device')
    if (choice !== 'auto') deviceInUse(choice)
    env[DEVICE_ENV] = choice
  }
}

/** `--set name=value` flags (a projection's settings, `embed` and `grid`) as params; the projections registry's resolveParams checks and types them. */
export function settingsOption(sets: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const s of sets ?? []) {
    const eq = s.indexOf('=')
    if (eq <= 0 || eq === s.length - 1) throw new ConvscopeError('BAD_REQUEST', `--set takes name=value (e.g. --set perplexity=30), got "${s}"`)
    out[s.slice(0, eq).trim()] = s.slice(eq + 1).trim()
  }
  return out
}
