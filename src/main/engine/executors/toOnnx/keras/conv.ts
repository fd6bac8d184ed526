/** Conv2D, DepthwiseConv2D, SeparableConv2D (channels-last) with bias and activation, as graph/ops/keras/conv.ts computes them. */
import type * as tf from '@tensorflow/tfjs'
import type { GraphNode } from '../../../graph/modelGraph'
import { UnsupportedOpError } from '../../../graph/ops/types'
import { type CheckContext, type TranslatorFamily, withParams, type WriteContext } from '../translator'
import { conv, convKernel, depthwiseKernel, hw, type Pair, type Window } from '../window'
import { activation, channelsLast, nums, oneInput, opNode, padding, weight, weightTensor } from './config'

function required(node: GraphNode, ctx: CheckContext, name: string): tf.Tensor {
  const w = weight(node, ctx, name)
  if (!w || w.rank !== 4) throw new UnsupportedOpError(`no 4-D ${name} weight`)
  return w
}

function convParams(node: GraphNode, ctx: CheckContext) {
  const op = opNode(node)
  channelsLast(op)
  const window: Window = { strides: nums(op, 'strides', 2, 1) as Pair, dilations: nums(op, 'dilationRate', 2, 1) as Pair, pad: padding(op) }
  return { window, activation: activation(node), bias: weight(node, ctx, 'bias') }
}

/** The bias (a Conv's B input) as it is, or null. */
const biasOf = (node: GraphNode, ctx: WriteContext, bias: tf.Tensor | null) => (bias ? ctx.input(weightTensor(node, 'bias')!) : null)

export const KERAS_CONV: TranslatorFamily = {
  Conv2D: withParams(
    (node, ctx) => ({ ...convParams(node, ctx), kernel: required(node, ctx, 'kernel') }),
    (node, ctx, p) => {
      const bias = biasOf(node, ctx, p.bias)
      return [p.activation(ctx.b, conv(ctx.b, oneInput(node, ctx), convKernel(ctx.b, weightTensor(node, 'kernel')!, p.kernel), hw(p.kernel), bias, p.window))]
    },
  ),
  DepthwiseConv2D: withParams(
    (node, ctx) => ({ ...convParams(node, ctx), kernel: required(node, ctx, 'depthwise_kernel') }),
    (node, ctx, p) => {
      const bias = biasOf(node, ctx, p.bias)
      const kernel = depthwiseKernel(ctx.b, weightTensor(node, 'depthwise_kernel')!, p.kernel)
      return [p.activation(ctx.b, conv(ctx.b, oneInput(node, ctx), kernel, hw(p.kernel), bias, p.window, p.kernel.shape[2]))]
    },
  ),
  // tf.separableConv2d: the depthwise convolution with the window, then a 1×1 pointwise one; bias and activation after.
  SeparableConv2D: withParams(
    (node, ctx) => ({ ...convParams(node, ctx), depthwise: required(node, ctx, 'depthwise_kernel'), pointwise: required(node, ctx, 'pointwise_kernel') }),
    (node, ctx, p) => {
      const b = ctx.b
      const dw = conv(b, oneInput(node, ctx), depthwiseKernel(b, weightTensor(node, 'depthwise_kernel')!, p.depthwise), hw(p.depthwise), null, p.window, p.depthwise.shape[2])
      const bias = biasOf(node, ctx, p.bias)
      const pw = conv(b, dw, convKernel(b, weightTensor(node, 'pointwise_kernel')!, p.pointwise), [1, 1], bias, { strides: [1, 1], dilations: [1, 1], pad: 'valid' })
      return [p.activation(b, pw)]
    },
  ),
}
