/**
 * Keras activations by name, each the tfjs ops tfjs-layers' activations.ts applies, and the activation layers
 * (Activation, ReLU, LeakyReLU, ELU, ThresholdedReLU, Softmax, PReLU).
 */
import * as tf from '@tensorflow/tfjs'
import { leaky, RELU, RELU6, reluFamily, reluRuleActive } from '../reluRule'
import { UnsupportedOpError, type OpKernel, type OpNode } from '../types'
import { num, one, str, weight } from './config'

type Activation = (x: tf.Tensor) => tf.Tensor

const ACTIVATIONS: Readonly<Record<string, Activation>> = {
  linear: (x) => x,
  relu: (x) => reluFamily(x, RELU, tf.relu),
  relu6: (x) => reluFamily(x, RELU6, (t) => tf.minimum(6, tf.relu(t))),
  elu: (x) => tf.elu(x),
  selu: (x) => tf.selu(x),
  sigmoid: (x) => tf.sigmoid(x),
  hardSigmoid: (x) => tf.clipByValue(tf.add(0.5, tf.mul(0.2, x)), 0, 1),
  softplus: (x) => tf.softplus(x),
  softsign: (x) => tf.div(x, tf.add(tf.abs(x), 1)),
  tanh: (x) => tf.tanh(x),
  softmax: (x) => tf.softmax(x, -1),
  logSoftmax: (x) => tf.logSoftmax(x, -1),
  swish: (x) => tf.mul(tf.sigmoid(x), x),
  mish: (x) => tf.mul(x, tf.tanh(tf.softplus(x))),
  gelu: (x) => tf.mul(x, tf.mul(0.5, tf.add(1, tf.erf(tf.div(x, Math.SQRT2))))),
  gelu_new: (x) => tf.mul(0.5, tf.mul(x, tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))))),
}

/** The activations tfjs-layers fuses into a conv / matMul (its mapActivationToFusedKernel). */
const FUSED = new Set(['relu', 'linear', 'elu'])

/**
 * The node's `activation` config ('linear' when absent). `fused`: what to fuse into the conv / matMul; never relu
 * while a pixel-map ReLU rule is in force (reluRule.ts), so that the rule reaches it through `apply`.
 */
export function activationOf(node: OpNode): { name: string; apply: Activation; fused: 'relu' | 'linear' | 'elu' | undefined } {
  const name = str(node, 'activation', 'linear')
  const apply = Object.hasOwn(ACTIVATIONS, name) ? ACTIVATIONS[name] : undefined
  if (!apply) throw new UnsupportedOpError(`activation "${name}"`)
  const fusable = FUSED.has(name) && !(name === 'relu' && reluRuleActive())
  return { name, apply, fused: fusable ? (name as 'relu' | 'linear' | 'elu') : undefined }
}

export const activation: OpKernel = (inputs, node) => [activationOf(node).apply(one(inputs, node))]

/** ReLU with an optional max_value (negative_slope / threshold are not in tfjs-layers' config). */
export const reLU: OpKernel = (inputs, node) => {
  const max = node.attributes.maxValue
  if (typeof max !== 'number') return [reluFamily(one(inputs, node), RELU, tf.relu)]
  return [reluFamily(one(inputs, node), { alpha: 0, max }, (x) => tf.clipByValue(tf.relu(x), 0, max))]
}

export const leakyReLU: OpKernel = (inputs, node) => {
  const alpha = num(node, 'alpha', 0.3)
  return [reluFamily(one(inputs, node), leaky(alpha), (x) => tf.leakyRelu(x, alpha))]
}

export const eLU: OpKernel = (inputs, node) => {
  if (num(node, 'alpha', 1) !== 1) throw new UnsupportedOpError(`alpha ${num(node, 'alpha', 1)}`)
  return [tf.elu(one(inputs, node))]
}

export const thresholdedReLU: OpKernel = (inputs, node) => {
  const x = one(inputs, node)
  // tfjs-layers' x · (x > θ) as a select: the same values, and differentiable (tfjs has no gradient for Greater).
  return [tf.where(tf.greater(x, num(node, 'theta', 1)), x, tf.zerosLike(x))]
}

/** Softmax over one axis, or (several axes) exp(x − logSumExp over them), as tfjs-layers' Softmax layer. */
export const softmax: OpKernel = (inputs, node) => {
  const x = one(inputs, node)
  const axis = node.attributes.axis
  if (Array.isArray(axis) && axis.length > 1) return [tf.exp(tf.sub(x, tf.logSumExp(x, axis as number[], true)))]
  // tfjs-layers' default axis is 1 (its DEFAULT_AXIS); saved configs name it.
  return [tf.softmax(x, num(node, 'axis', 1))]
}

export const pReLU: OpKernel = (inputs, node) => {
  const alpha = weight(inputs, node, 'alpha')
  if (!alpha) throw new UnsupportedOpError('no alpha weight')
  return [tf.prelu(one(inputs, node), alpha)]
}
