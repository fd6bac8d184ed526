/**
 * BatchNormalization (inference form) and LRN, both as their ONNX definitions over NCHW (channel axis 1).
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
