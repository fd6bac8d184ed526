/**
 * Activations: Relu, LeakyRelu, PRelu, Clip, Sigmoid, HardSigmoid, HardSwish, Tanh, Erf, Gelu, Elu,
 * Softplus, Softmax, LogSoftmax. Built from differentiable tfjs ops, so tf.grad (and the gradient overrides of the
 * ReLU family for guided backprop) runs through them.
 */
import * as tf from '@tensorflow/tfjs'
import { floatAttr, input, intAttr, normalizeAxis, readScalar, stringAttr } from './attributes'
import { leaky, RELU, RELU6, reluFamily } from './reluRule'
import { UnsupportedOpError, type OpKernel, type OpNode } from './types'

/** An op of one input and one output. */
const unary =
  (f: (x: tf.Tensor, node: OpNode) => tf.Tensor): OpKernel =>
  (inputs, node) => [f(input(inputs, 0, 'X'), node)]

export const relu = unary((x) => reluFamily(x, RELU, tf.relu))
export const leakyRelu = unary((x, node) => {
  const alpha = floatAttr(node, 'alpha', 0.01)
  return reluFamily(x, leaky(alpha), (t) => tf.leakyRelu(t, alpha))
})
export const sigmoid = unary((x) => tf.sigmoid(x))
export const tanh = unary((x) => tf.tanh(x))
export const erf = unary((x) => tf.erf(x))
export const softplus = unary((x) => tf.softplus(x))

/** PRelu: x above 0, slope · x below, slope broadcast (tf.prelu's wasm kernel only takes a per-last-axis slope). */
export const prelu: OpKernel = (inputs) => {
  const x = input(inputs, 0, 'X')
  return [tf.add(tf.relu(x), tf.mul(input(inputs, 1, 'slope'), tf.minimum(x, 0)))]
}

/** Clip: min / max as attributes before opset 11, as optional inputs since; absent bounds do not clip. */
export const clip: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'input')
  const [min, max] =
    node.opset < 11
      ? [floatAttr(node, 'min', -Infinity), floatAttr(node, 'max', Infinity)]
      : [readScalar(inputs[1]) ?? -Infinity, readScalar(inputs[2]) ?? Infinity]
  if (min > max) return [tf.fill(x.shape, max, x.dtype)] // ONNX: every value becomes max
  const plain = (t: tf.Tensor) => tf.clipByValue(t, min, max)
  // Clip(0, 6) is how exporters write ReLU6 (Clip(0, ∞) a ReLU): the pixel maps' ReLU rules apply to it.
  if (min === 0 && (max === 6 || max === Infinity)) return [reluFamily(x, max === 6 ? RELU6 : RELU, plain)]
  return [plain(x)]
}

/** max(0, min(1, alpha·x + beta)). */
function hardSigmoidOf(x: tf.Tensor, alpha: number, beta: number): tf.Tensor {
  return tf.clipByValue(tf.add(tf.mul(x, alpha), beta), 0, 1)
}

export const hardSigmoid = unary((x, node) => hardSigmoidOf(x, floatAttr(node, 'alpha', 0.2), floatAttr(node, 'beta', 0.5)))
export const hardSwish = unary((x) => tf.mul(x, hardSigmoidOf(x, 1 / 6, 0.5)))

/** alpha·(exp(x) − 1) below 0, x above. */
export const elu = unary((x, node) => {
  const alpha = floatAttr(node, 'alpha', 1)
  return alpha === 1 ? tf.elu(x) : tf.where(tf.greater(x, 0), x, tf.mul(tf.sub(tf.exp(x), 1), alpha))
})

/** Gelu (opset 20): exact with erf, or approximate "tanh". */
export const gelu = unary((x, node) => {
  const approximate = stringAttr(node, 'approximate', 'none')
  if (approximate === 'none') return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1))
  if (approximate !== 'tanh') throw new UnsupportedOpError(`approximate "${approximate}"`)
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI))
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1))
})

/**
 * Runs `f` (along one axis, keepDims) as the opset says: since 13 over the single axis (default −1); before 13 the
 * input is coerced to 2-D [prod(dims before axis), prod(dims from axis)] (default axis 1) and `f` runs over its rows.
 */
function alongSoftmaxAxis(x: tf.Tensor, node: OpNode, f: (t: tf.Tensor, axis: number) => tf.Tensor): tf.Tensor {
  if (node.opset >= 13) return f(x, normalizeAxis(intAttr(node, 'axis', -1), x.rank))
  const axis = normalizeAxis(intAttr(node, 'axis', 1), x.rank)
  const rows = x.shape.slice(0, axis).reduce((a, b) => a * b, 1)
  return tf.reshape(f(tf.reshape(x, [rows, x.size / rows]), 1), x.shape)
}

export const softmax = unary((x, node) =>
  alongSoftmaxAxis(x, node, (t, axis) => {
    const e = tf.exp(tf.sub(t, tf.max(t, axis, true)))
    return tf.div(e, tf.sum(e, axis, true))
  }),
)

export const logSoftmax = unary((x, node) =>
  alongSoftmaxAxis(x, node, (t, axis) => {
    const shifted = tf.sub(t, tf.max(t, axis, true))
    return tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), axis, true)))
  }),
)
