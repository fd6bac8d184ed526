/**
 * Reading a Keras layer node: its config (the layer's getConfig(), flattened into attributes by
 * fromKerasLayers.ts: booleans as 0 / 1, nested number lists flattened, null and objects left out) and its
 * weights, which follow the data inputs and are named by the `weightNames` attribute ("kernel", "bias", ...).
 */
import type * as tf from '@tensorflow/tfjs'
import { UnsupportedOpError, type OpNode } from '../types'

/** A number, a boolean (0 / 1) or the first of a number list; `fallback` when the config has none (null). */
export function num(node: OpNode, key: string, fallback: number): number {
  const v = node.attributes[key]
  if (typeof v === 'number') return v
  if (Array.isArray(v) && typeof v[0] === 'number') return v[0]
  return fallback
}

/** A number or a number list, as a list of `length` (Keras accepts 3 for [3, 3]). */
export function nums(node: OpNode, key: string, length: number, fallback: number): number[] {
  const v = node.attributes[key]
  if (typeof v === 'number') return Array<number>(length).fill(v)
  if (Array.isArray(v) && v.length === length && v.every((x) => typeof x === 'number')) return v as number[]
  if (v === undefined) return Array<number>(length).fill(fallback)
  throw new UnsupportedOpError(`${key} ${JSON.stringify(v)} (expected ${length} numbers)`)
}

export function str(node: OpNode, key: string, fallback: string): string {
  const v = node.attributes[key]
  return typeof v === 'string' ? v : fallback
}

/** Whether a config flag is on (booleans arrive as 0 / 1). */
export const flag = (node: OpNode, key: string, fallback: boolean): boolean => (node.attributes[key] === undefined ? fallback : num(node, key, 0) !== 0)

/** The layer's named weight, or null when the layer has none of that name (use_bias false, center false). */
export function weight(inputs: readonly (tf.Tensor | null)[], node: OpNode, name: string): tf.Tensor | null {
  const names = node.attributes.weightNames
  const list = Array.isArray(names) ? (names as string[]) : []
  const k = list.indexOf(name)
  if (k < 0) return null
  const t = inputs[inputs.length - list.length + k]
  if (!t) throw new UnsupportedOpError(`weight "${name}" missing`)
  return t
}

/** The data inputs (the tensors the layer is called on), without its weights. */
export function data(inputs: readonly (tf.Tensor | null)[], node: OpNode): tf.Tensor[] {
  const names = node.attributes.weightNames
  const count = inputs.length - (Array.isArray(names) ? names.length : 0)
  const out = inputs.slice(0, count)
  if (out.length === 0 || out.some((t) => t == null)) throw new UnsupportedOpError('a missing input tensor')
  return out as tf.Tensor[]
}

/** The one data input of a single-input layer. */
export function one(inputs: readonly (tf.Tensor | null)[], node: OpNode): tf.Tensor {
  const d = data(inputs, node)
  if (d.length !== 1) throw new UnsupportedOpError(`${d.length} inputs (the layer takes one)`)
  return d[0]!
}

/** Only channels-last layers: the engine's layers models are NHWC throughout. */
export function channelsLast(node: OpNode): void {
  const f = str(node, 'dataFormat', 'channelsLast')
  if (f !== 'channelsLast') throw new UnsupportedOpError(`dataFormat "${f}"`)
}

/** 'same' or 'valid' as tfjs-layers passes it to the tfjs op ('causal' is a 1-D convolution's). */
export function padding(node: OpNode): 'same' | 'valid' {
  const p = str(node, 'padding', 'valid')
  if (p !== 'same' && p !== 'valid') throw new UnsupportedOpError(`padding "${p}"`)
  return p
}
