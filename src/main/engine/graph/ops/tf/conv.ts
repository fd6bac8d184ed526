/**
 * TensorFlow convolutions and pooling (NHWC, filters [kh, kw, in, out] / [kh, kw, in, multiplier]), and the
 * fused forms the TF.js converter writes (_FusedConv2D, FusedDepthwiseConv2dNative: conv → BiasAdd →
 * activation), run with tfjs's fused ops exactly as tf.GraphModel runs them.
 */
import * as tf from '@tensorflow/tfjs'
import { floatAttr } from '../attributes'
import { checkNhwc, input, padding, spatialPair, stringsAttr } from './attributes'
import { leaky, RELU, RELU6, reluFamily, reluRuleActive, type ReluShape } from '../reluRule'
import { UnsupportedOpError, type OpKernel, type OpNode } from '../types'

const FUSED_ACTIVATIONS = new Set(['relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid', 'prelu'])

/** The activation of fused_ops ["BiasAdd", activation?], lower-cased ('linear' when none). */
export function fusedActivation(node: OpNode): tf.fused.Activation {
  const ops = stringsAttr(node, 'fused_ops')
  const [first, activation, ...rest] = ops.map((o) => o.toLowerCase())
  if (first !== 'biasadd' || rest.length) throw new UnsupportedOpError(`fused_ops [${ops.join(', ')}]`)
  if (activation !== undefined && !FUSED_ACTIVATIONS.has(activation)) throw new UnsupportedOpError(`fused activation ${ops[1]}`)
  return (activation ?? 'linear') as tf.fused.Activation
}

/** What a fused op adds after its product: fused_ops ["BiasAdd", activation?] and its extra inputs from index 2. */
export function fusedTail(node: OpNode, inputs: readonly (tf.Tensor | null)[]) {
  const activation = fusedActivation(node)
  return {
    bias: input(inputs, 2),
    activation,
    preluActivationWeights: activation === 'prelu' ? input(inputs, 3) : undefined,
    leakyreluAlpha: floatAttr(node, 'leakyrelu_alpha', 0.2),
  }
}

type FusedTail = ReturnType<typeof fusedTail>

/** The ReLU-family member of a fused activation, undefined for the others. */
function reluShapeOf(tail: FusedTail): ReluShape | undefined {
  if (tail.activation === 'relu') return RELU
  if (tail.activation === 'relu6') return RELU6
  return tail.activation === 'leakyrelu' ? leaky(tail.leakyreluAlpha) : undefined
}

/**
 * Run a fused op (`run` with the node's fused tail). While a pixel-map ReLU rule is in force (reluRule.ts) a
 * ReLU-family activation is unfused: the op runs linear (bias kept) and the activation goes through reluFamily.
 */
export function withFusedActivation(node: OpNode, inputs: readonly (tf.Tensor | null)[], run: (tail: FusedTail) => tf.Tensor): tf.Tensor {
  const tail = fusedTail(node, inputs)
  const shape = reluRuleActive() ? reluShapeOf(tail) : undefined
  if (!shape) return run(tail)
  return reluFamily(run({ ...tail, activation: 'linear' }), shape)
}

function convParams(node: OpNode) {
  checkNhwc(node)
  return { strides: spatialPair(node, 'strides'), pad: padding(node, true), dilations: spatialPair(node, 'dilations') }
}

export const conv2D: OpKernel = (inputs, node) => {
  const { strides, pad, dilations } = convParams(node)
  return [tf.conv2d(input(inputs, 0) as tf.Tensor4D, input(inputs, 1) as tf.Tensor4D, strides, pad, 'NHWC', dilations)]
}

export const fusedConv2D: OpKernel = (inputs, node) => {
  const { strides, pad, dilations } = convParams(node)
  const x = input(inputs, 0) as tf.Tensor4D
  const filter = input(inputs, 1) as tf.Tensor4D
  return [withFusedActivation(node, inputs, (tail) => tf.fused.conv2d({ x, filter, strides, pad, dataFormat: 'NHWC', dilations, ...tail }))]
}

export const depthwiseConv2dNative: OpKernel = (inputs, node) => {
  const { strides, dilations } = convParams(node)
  const pad = padding(node, false) as 'same' | 'valid' // tfjs's depthwise convolution takes no explicit padding
  return [tf.depthwiseConv2d(input(inputs, 0) as tf.Tensor4D, input(inputs, 1) as tf.Tensor4D, strides, pad, 'NHWC', dilations)]
}

export const fusedDepthwiseConv2dNative: OpKernel = (inputs, node) => {
  const { strides, dilations } = convParams(node)
  const pad = padding(node, false) as 'same' | 'valid'
  const x = input(inputs, 0) as tf.Tensor4D
  const filter = input(inputs, 1) as tf.Tensor4D
  return [withFusedActivation(node, inputs, (tail) => tf.fused.depthwiseConv2d({ x, filter, strides, pad, dataFormat: 'NHWC', dilations, ...tail }))]
}

function poolParams(node: OpNode) {
  checkNhwc(node)
  return { size: spatialPair(node, 'ksize'), strides: spatialPair(node, 'strides'), pad: padding(node, false) as 'same' | 'valid' }
}

export const maxPool: OpKernel = (inputs, node) => {
  const { size, strides, pad } = poolParams(node)
  return [tf.maxPool(input(inputs, 0) as tf.Tensor4D, size, strides, pad)]
}

export const avgPool: OpKernel = (inputs, node) => {
  const { size, strides, pad } = poolParams(node)
  return [tf.avgPool(input(inputs, 0) as tf.Tensor4D, size, strides, pad)]
}


