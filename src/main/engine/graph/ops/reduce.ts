/**
 * ReduceMean, ReduceMax, ReduceMin, ReduceSum, ReduceProd with keepdims (default 1): axes as an attribute before
 * opset 18 (ReduceSum: before 13), as an optional input since; no axes reduces all of them, unless
 * noop_with_empty_axes asks to pass the input through.
 */
import * as tf from '@tensorflow/tfjs'
import { input, intAttr, normalizeAxis, numbersAttr, readInts } from './attributes'
import type { OpKernel } from './types'

type Reduction = (x: tf.Tensor, axes: number[], keepDims: boolean) => tf.Tensor

const reduction =
  (f: Reduction, axesInputSince: number): OpKernel =>
  (inputs, node) => {
    const x = input(inputs, 0, 'data')
    const axes = node.opset >= axesInputSince ? readInts(inputs[1]) : numbersAttr(node, 'axes')
    const keepDims = intAttr(node, 'keepdims', 1) === 1
    if (axes == null || axes.length === 0) {
      if (intAttr(node, 'noop_with_empty_axes', 0) === 1) return [tf.clone(x)]
      return [f(x, x.shape.map((_, i) => i), keepDims)]
    }
    return [f(x, [...new Set(axes.map((a) => normalizeAxis(a, x.rank)))], keepDims)]
  }

export const reduceMean = reduction((x, axes, keep) => tf.mean(x, axes, keep), 18)
export const reduceMax = reduction((x, axes, keep) => tf.max(x, axes, keep), 18)
export const reduceMin = reduction((x, axes, keep) => tf.min(x, axes, keep), 18)
export const reduceProd = reduction((x, axes, keep) => tf.prod(x, axes, keep), 18)
export const reduceSum = reduction((x, axes, keep) => tf.sum(x, axes, keep), 13)
