/**
 * The window geometry that Conv, ConvTranspose and the pools share: kernel, strides, dilations and the
 * begin / end padding of each spatial axis from ONNX's pads / auto_pad, and the move between ONNX's NCHW
 * and the NHWC that tfjs's convolutions and pools take (1-D ops run as 2-D with a height of 1).
 */
import * as tf from '@tensorflow/tfjs'
import { numbersAttr, stringAttr } from './attributes'
import { UnsupportedOpError, type OpNode } from './types'

export type Pair = [number, number]

export interface WindowGeometry {
  /** Per spatial axis (height, width; a 1-D op gets a leading axis of size 1). */
  kernel: Pair
  strides: Pair
  dilations: Pair
  padBegin: Pair
  padEnd: Pair
}

/** The spatial rank of an NCHW-like tensor; only 1-D and 2-D windows are implemented. */
export function spatialRank(x: tf.Tensor): 1 | 2 {
  const r = x.rank - 2
  if (r !== 1 && r !== 2) throw new UnsupportedOpError(`a ${r}-D window (input of rank ${x.rank}); 1-D and 2-D are supported`)
  return r
}

/** NC(H)W → NHWC; a 1-D [N, C, L] becomes [N, 1, L, C]. */
export function toNHWC(x: tf.Tensor): tf.Tensor4D {
  if (x.rank === 3) return tf.transpose(x, [0, 2, 1]).expandDims(1) as tf.Tensor4D
  return tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D
}

/** NHWC → NC(H)W of `spatial` spatial axes (the inverse of toNHWC). */
export function fromNHWC(y: tf.Tensor4D, spatial: 1 | 2): tf.Tensor {
  if (spatial === 1) return tf.transpose(tf.squeeze(y, [1]), [0, 2, 1])
  return tf.transpose(y, [0, 3, 1, 2])
}

/** A per-axis attribute of a `spatial`-D op as a height / width pair (1-D: height 1). */
export function pairOf(values: readonly number[] | undefined, spatial: 1 | 2, fallback: number, what: string): Pair {
  if (values == null) return [fallback, fallback]
  if (values.length !== spatial) throw new UnsupportedOpError(`${what} [${values.join(', ')}] for a ${spatial}-D window`)
  return spatial === 1 ? [1, values[0]!] : [values[0]!, values[1]!]
}

/** 1-D: the extra leading axis pads nothing. */
function padsOf(pads: readonly number[] | undefined, spatial: 1 | 2): { begin: Pair; end: Pair } {
  if (pads == null) return { begin: [0, 0], end: [0, 0] }
  if (pads.length !== 2 * spatial) throw new UnsupportedOpError(`pads [${pads.join(', ')}] for a ${spatial}-D window`)
  if (pads.some((p) => p < 0)) throw new UnsupportedOpError(`negative pads [${pads.join(', ')}]`)
  return spatial === 1 ? { begin: [0, pads[0]!], end: [0, pads[1]!] } : { begin: [pads[0]!, pads[1]!], end: [pads[2]!, pads[3]!] }
}

/** The span of a dilated kernel. */
export function span(kernel: number, dilation: number): number {
  return (kernel - 1) * dilation + 1
}

/**
 * Kernel, strides, dilations and pads of a Conv or pool node over `inSize` (spatial sizes, height / width).
 * auto_pad SAME_UPPER / SAME_LOWER: output ceil(in / stride), the odd pixel of padding at the end / the start.
 */
export function windowGeometry(node: OpNode, spatial: 1 | 2, inSize: Pair, kernelShape: readonly number[]): WindowGeometry {
  const kernel = pairOf(kernelShape, spatial, 1, 'kernel_shape')
  const strides = pairOf(numbersAttr(node, 'strides'), spatial, 1, 'strides')
  const dilations = pairOf(numbersAttr(node, 'dilations'), spatial, 1, 'dilations')
  const autoPad = stringAttr(node, 'auto_pad', 'NOTSET')
  if (autoPad === 'NOTSET') {
    const { begin, end } = padsOf(numbersAttr(node, 'pads'), spatial)
    return { kernel, strides, dilations, padBegin: begin, padEnd: end }
  }
  if (autoPad === 'VALID') return { kernel, strides, dilations, padBegin: [0, 0], padEnd: [0, 0] }
  if (autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') throw new UnsupportedOpError(`auto_pad "${autoPad}"`)
  const padBegin: Pair = [0, 0]
  const padEnd: Pair = [0, 0]
  for (const i of [0, 1] as const) {
    const out = Math.ceil(inSize[i] / strides[i])
    const total = Math.max(0, (out - 1) * strides[i] + span(kernel[i], dilations[i]) - inSize[i])
    const small = Math.floor(total / 2)
    padBegin[i] = autoPad === 'SAME_UPPER' ? small : total - small
    padEnd[i] = total - padBegin[i]
  }
  return { kernel, strides, dilations, padBegin, padEnd }
}

/** Spatial sizes (height, width) of an NHWC tensor. */
export function hw(x: tf.Tensor4D): Pair {
  return [x.shape[1], x.shape[2]]
}

/** Keeps every `strides`-th row / column of an NHWC tensor from the first (differentiable: pad + reshape + slice). */
export function subsample(y: tf.Tensor4D, strides: Pair): tf.Tensor4D {
  if (strides[0] === 1 && strides[1] === 1) return y
  const [n, h, w, c] = y.shape
  const oh = Math.ceil(h / strides[0])
  const ow = Math.ceil(w / strides[1])
  const padded = tf.pad(y, [[0, 0], [0, oh * strides[0] - h], [0, ow * strides[1] - w], [0, 0]])
  const blocks = tf.reshape(padded, [n, oh, strides[0], ow, strides[1], c])
  return tf.reshape(tf.slice(blocks, [0, 0, 0, 0, 0, 0], [n, oh, 1, ow, 1, c]), [n, oh, ow, c])
}
