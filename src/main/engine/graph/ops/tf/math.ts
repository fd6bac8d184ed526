/**
 * TensorFlow arithmetic, activations, products, reductions and normalization, as the TF.js converter's graph
 * models use them (the same tfjs ops tf.GraphModel runs, so results and gradients agree with it).
 */
import * as tf from '@tensorflow/tfjs'
import { floatAttr, intAttr } from '../attributes'
import type { OpKernel } from '../types'
import { checkNhwc, input, inputValues } from './attributes'
import { leaky, RELU, RELU6, reluFamily } from '../reluRule'
import { withFusedActivation } from './conv'

const binary =
  (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): OpKernel =>
  (inputs) => [f(input(inputs, 0), input(inputs, 1))]

const unary =
  (f: (x: tf.Tensor) => tf.Tensor): OpKernel =>
  (inputs) => [f(input(inputs, 0))]

export const add = binary(tf.add)
export const sub = binary(tf.sub)
export const mul = binary(tf.mul)
export const div = binary(tf.div)
export const maximum = binary(tf.maximum)
export const minimum = binary(tf.minimum)
export const pow = binary(tf.pow)
export const squaredDifference = binary(tf.squaredDifference)
export const addN: OpKernel = (inputs) => [tf.addN(inputs.map((_, i) => input(inputs, i)))]

export const relu = unary((x) => reluFamily(x, RELU, tf.relu))
export const relu6 = unary((x) => reluFamily(x, RELU6, tf.relu6))
export const elu = unary(tf.elu)
export const selu = unary(tf.selu)
export const sigmoid = unary(tf.sigmoid)
export const tanh = unary(tf.tanh)
export const softplus = unary(tf.softplus)
export const sqrt = unary(tf.sqrt)
export const rsqrt = unary(tf.rsqrt)
export const square = unary(tf.square)
export const neg = unary(tf.neg)
export const exp = unary(tf.exp)
export const log = unary(tf.log)
export const abs = unary(tf.abs)
export const leakyRelu: OpKernel = (inputs, node) => {
  const alpha = floatAttr(node, 'alpha', 0.2)
  return [reluFamily(input(inputs, 0), leaky(alpha), (x) => tf.leakyRelu(x, alpha))]
}
export const prelu: OpKernel = (inputs) => [tf.prelu(input(inputs, 0), input(inputs, 1))]
export const softmax = unary((x) => tf.softmax(x))
/** ClipByValue: scalar bounds as inputs 1 and 2; ClipByValue(0, 6) is a ReLU6 (the pixel maps' ReLU rules apply). */
export const clipByValue: OpKernel = (inputs) => {
  const [min, max] = [inputValues(inputs, 1)[0]!, inputValues(inputs, 2)[0]!]
  const plain = (x: tf.Tensor) => tf.clipByValue(x, min, max)
  return [min === 0 && max === 6 ? reluFamily(input(inputs, 0), RELU6, plain) : plain(input(inputs, 0))]
}
export const logSoftmax = unary((x) => tf.logSoftmax(x))

/** BiasAdd: the bias over the last (channel) axis. */
export const biasAdd: OpKernel = (inputs, node) => {
  checkNhwc(node)
  return [tf.add(input(inputs, 0), input(inputs, 1))]
}

export const matMul: OpKernel = (inputs, node) => [
  tf.matMul(input(inputs, 0), input(inputs, 1), intAttr(node, 'transpose_a', 0) === 1, intAttr(node, 'transpose_b', 0) === 1),
]

export const batchMatMul: OpKernel = (inputs, node) => [
  tf.matMul(input(inputs, 0), input(inputs, 1), intAttr(node, 'adj_x', 0) === 1, intAttr(node, 'adj_y', 0) === 1),
]

export const fusedMatMul: OpKernel = (inputs, node) => [
  withFusedActivation(node, inputs, (tail) =>
    tf.fused.matMul({
      a: input(inputs, 0) as tf.Tensor2D,
      b: input(inputs, 1) as tf.Tensor2D,
      transposeA: intAttr(node, 'transpose_a', 0) === 1,
      transposeB: intAttr(node, 'transpose_b', 0) === 1,
      ...tail,
    }),
  ),
]

/** Mean / Max / Min / Sum / Prod over the axes of input 1, keep_dims as the attribute says. */
const reduction =
  (f: (x: tf.Tensor, axis: number[], keepDims: boolean) => tf.Tensor): OpKernel =>
  (inputs, node) => [f(input(inputs, 0), inputValues(inputs, 1), intAttr(node, 'keep_dims', 0) === 1)]

export const mean = reduction((x, a, k) => tf.mean(x, a, k))
export const max = reduction((x, a, k) => tf.max(x, a, k))
export const min = reduction((x, a, k) => tf.min(x, a, k))
export const sum = reduction((x, a, k) => tf.sum(x, a, k))
export const prod = reduction((x, a, k) => tf.prod(x, a, k))

/** FusedBatchNorm(V2/V3) at inference: x, scale, offset, mean, variance (only the first output, y). */
export const fusedBatchNorm: OpKernel = (inputs, node) => {
  checkNhwc(node)
  const [x, scale, offset, m, v] = [0, 1, 2, 3, 4].map((i) => input(inputs, i))
  return [tf.batchNorm(x!, m!, v!, offset!, scale!, floatAttr(node, 'epsilon', 0.001))]
}
