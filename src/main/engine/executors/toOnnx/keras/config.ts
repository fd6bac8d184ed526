/**
 * Reading a Keras layer node for writing: its data inputs, its weights (the node's last inputs, named by the
 * `weightNames` attribute) and its config through the kernels' own readers (graph/ops/keras/config.ts), so both
 * paths read a config the same way; what those readers refuse is the reason a layer is not written.
 */
import type * as tf from '@tensorflow/tfjs'
import type { GraphNode } from '../../../graph/modelGraph'
import { UnsupportedOpError } from '../../../graph/ops/types'
import { KERAS_ACTIVATIONS, type OnnxActivation } from '../activations'
import type { CheckContext, WriteContext } from '../translator'

export { opNode } from '../translator'
export { channelsLast, num, nums, padding, str } from '../../../graph/ops/keras/config'

function weightNames(node: GraphNode): string[] {
  const names = node.attributes.weightNames
  return Array.isArray(names) ? (names as string[]) : []
}

/** The graph tensor of the layer's named weight (a shared layer's calls read the same one), or null. */
export function weightTensor(node: GraphNode, name: string): string | null {
  const list = weightNames(node)
  const k = list.indexOf(name)
  return k < 0 ? null : (node.inputs[node.inputs.length - list.length + k] ?? null)
}

/** The layer's named weight, or null when it has none of that name (use_bias false, center false). */
export function weight(node: GraphNode, ctx: CheckContext, name: string): tf.Tensor | null {
  const tensor = weightTensor(node, name)
  if (tensor === null) return null
  const t = ctx.constant(tensor)
  if (!t) throw new UnsupportedOpError(`weight "${name}" is not a constant`)
  return t
}

/** The layer's data inputs (graph tensor names), without its weights. */
export function dataInputs(node: GraphNode): string[] {
  return node.inputs.slice(0, node.inputs.length - weightNames(node).length)
}

/** The one data input, as an ONNX tensor. */
export function oneInput(node: GraphNode, ctx: WriteContext): string {
  const d = dataInputs(node)
  if (d.length !== 1) throw new UnsupportedOpError(`${d.length} inputs (the layer takes one)`)
  return ctx.input(d[0]!)
}

/** The ONNX form of the node's `activation` config ('linear' when absent). */
export function activation(node: GraphNode): OnnxActivation {
  const v = node.attributes.activation
  const name = typeof v === 'string' ? v : 'linear'
  const f = Object.hasOwn(KERAS_ACTIVATIONS, name) ? KERAS_ACTIVATIONS[name] : undefined
  if (!f) throw new UnsupportedOpError(`activation "${name}"`)
  return f
}
