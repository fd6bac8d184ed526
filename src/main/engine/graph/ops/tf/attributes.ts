/**
 * Reading TensorFlow node attributes (as fromTfGraph.ts decodes them) with TensorFlow's defaults, and the small
 * constant inputs TF ops take as tensors (axes, shapes, paddings, permutations).
 */
import type * as tf from '@tensorflow/tfjs'
import { numbersAttr, stringAttr } from '../attributes'
import { UnsupportedOpError, type OpNode } from '../types'

/** The i-th input, which the op requires. */
export function input(inputs: readonly (tf.Tensor | null)[], i: number): tf.Tensor {
  const t = inputs[i]
  if (!t) throw new UnsupportedOpError(`a missing input ${i}`)
  return t
}

/** The values of a small constant-like input (an axis, a shape): read synchronously, as tfjs's converter does. */
export function inputValues(inputs: readonly (tf.Tensor | null)[], i: number): number[] {
  return Array.from(input(inputs, i).dataSync())
}

/** Only NHWC (the converter's layout, and the engine's). */
export function checkNhwc(node: OpNode): void {
  const format = stringAttr(node, 'data_format', 'NHWC')
  if (format !== 'NHWC') throw new UnsupportedOpError(`data_format ${format}`)
}

/** A 4-D [1, h, w, 1] attribute (strides, ksize, dilations) as its [h, w]. */
export function spatialPair(node: OpNode, name: string, fallback = 1): [number, number] {
  const v = numbersAttr(node, name)
  if (!v || v.length === 0) return [fallback, fallback]
  if (v.length !== 4) throw new UnsupportedOpError(`${name} [${v.join(', ')}]`)
  return [v[1]!, v[2]!]
}

export type TfPadding = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]]

/** padding "SAME" / "VALID", or "EXPLICIT" with explicit_paddings (8 numbers, a pair per NHWC axis). */
export function padding(node: OpNode, explicitAllowed: boolean): TfPadding {
  const p = stringAttr(node, 'padding', 'VALID').toUpperCase()
  if (p === 'SAME') return 'same'
  if (p === 'VALID') return 'valid'
  const e = numbersAttr(node, 'explicit_paddings')
  if (p === 'EXPLICIT' && explicitAllowed && e?.length === 8) {
    return [
      [e[0]!, e[1]!],
      [e[2]!, e[3]!],
      [e[4]!, e[5]!],
      [e[6]!, e[7]!],
    ]
  }
  throw new UnsupportedOpError(`padding ${p}`)
}

const TF_DTYPES: Readonly<Record<string, 'float32' | 'int32' | 'bool'>> = {
  DT_FLOAT: 'float32',
  DT_HALF: 'float32',
  DT_DOUBLE: 'float32',
  DT_INT32: 'int32',
  DT_INT64: 'int32',
  DT_INT16: 'int32',
  DT_INT8: 'int32',
  DT_UINT8: 'int32',
  DT_BOOL: 'bool',
}

/** The tfjs dtype a TensorFlow type attribute runs as (int64 as int32, double as float32, as tfjs does). */
export function dtypeAttr(node: OpNode, name: string): 'float32' | 'int32' | 'bool' {
  const t = stringAttr(node, name, 'DT_FLOAT')
  const d = TF_DTYPES[t]
  if (!d) throw new UnsupportedOpError(`${name} ${t}`)
  return d
}

/** A list-of-strings attribute ([] when absent). */
export function stringsAttr(node: OpNode, name: string): string[] {
  const v = node.attributes[name]
  return Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : []
}
