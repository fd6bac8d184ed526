/**
 * Reading a node's attributes and its small shape-like inputs, with the ONNX defaults, in one place.
 */
import * as tf from '@tensorflow/tfjs'
import type { OnnxAttributeTensor, OnnxAttributeValue } from '../../models/onnx/reader'
import { UnsupportedOpError, type OpNode } from './types'

function attr(node: OpNode, name: string): OnnxAttributeValue | undefined {
  return node.attributes[name]
}

export function intAttr(node: OpNode, name: string, fallback: number): number {
  const v = attr(node, name)
  return typeof v === 'number' ? v : fallback
}

export function floatAttr(node: OpNode, name: string, fallback: number): number {
  const v = attr(node, name)
  return typeof v === 'number' ? v : fallback
}

export function stringAttr(node: OpNode, name: string, fallback: string): string {
  const v = attr(node, name)
  return typeof v === 'string' ? v : fallback
}

/** An INTS / FLOATS attribute, or undefined when the node does not have it. */
export function numbersAttr(node: OpNode, name: string): number[] | undefined {
  const v = attr(node, name)
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v as number[]
  return undefined
}

export function tensorAttr(node: OpNode, name: string): OnnxAttributeTensor | undefined {
  const v = attr(node, name)
  return v != null && typeof v === 'object' && !Array.isArray(v) && v.kind === 'tensor' ? v : undefined
}

/** The tfjs dtype an ONNX element type runs as: floats as float32, integers as int32, bool as bool. */
export function tfDtype(onnxDtype: string): 'float32' | 'int32' | 'bool' {
  if (onnxDtype === 'bool') return 'bool'
  if (/^u?int\d+$/.test(onnxDtype)) return 'int32'
  if (/^(float|bfloat)\d+$/.test(onnxDtype)) return 'float32'
  throw new UnsupportedOpError(`element type ${onnxDtype}`)
}

const INT32_MIN = -(2 ** 31)
const INT32_MAX = 2 ** 31 - 1

/**
 * int64 values as the int32 that tfjs holds, clamped: exporters write INT64_MAX / INT64_MIN for "to the end"
 * (Slice ends), which Int32Array.from would wrap to 0 / 0. Every int64 tensor (initializer or attribute) goes
 * through this.
 */
export function int32Values(values: ArrayLike<number>): Int32Array {
  return Int32Array.from(values, (v) => Math.min(INT32_MAX, Math.max(INT32_MIN, v)))
}

/** The tfjs tensor of a TENSOR attribute (Constant's value, ConstantOfShape's value). */
export function attributeTensor(t: OnnxAttributeTensor): tf.Tensor {
  const dtype = tfDtype(t.dtype)
  const values = dtype === 'float32' ? Float32Array.from(t.values) : dtype === 'int32' ? int32Values(t.values) : Uint8Array.from(t.values)
  return tf.tensor(values, t.dims, dtype)
}

/** A small shape-like input (shape, pads, axes, starts, ...) read synchronously; undefined when omitted. */
export function readInts(t: tf.Tensor | null | undefined): number[] | undefined {
  if (t == null) return undefined
  return Array.from(t.dataSync() as ArrayLike<number>, Number)
}

/** A scalar input such as Clip's min or Pad's constant_value; undefined when omitted. */
export function readScalar(t: tf.Tensor | null | undefined): number | undefined {
  if (t == null) return undefined
  if (t.size !== 1) throw new UnsupportedOpError(`a non-scalar input of shape [${t.shape.join(', ')}] where a scalar is expected`)
  return Number(t.dataSync()[0])
}

/** `axis` made non-negative for a tensor of `rank` dimensions. */
export function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis
  if (a < 0 || a >= Math.max(rank, 1)) throw new UnsupportedOpError(`axis ${axis} for a tensor of rank ${rank}`)
  return a
}

/** The required input `index` (a missing required input is a malformed node). */
export function input(inputs: readonly (tf.Tensor | null)[], index: number, what: string): tf.Tensor {
  const t = inputs[index]
  if (t == null) throw new UnsupportedOpError(`missing input ${index} (${what})`)
  return t
}
