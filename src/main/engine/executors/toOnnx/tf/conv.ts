/**
 * TensorFlow convolutions and pools (NHWC; filters [kh, kw, in, out] / [kh, kw, in, multiplier]) and the fused
 * forms the converter writes (_FusedConv2D, FusedDepthwiseConv2dNative: conv → BiasAdd → activation), as
 * graph/ops/tf/conv.ts computes them. Filters must be constants (they are in converted models).
 */
import type * as tf from '@tensorflow/tfjs'
import { floatAttr } from '../../../graph/ops/attributes'
import { checkNhwc, padding, spatialPair } from '../../../graph/ops/tf/attributes'
import { fusedActivation } from '../../../graph/ops/tf/conv'
import type { GraphNode } from '../../../graph/modelGraph'
import { UnsupportedOpError } from '../../../graph/ops/types'
import { tfFusedActivation } from '../activations'
import type { OnnxBuilder } from '../builder'
import { type CheckContext, opNode, type Translator, type TranslatorFamily, withParams, type WriteContext } from '../translator'
import { conv, convKernel, depthwiseKernel, hw, type Window, type WindowPadding, pool } from '../window'

function filterOf(node: GraphNode, ctx: CheckContext): tf.Tensor {
  const f = ctx.constant(node.inputs[1] ?? '')
  if (!f || f.rank !== 4) throw new UnsupportedOpError('a filter that is not a 4-D constant')
  return f
}

function windowOf(node: GraphNode, explicit: boolean): Window {
  const op = opNode(node)
  checkNhwc(op)
  const p = padding(op, explicit)
  const pad: WindowPadding = typeof p === 'string' ? p : [p[1][0], p[1][1], p[2][0], p[2][1]]
  return { strides: spatialPair(op, 'strides'), dilations: spatialPair(op, 'dilations'), pad }
}

/** The fused tail's activation (a fused op) or 'linear' (a plain one). */
const tailOf = (node: GraphNode, fused: boolean) => (fused ? fusedActivation(opNode(node)) : 'linear')

/** Bias (input 2) and activation of a fused op on `y`. */
export function fusedTail(node: GraphNode, ctx: WriteContext, y: string, activation: string, withBias: boolean): string {
  const b = ctx.b
  const x = withBias ? b.op('Add', [y, ctx.input(node.inputs[2]!)]) : y
  const prelu = activation === 'prelu' ? ctx.input(node.inputs[3]!) : null
  return tfFusedActivation(b, x, activation, floatAttr(opNode(node), 'leakyrelu_alpha', 0.2), prelu)
}

function convolution(depthwise: boolean, fused: boolean): Translator {
  return withParams(
    (node, ctx) => ({ filter: filterOf(node, ctx), window: windowOf(node, !depthwise), activation: tailOf(node, fused) }),
    (node, ctx, p) => {
      const b: OnnxBuilder = ctx.b
      const name = node.inputs[1]!
      // The bias goes into the Conv (its B input) when it is a constant, as onnxruntime fuses it anyway.
      const bias = fused ? ctx.input(node.inputs[2]!) : null
      const kernel = depthwise ? depthwiseKernel(b, name, p.filter) : convKernel(b, name, p.filter)
      const y = conv(b, ctx.input(node.inputs[0]!), kernel, hw(p.filter), bias, p.window, depthwise ? p.filter.shape[2] : 1)
      return [fused ? fusedTail(node, ctx, y, p.activation, false) : y]
    },
  )
}

function pooling(op: 'MaxPool' | 'AveragePool'): Translator {
  return withParams(
    (node) => {
      const o = opNode(node)
      checkNhwc(o)
      return { size: spatialPair(o, 'ksize'), strides: spatialPair(o, 'strides'), pad: padding(o, false) as 'same' | 'valid' }
    },
    (node, ctx, p) => [pool(ctx.b, op, ctx.input(node.inputs[0]!), p.size, p.strides, p.pad)],
  )
}

export const TF_CONV: TranslatorFamily = {
  Conv2D: convolution(false, false),
  _FusedConv2D: convolution(false, true),
  DepthwiseConv2dNative: convolution(true, false),
  FusedDepthwiseConv2dNative: convolution(true, true),
  MaxPool: pooling('MaxPool'),
  AvgPool: pooling('AveragePool'),
}
