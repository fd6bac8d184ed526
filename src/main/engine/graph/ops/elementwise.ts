/**
 * Elementwise ops with ONNX's multidirectional (numpy) broadcasting, which tfjs's binary ops share:
 * Add, Sub, Mul, Div, Pow, the variadic Max, Min, Sum, Mean, the unary Sqrt, Neg, Abs, Exp, Log,
 * Reciprocal, Floor, Ceil, and the comparisons and logic of masks: Equal, Greater, Less, GreaterOrEqual,
 * LessOrEqual, Not, And, Or, Where.
 */
import * as tf from '@tensorflow/tfjs'
import { input } from './attributes'
import { UnsupportedOpError, type OpKernel } from './types'

const binary =
  (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): OpKernel =>
  (inputs) => [f(input(inputs, 0, 'A'), input(inputs, 1, 'B'))]

const unary =
  (f: (x: tf.Tensor) => tf.Tensor): OpKernel =>
  (inputs) => [f(input(inputs, 0, 'X'))]

/** Variadic: one or more inputs folded with `f`. */
const variadic =
  (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): OpKernel =>
  (inputs) => {
    const present = inputs.filter((t): t is tf.Tensor => t != null)
    if (present.length === 0) throw new UnsupportedOpError('no inputs')
    return [present.length === 1 ? tf.clone(present[0]!) : present.slice(1).reduce(f, present[0]!)]
  }

export const add = binary(tf.add)
export const sub = binary(tf.sub)
export const mul = binary(tf.mul)
/** Integer Div truncates toward zero in ONNX; tfjs's int32 div floors, so the sign is handled apart. */
export const div = binary((a, b) => {
  if (a.dtype !== 'int32' || b.dtype !== 'int32') return tf.div(a, b)
  return tf.mul(tf.floorDiv(tf.abs(a), tf.abs(b)), tf.mul(tf.sign(a), tf.sign(b)))
})
/** Pow; x² (LayerNorm's variance) as a square, which is faster and has no log(x) in its gradient. */
export const pow = binary((a, b) => {
  if (b.size === 1 && a.dtype === 'float32' && b.dataSync()[0] === 2) return tf.square(a)
  return tf.pow(a, b.dtype === a.dtype ? b : tf.cast(b, a.dtype))
})
export const max = variadic(tf.maximum)
export const min = variadic(tf.minimum)
export const sum = variadic(tf.add)
export const mean: OpKernel = (inputs, node) => {
  const [total] = sum(inputs, node)
  return [tf.div(total!, inputs.filter((t) => t != null).length)]
}

export const sqrt = unary(tf.sqrt)
export const neg = unary(tf.neg)
export const abs = unary(tf.abs)
export const exp = unary(tf.exp)
export const log = unary(tf.log)
export const reciprocal = unary(tf.reciprocal)
export const floor = unary(tf.floor)
export const ceil = unary(tf.ceil)

export const equal = binary(tf.equal)
export const greater = binary(tf.greater)
export const less = binary(tf.less)
export const greaterOrEqual = binary(tf.greaterEqual)
export const lessOrEqual = binary(tf.lessEqual)
export const and = binary(tf.logicalAnd)
export const or = binary(tf.logicalOr)
export const not = unary(tf.logicalNot)
export const where: OpKernel = (inputs) => [tf.where(input(inputs, 0, 'condition'), input(inputs, 1, 'X'), input(inputs, 2, 'Y'))]
