/**
 * Executors and devices (issue 11): forward-only work runs on onnxruntime-node (on a device: an execution
 * provider) or on tfjs; gradients always on tfjs. The choice is a flag (`--executor`, `--device`), an environment
 * variable (CONVSCOPE_EXECUTOR, CONVSCOPE_DEVICE) or the Workspace view's setting, saved in the workspace.
 */
import { z } from 'zod'
import { ModelId } from './common'

/** auto: onnxruntime where the model can run on it, else tfjs; tfjs / onnxruntime force one. */
export const ExecutorChoice = z.enum(['auto', 'tfjs', 'onnxruntime'])
export type ExecutorChoice = z.infer<typeof ExecutorChoice>

/** onnxruntime execution providers convscope offers: CPU, CUDA (Linux x64), DirectML (Windows), CoreML (macOS). */
export const DeviceName = z.enum(['cpu', 'cuda', 'dml', 'coreml'])
export type DeviceName = z.infer<typeof DeviceName>

/** auto: the platform's accelerator where it works, else cpu (with the reason). */
export const DeviceChoice = z.enum(['auto', 'cpu', 'cuda', 'dml', 'coreml'])
export type DeviceChoice = z.infer<typeof DeviceChoice>

/** The Workspace view's setting (`<workspace>/settings.json`); a flag or environment variable overrides it. */
export const ExecutorSettings = z.object({ executor: ExecutorChoice, device: DeviceChoice })
export type ExecutorSettings = z.infer<typeof ExecutorSettings>

/** Whether onnxruntime can run on a device here, and why (not): the error of a real one-node session, or what is missing. */
export const DeviceAvailability = z.object({ device: DeviceName, available: z.boolean(), reason: z.string() })
export type DeviceAvailability = z.infer<typeof DeviceAvailability>

export const ExecutorReport = z.object({
  /** What is chosen now, and where each choice comes from. */
  executor: z.object({ choice: ExecutorChoice, forcedBy: z.string().nullable() }),
  device: z.object({ choice: DeviceChoice, forcedBy: z.string().nullable() }),
  /** The device onnxruntime sessions use with this choice and why; null with the reason where the explicit device cannot run here. */
  deviceInUse: z.object({ device: DeviceName.nullable(), reason: z.string() }),
  /** One row per device, in the order of DeviceName. */
  devices: z.array(DeviceAvailability),
  /** onnxruntime-node's version and the backends its build for this platform lists. */
  runtime: z.object({ version: z.string(), backends: z.array(z.string()) }).nullable(),
  /** The tfjs backend gradient work (and forward work that cannot use onnxruntime) runs on. */
  tfjsBackend: z.string(),
  /** For the asked model: the executor its forward-only work runs on ('onnxruntime-<device>' or 'tfjs-<backend>') and, on tfjs, why. */
  model: z.object({ modelId: ModelId, executor: z.string().nullable(), reason: z.string().nullable() }).nullable(),
})
export type ExecutorReport = z.infer<typeof ExecutorReport>

export const GetExecutors = z.object({ modelId: ModelId.optional() })
export const SetExecutorSettings = ExecutorSettings.extend({ modelId: ModelId.optional() })
