/**
 * The one entry for forward-only work (issue 11): activations, classify, CAM, localization with CAM and the
 * fully-convolutional class grid ask here for a forward pass to some layers. The executor is chosen at call time
 * (the request's choice, else CONVSCOPE_EXECUTOR, so a benchmark can flip it between runs) by forwardExecutor:
 * onnxruntime where the model has a runtime source, else tfjs. Values come back as LoadedModel.forward presents
 * them (NHWC maps) whichever ran. Gradient methods never come here: they need tfjs tensors inside tf.grad.
 */
import * as tf from '@tensorflow/tfjs'
import type { LoadedModel } from '../model'
import { executorChoice, forwardExecutor, isOnnxRuntime, runOnnxRuntime, type ExecutorChoice, type ExecutorName, type Values } from './onnxRuntime'

/** A batch as a tfjs tensor [n, h, w, c] or as NHWC values; the caller keeps ownership of a tensor. */
export type ForwardInput = tf.Tensor4D | Values

export interface ForwardRequest {
  /** Default: executorChoice() (CONVSCOPE_EXECUTOR) read at call time. */
  executor?: ExecutorChoice
}

export interface ForwardValues {
  /** Per requested name, in order. */
  values: Values[]
  executor: ExecutorName
}

export interface ForwardTensors {
  /** Per requested name, in order; the caller disposes them. */
  tensors: tf.Tensor[]
  executor: ExecutorName
}

/** The executor a forward of `model` runs on for this request. */
export function chosenExecutor(model: LoadedModel, request: ForwardRequest = {}): ExecutorName {
  return forwardExecutor(model, request.executor ?? executorChoice())
}

/** The executor chosen now, and a request that keeps it for the rest of a job (every batch of a folder on one executor). */
export function pinExecutor(model: LoadedModel, request: ForwardRequest = {}): { executor: ExecutorName; request: ForwardRequest } {
  const executor = chosenExecutor(model, request)
  return { executor, request: { executor: isOnnxRuntime(executor) ? 'onnxruntime' : 'tfjs' } }
}

const isTensor = (input: ForwardInput): input is tf.Tensor4D => input instanceof tf.Tensor

async function valuesOf(input: ForwardInput): Promise<Values> {
  return isTensor(input) ? { data: (await input.data()) as Float32Array, shape: input.shape } : input
}

/** model.forward on tfjs, with a tensor made from values when needed (disposed here). */
function tfjsForward(model: LoadedModel, input: ForwardInput, names: string[]): tf.Tensor[] {
  if (isTensor(input)) return model.forward(input, names)
  const x = tf.tensor4d(input.data, input.shape as [number, number, number, number])
  try {
    return model.forward(x, names)
  } finally {
    x.dispose()
  }
}

/** One forward pass of `input` to `names` (layers, OUTPUT, any name forward takes), read into values. */
export async function forwardLayers(model: LoadedModel, input: ForwardInput, names: string[], request: ForwardRequest = {}): Promise<ForwardValues> {
  const executor = chosenExecutor(model, request)
  if (isOnnxRuntime(executor)) return { values: (await runOnnxRuntime(model, await valuesOf(input), names)).layers, executor }
  const outs = tfjsForward(model, input, names)
  try {
    return { values: await Promise.all(outs.map(async (t) => ({ data: (await t.data()) as Float32Array, shape: t.shape }))), executor }
  } finally {
    tf.dispose(outs)
  }
}

/**
 * The same pass for work that goes on with tfjs tensors (top-k, CAM's matmul): on tfjs forward's own tensors, on
 * onnxruntime tensors made from its values. The caller disposes them.
 */
export async function forwardTensors(model: LoadedModel, input: ForwardInput, names: string[], request: ForwardRequest = {}): Promise<ForwardTensors> {
  const executor = chosenExecutor(model, request)
  if (!isOnnxRuntime(executor)) return { tensors: tfjsForward(model, input, names), executor }
  const { layers } = await runOnnxRuntime(model, await valuesOf(input), names)
  return { tensors: layers.map((v) => tf.tensor(v.data, v.shape)), executor }
}
