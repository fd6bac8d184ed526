/**
 * MaxPool, AveragePool (1-D and 2-D), GlobalAveragePool, GlobalMaxPool. The pads (explicit, auto_pad, and
 * the extra end padding ceil_mode needs) are applied with tf.pad and the pool runs VALID on NHWC:
 * MaxPool pads with −∞; AveragePool sums over zero padding and divides by the count of the pixels a window
 * covers (real ones, or real and explicit padding with count_include_pad), pooled from a mask.
 */
import * as tf from '@tensorflow/tfjs'
import { input, intAttr, numbersAttr } from './attributes'
import { fromNHWC, hw, span, spatialRank, subsample, toNHWC, windowGeometry, type Pair, type WindowGeometry } from './geometry'
import { UnsupportedOpError, type OpKernel, type OpNode } from './types'

/**
 * Output size of one axis. ceil_mode rounds up, but (as ONNX Runtime and PyTorch do) the last window must
 * start inside the input or its begin padding.
 */
function outputSize(size: number, g: WindowGeometry, i: 0 | 1, ceil: boolean): number {
  const reach = size + g.padBegin[i] + g.padEnd[i] - span(g.kernel[i], g.dilations[i])
  if (reach < 0) throw new UnsupportedOpError(`a window larger than its padded input`)
  let out = (ceil ? Math.ceil(reach / g.strides[i]) : Math.floor(reach / g.strides[i])) + 1
  if (ceil && (out - 1) * g.strides[i] >= size + g.padBegin[i]) out -= 1
  return out
}

interface PoolPlan {
  g: WindowGeometry
  /** Padding past the explicit end pads that ceil_mode's last window needs. */
  extra: Pair
}

function plan(node: OpNode, x: tf.Tensor4D, spatial: 1 | 2): PoolPlan {
  const kernelShape = numbersAttr(node, 'kernel_shape')
  if (kernelShape == null) throw new UnsupportedOpError('a pool without kernel_shape')
  const size = hw(x)
  const g = windowGeometry(node, spatial, size, kernelShape)
  const ceil = intAttr(node, 'ceil_mode', 0) === 1
  const extra = ([0, 1] as const).map((i) => {
    const out = outputSize(size[i], g, i, ceil)
    return Math.max(0, (out - 1) * g.strides[i] + span(g.kernel[i], g.dilations[i]) - (size[i] + g.padBegin[i] + g.padEnd[i]))
  }) as Pair
  return { g, extra }
}

function padSpatial(x: tf.Tensor4D, begin: Pair, end: Pair, value: number): tf.Tensor4D {
  if (begin[0] + begin[1] + end[0] + end[1] === 0) return x
  return tf.pad(x, [[0, 0], [begin[0], end[0]], [begin[1], end[1]], [0, 0]], value)
}

/** A VALID pool of `x` (already padded); dilated windows run at stride 1 (tf.pool's rule) and are subsampled. */
function validPool(x: tf.Tensor4D, g: WindowGeometry, type: 'max' | 'avg'): tf.Tensor4D {
  if (g.dilations[0] === 1 && g.dilations[1] === 1) {
    return type === 'max' ? tf.maxPool(x, g.kernel, g.strides, 'valid') : tf.avgPool(x, g.kernel, g.strides, 'valid')
  }
  return subsample(tf.pool(x, g.kernel, type, 'valid', g.dilations, 1) as tf.Tensor4D, g.strides)
}

export const maxPool: OpKernel = (inputs, node) => {
  if (node.outputCount > 1) throw new UnsupportedOpError('MaxPool indices output')
  const x = input(inputs, 0, 'X')
  const spatial = spatialRank(x)
  const xh = toNHWC(x)
  const { g, extra } = plan(node, xh, spatial)
  const padded = padSpatial(xh, g.padBegin, [g.padEnd[0] + extra[0], g.padEnd[1] + extra[1]], -Infinity)
  return [fromNHWC(validPool(padded, g, 'max'), spatial)]
}

export const averagePool: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'X')
  const spatial = spatialRank(x)
  const xh = toNHWC(x)
  const { g, extra } = plan(node, xh, spatial)
  const end: Pair = [g.padEnd[0] + extra[0], g.padEnd[1] + extra[1]]
  const sums = validPool(padSpatial(xh, g.padBegin, end, 0), g, 'avg')
  if (g.padBegin.every((p) => p === 0) && end.every((p) => p === 0)) return [fromNHWC(sums, spatial)]
  // The share of each window that counts: real pixels, plus the explicit pads with count_include_pad
  // (never ceil_mode's extra cells).
  const includePad = intAttr(node, 'count_include_pad', 0) === 1
  const [h, w] = hw(xh)
  const counted = includePad
    ? padSpatial(tf.ones([1, h + g.padBegin[0] + g.padEnd[0], w + g.padBegin[1] + g.padEnd[1], 1]), [0, 0], extra, 0)
    : padSpatial(tf.ones([1, h, w, 1]), g.padBegin, end, 0)
  const share = validPool(counted as tf.Tensor4D, g, 'avg')
  return [fromNHWC(tf.div(sums, share), spatial)]
}

function spatialAxes(x: tf.Tensor): number[] {
  if (x.rank < 3) throw new UnsupportedOpError(`a global pool of a tensor of rank ${x.rank}`)
  return Array.from({ length: x.rank - 2 }, (_, i) => i + 2)
}

export const globalAveragePool: OpKernel = (inputs) => {
  const x = input(inputs, 0, 'X')
  return [tf.mean(x, spatialAxes(x), true)]
}

export const globalMaxPool: OpKernel = (inputs) => {
  const x = input(inputs, 0, 'X')
  return [tf.max(x, spatialAxes(x), true)]
}
