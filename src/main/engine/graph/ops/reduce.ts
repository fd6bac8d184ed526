/**
 * ReduceMean, ReduceMax, ReduceMin, ReduceSum, ReduceProd, ReduceSumSquare, ReduceL1, ReduceL2, ReduceLogSumExp
 * with keepdims (default 1): axes as an attribute before
 * opset 18 (ReduceSum: before 13), as an optional input since; no axes reduces all of them, unless
 * noop_with_empty_axes asks to pass the input through.
 */
import * as tf from '@tensorflow/tfjs'
import { input, intAttr, normalizeAxis, numbersAttr, readInts } from './attributes'
import { UnsupportedOpError, type OpKernel } from './types'

type Reduction = (x: tf.Tensor, axes: number[], keepDims: boolean) => tf.Tensor

/**
 * `f` over the node's axes. `overNoAxes` is what reducing over no axes gives (noop_with_empty_axes): the input
 * itself, or its elementwise part (ReduceSumSquare squares, as onnxruntime does).
 */
const reduction =
  (f: Reduction, axesInputSince: number, overNoAxes: (x: tf.Tensor) => tf.Tensor = tf.clone): OpKernel =>
  (inputs, node) => {
    const x = input(inputs, 0, 'data')
    const axes = node.opset >= axesInputSince ? readInts(inputs[1]) : numbersAttr(node, 'axes')
    const keepDims = intAttr(node, 'keepdims', 1) === 1
    if (axes == null || axes.length === 0) {
      if (intAttr(node, 'noop_with_empty_axes', 0) === 1) return [overNoAxes(x)]
      return [f(x, x.shape.map((_, i) => i), keepDims)]
    }
    return [f(x, [...new Set(axes.map((a) => normalizeAxis(a, x.rank)))], keepDims)]
  }

export const reduceMean = reduction((x, axes, keep) => tf.mean(x, axes, keep), 18)
export const reduceMax = reduction((x, axes, keep) => tf.max(x, axes, keep), 18)
export const reduceMin = reduction((x, axes, keep) => tf.min(x, axes, keep), 18)
export const reduceProd = reduction((x, axes, keep) => tf.prod(x, axes, keep), 18)
export const reduceSum = reduction((x, axes, keep) => tf.sum(x, axes, keep), 13)
export const reduceSumSquare = reduction((x, axes, keep) => tf.sum(tf.square(x), axes, keep), 18, tf.square)
export const reduceL1 = reduction((x, axes, keep) => tf.sum(tf.abs(x), axes, keep), 18, tf.abs)
export const reduceL2 = reduction((x, axes, keep) => tf.sqrt(tf.sum(tf.square(x), axes, keep)), 18, tf.abs)
export const reduceLogSumExp = reduction((x, axes, keep) => tf.logSumExp(x, axes, keep), 18)

/** ArgMax / ArgMin along one axis (keepdims default 1); select_last_index 1 is not implemented. */
const argReduction =
  (f: (x: tf.Tensor, axis: number) => tf.Tensor): OpKernel =>
  (inputs, node) => {
    const x = input(inputs, 0, 'data')
    if (intAttr(node, 'select_last_index', 0) !== 0) throw new UnsupportedOpError('select_last_index 1')
    const axis = normalizeAxis(intAttr(node, 'axis', 0), x.rank)
    const y = f(x, axis)
    return [intAttr(node, 'keepdims', 1) === 1 ? tf.expandDims(y, axis) : y]
  }

export const argMax = argReduction(tf.argMax)
export const argMin = argReduction(tf.argMin)
