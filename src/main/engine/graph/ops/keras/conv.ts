/** Conv2D, DepthwiseConv2D, SeparableConv2D (channels-last), with bias and activation as tfjs-layers applies them. */
import * as tf from '@tensorflow/tfjs'
import { UnsupportedOpError, type OpKernel, type OpNode } from '../types'
import { activationOf } from './activations'
import { channelsLast, nums, one, padding, weight } from './config'

function required(inputs: readonly (tf.Tensor | null)[], node: OpNode, name: string): tf.Tensor4D {
  const w = weight(inputs, node, name)
  if (!w || w.rank !== 4) throw new UnsupportedOpError(`no 4-D ${name} weight`)
  return w as tf.Tensor4D
}

/** Bias then activation, after a tfjs op that took neither. */
function biasActivation(y: tf.Tensor, inputs: readonly (tf.Tensor | null)[], node: OpNode): tf.Tensor {
  const bias = weight(inputs, node, 'bias')
  return activationOf(node).apply(bias ? tf.add(y, bias) : y)
}

/** tfjs-layers' Conv.call: one fused conv2d with the bias, and the activation fused when tfjs can (relu, linear, elu). */
export const conv2D: OpKernel = (inputs, node) => {
  channelsLast(node)
  const act = activationOf(node)
  const y = tf.fused.conv2d({
    x: one(inputs, node) as tf.Tensor4D,
    filter: required(inputs, node, 'kernel'),
    strides: nums(node, 'strides', 2, 1) as [number, number],
    pad: padding(node),
    dilations: nums(node, 'dilationRate', 2, 1) as [number, number],
    dataFormat: 'NHWC',
    bias: weight(inputs, node, 'bias') ?? undefined,
    activation: act.fused,
  })
  return [act.fused ? y : act.apply(y)]
}

/**
 * DepthwiseConv2D with its dilation rate. tfjs-layers drops the rate (a TODO in its call()); layersModel.ts
 * refuses such models, so both paths agree on every model that opens.
 */
export const depthwiseConv2D: OpKernel = (inputs, node) => {
  channelsLast(node)
  const x = one(inputs, node) as tf.Tensor4D
  const strides = nums(node, 'strides', 2, 1) as [number, number]
  const y = tf.depthwiseConv2d(x, required(inputs, node, 'depthwise_kernel'), strides, padding(node), 'NHWC', nums(node, 'dilationRate', 2, 1) as [number, number])
  return [biasActivation(y, inputs, node)]
}

export const separableConv2D: OpKernel = (inputs, node) => {
  channelsLast(node)
  const x = one(inputs, node) as tf.Tensor4D
  const y = tf.separableConv2d(
    x,
    required(inputs, node, 'depthwise_kernel'),
    required(inputs, node, 'pointwise_kernel'),
    nums(node, 'strides', 2, 1) as [number, number],
    padding(node),
    nums(node, 'dilationRate', 2, 1) as [number, number],
    'NHWC',
  )
  return [biasActivation(y, inputs, node)]
}

/** Conv2DTranspose: tfjs-layers' output size (deconvLength) and tf.conv2dTranspose, then bias and activation. */
export const conv2DTranspose: OpKernel = (inputs, node) => {
  channelsLast(node)
  const x = one(inputs, node) as tf.Tensor4D
  const kernel = required(inputs, node, 'kernel')
  const [kh, kw, filters] = kernel.shape
  const [sh, sw] = nums(node, 'strides', 2, 1) as [number, number]
  const pad = padding(node)
  const size = (d: number, s: number, k: number) => (pad === 'valid' ? d * s + Math.max(k - s, 0) : d * s)
  const y = tf.conv2dTranspose(x, kernel, [x.shape[0], size(x.shape[1], sh, kh), size(x.shape[2], sw, kw), filters], [sh, sw], pad)
  return [biasActivation(y, inputs, node)]
}
