/**
 * The executor and device an engine process uses: a flag or environment variable given at start (forced), else
 * the Workspace view's setting, saved in `<workspace>/settings.json`. Both end up in CONVSCOPE_EXECUTOR /
 * CONVSCOPE_DEVICE of this process, which forward work reads at call time (executorChoice, deviceChoice).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, ExecutorSettings, type ExecutorReport } from '../../../shared/api'
import type { LoadedModel } from '../model'
import { writeFileAtomic } from '../store/writeFileAtomic'
import { DEVICE_ENV, deviceChoice, deviceInUse, deviceTable, EXECUTOR_ENV, runtimeFacts } from './device'
import { executorChoice, forwardExecutor, forwardFallbackReason, isOnnxRuntime } from './onnxRuntime'

export interface ForcedExecutor {
  /** From --executor / CONVSCOPE_EXECUTOR at start. */
  executor?: string
  /** From --device / CONVSCOPE_DEVICE at start. */
  device?: string
}

export class ExecutorSettingsStore {
  readonly file: string
  private readonly forced: ForcedExecutor

  /** `forced`: the engine's options; a variable already set in `env` (an engine made in-process) is forced too. */
  constructor(
    workspace: string,
    forced: ForcedExecutor = {},
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.file = join(workspace, 'settings.json')
    this.forced = { executor: forced.executor || env[EXECUTOR_ENV] || undefined, device: forced.device || env[DEVICE_ENV] || undefined }
  }

  /** Put the forced choices, else the saved setting, into this process's environment (a bad forced value is a BAD_REQUEST). */
  async load(): Promise<void> {
    const saved = await this.read()
    this.env[EXECUTOR_ENV] = this.forced.executor !== undefined ? executorChoice(this.forced.executor) : (saved?.executor ?? 'auto')
    this.env[DEVICE_ENV] = this.forced.device !== undefined ? deviceChoice(this.forced.device) : (saved?.device ?? 'auto')
  }

  /** The choices in force now. */
  current(): ExecutorSettings {
    return { executor: executorChoice(this.env[EXECUTOR_ENV]), device: deviceChoice(this.env[DEVICE_ENV]) }
  }

  /** Save and apply a choice. A forced choice cannot be changed here; an explicit device must run here (BAD_REQUEST with the reason). */
  async save(settings: ExecutorSettings): Promise<void> {
    const now = this.current()
    if (this.forced.executor !== undefined && settings.executor !== now.executor) throw forcedError('executor', now.executor)
    if (this.forced.device !== undefined && settings.device !== now.device) throw forcedError('device', now.device)
    if (settings.device !== 'auto') deviceInUse(settings.device)
    // A forced choice is not the user's setting: the file keeps the one saved before.
    const before = await this.read()
    const kept = {
      executor: this.forced.executor !== undefined ? (before?.executor ?? 'auto') : settings.executor,
      device: this.forced.device !== undefined ? (before?.device ?? 'auto') : settings.device,
    }
    await writeFileAtomic(this.file, JSON.stringify(ExecutorSettings.parse(kept), null, 2) + '\n', { durable: false })
    this.env[EXECUTOR_ENV] = settings.executor
    this.env[DEVICE_ENV] = settings.device
  }

  /** Where, the executor and device, from the report: what is chosen, what each device can do, what the model runs on. */
  async report(model: LoadedModel | null): Promise<ExecutorReport> {
    const devices = await deviceTable()
    const { executor, device } = this.current()
    let inUse: ExecutorReport['deviceInUse']
    try {
      inUse = deviceInUse(device)
    } catch (error) {
      inUse = { device: null, reason: (error as Error).message }
    }
    return {
      executor: { choice: executor, forcedBy: this.forced.executor !== undefined ? '--executor / CONVSCOPE_EXECUTOR' : null },
      device: { choice: device, forcedBy: this.forced.device !== undefined ? '--device / CONVSCOPE_DEVICE' : null },
      deviceInUse: inUse,
      devices,
      runtime: runtimeFacts(),
      tfjsBackend: tf.getBackend(),
      model: model && modelExecutor(model, executor),
    }
  }

  private async read(): Promise<ExecutorSettings | null> {
    const text = await readFile(this.file, 'utf8').catch(() => null)
    if (text === null) return null
    try {
      return ExecutorSettings.parse(JSON.parse(text))
    } catch {
      return null // a damaged file is replaced by the next save
    }
  }
}

/** The executor the model's forward work runs on and, on tfjs, why; an executor that cannot run is null with the error. */
function modelExecutor(model: LoadedModel, choice: ExecutorSettings['executor']): NonNullable<ExecutorReport['model']> {
  const modelId = model.info.id
  try {
    const executor = forwardExecutor(model, choice)
    if (isOnnxRuntime(executor)) return { modelId, executor, reason: null }
    return { modelId, executor, reason: choice === 'tfjs' ? 'tfjs is chosen' : forwardFallbackReason(model) }
  } catch (error) {
    return { modelId, executor: null, reason: (error as Error).message }
  }
}

const forcedError = (what: 'executor' | 'device', value: string) =>
  new ConvscopeError('BAD_REQUEST', `the ${what} is ${value}, set by --${what} or CONVSCOPE_${what.toUpperCase()} when convscope started; start it without that to choose here`)
