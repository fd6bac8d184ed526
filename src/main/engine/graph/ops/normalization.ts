/**
 * BatchNormalization (inference form), InstanceNormalization, LayerNormalization (opset 17: what PyTorch's
 * LayerNorm exports to at opset ≥ 17) and LRN, as their ONNX definitions (channel axis 1).
 */
import * as tf from '@tensorflow/tfjs'
import { floatAttr, input, intAttr } from './attributes'
import { UnsupportedOpError, type OpKernel } from './types'

/** A per-channel [C] tensor shaped to broadcast over [N, C, d1, ...]. */
function perChannel(t: tf.Tensor, rank: number): tf.Tensor {
  return tf.reshape(t, [t.size, ...Array(Math.max(0, rank - 2)).fill(1)])
}

/** Y = (X − mean) / sqrt(var + epsilon) · scale + B. */
export const batchNormalization: OpKernel = (inputs, node) => {
  if (intAttr(node, 'training_mode', 0) !== 0 || node.outputCount > 1) throw new UnsupportedOpError('BatchNormalization in training mode (running mean / variance outputs)')
  const x = input(inputs, 0, 'X')
  const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => perChannel(input(inputs, i, 'scale, B, mean, var'), x.rank))
  const epsilon = floatAttr(node, 'epsilon', 1e-5)
  const factor = tf.mul(scale!, tf.rsqrt(tf.add(variance!, epsilon)))
  return [tf.add(tf.mul(tf.sub(x, mean!), factor), bias!)]
}

/**
 * LRN as ONNX defines it: square_sum[c] = Σ x[i]² for i in [c − floor((size − 1) / 2), c + ceil((size − 1) / 2)]
 * (within the channels), Y = X / (bias + alpha / size · square_sum)^beta. (tf.localResponseNormalization's window
 * is symmetric and its alpha is not divided by size.)
 */
export const lrn: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'X')
  const size = intAttr(node, 'size', 0)
  if (size < 1) throw new UnsupportedOpError(`LRN size ${size}`)
  const alpha = floatAttr(node, 'alpha', 1e-4)
  const beta = floatAttr(node, 'beta', 0.75)
  const bias = floatAttr(node, 'bias', 1)
  const before = Math.floor((size - 1) / 2)
  const after = size - 1 - before
  const paddings = x.shape.map((_, i): [number, number] => (i === 1 ? [before, after] : [0, 0]))
  const squares = tf.pad(tf.square(x), paddings)
  // a fresh begin array per slice: tfjs keeps the one it is given for the gradient
  const window = (k: number): tf.Tensor => tf.slice(squares, x.shape.map((_, i) => (i === 1 ? k : 0)), x.shape)
  let sum = window(0)
  for (let k = 1; k < size; k++) sum = tf.add(sum, window(k))
  return [tf.div(x, tf.pow(tf.add(tf.mul(sum, alpha / size), bias), beta))]
}

/** InstanceNormalization: each (n, c) plane normalised by its own mean and variance, then scale · … + B per channel. */
export const instanceNormalization: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'input')
  const axes = Array.from({ length: x.rank - 2 }, (_, i) => i + 2)
  const { mean, variance } = tf.moments(x, axes, true)
  const normalized = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, floatAttr(node, 'epsilon', 1e-5))))
  const [scale, bias] = [1, 2].map((i) => perChannel(input(inputs, i, 'scale, B'), x.rank))
  return [tf.add(tf.mul(normalized, scale!), bias!)]
}

/**
 * LayerNormalization: normalised over the axes from `axis` (default −1) on, then · Scale + B (broadcast).
 * The optional Mean and InvStdDev outputs are given when asked (with the reduced axes kept).
 */
export const layerNormalization: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'X')
  if (intAttr(node, 'stash_type', 1) !== 1) throw new UnsupportedOpError(`stash_type ${intAttr(node, 'stash_type', 1)}`)
  const axis = intAttr(node, 'axis', -1)
  const first = axis < 0 ? axis + x.rank : axis
  if (first < 0 || first >= x.rank) throw new UnsupportedOpError(`axis ${axis} for a tensor of rank ${x.rank}`)
  const axes = Array.from({ length: x.rank - first }, (_, i) => first + i)
  const { mean, variance } = tf.moments(x, axes, true)
  const invStdDev = tf.rsqrt(tf.add(variance, floatAttr(node, 'epsilon', 1e-5)))
  let y = tf.mul(tf.mul(tf.sub(x, mean), invStdDev), input(inputs, 1, 'Scale'))
  if (inputs[2] != null) y = tf.add(y, inputs[2])
  return [y, mean, invStdDev].slice(0, Math.max(1, node.outputCount))
}
