/**
 * TensorFlow shape and data-movement ops (and the pass-through ones: Identity, StopGradient, NoOp). Their
 * shape-like inputs (Reshape's shape, Pad's paddings, ConcatV2's axis, ...) are small constants read
 * synchronously, as tfjs's converter reads them.
 */
import * as tf from '@tensorflow/tfjs'
import { intAttr, numbersAttr, stringAttr } from '../attributes'
import { UnsupportedOpError, type OpKernel } from '../types'
import { dtypeAttr, input, inputValues } from './attributes'

/** The 2-D [[before, after], ...] paddings of input 1. */
const paddings = (inputs: readonly (tf.Tensor | null)[]) => input(inputs, 1).arraySync() as [number, number][]

export const identity: OpKernel = (inputs) => [input(inputs, 0)]
export const identityN: OpKernel = (inputs) => inputs.map((_, i) => input(inputs, i))
/** StopGradient: the value passes, its gradient does not. */
const stop = tf.customGrad((x) => ({ value: (x as tf.Tensor).clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) }))
export const stopGradient: OpKernel = (inputs) => [stop(input(inputs, 0))]
export const noOp: OpKernel = () => []

export const reshape: OpKernel = (inputs) => [tf.reshape(input(inputs, 0), inputValues(inputs, 1))]

export const squeeze: OpKernel = (inputs, node) => {
  const axes = numbersAttr(node, 'squeeze_dims') ?? numbersAttr(node, 'axis') ?? []
  return [tf.squeeze(input(inputs, 0), axes.length ? axes : undefined)]
}

export const expandDims: OpKernel = (inputs) => [tf.expandDims(input(inputs, 0), inputValues(inputs, 1)[0] ?? 0)]

/** ConcatV2: N tensors, then the axis. */
export const concatV2: OpKernel = (inputs) => {
  const n = inputs.length - 1
  return [tf.concat(inputs.slice(0, n).map((_, i) => input(inputs, i)), inputValues(inputs, n)[0] ?? 0)]
}

export const pack: OpKernel = (inputs, node) => [tf.stack(inputs.map((_, i) => input(inputs, i)), intAttr(node, 'axis', 0))]

export const transpose: OpKernel = (inputs) => [tf.transpose(input(inputs, 0), inputValues(inputs, 1))]

export const pad: OpKernel = (inputs) => [tf.pad(input(inputs, 0), paddings(inputs))]
export const padV2: OpKernel = (inputs) => [tf.pad(input(inputs, 0), paddings(inputs), inputValues(inputs, 2)[0] ?? 0)]
export const mirrorPad: OpKernel = (inputs, node) => {
  const mode = stringAttr(node, 'mode', 'REFLECT').toLowerCase()
  if (mode !== 'reflect' && mode !== 'symmetric') throw new UnsupportedOpError(`mode ${mode}`)
  return [tf.mirrorPad(input(inputs, 0), paddings(inputs), mode)]
}

export const shape: OpKernel = (inputs) => [tf.tensor1d(input(inputs, 0).shape, 'int32')]

export const cast: OpKernel = (inputs, node) => [tf.cast(input(inputs, 0), dtypeAttr(node, 'DstT'))]

export const stridedSlice: OpKernel = (inputs, node) => [
  tf.stridedSlice(
    input(inputs, 0),
    inputValues(inputs, 1),
    inputValues(inputs, 2),
    inputValues(inputs, 3),
    intAttr(node, 'begin_mask', 0),
    intAttr(node, 'end_mask', 0),
    intAttr(node, 'ellipsis_mask', 0),
    intAttr(node, 'new_axis_mask', 0),
    intAttr(node, 'shrink_axis_mask', 0),
  ),
]

export const slice: OpKernel = (inputs) => [tf.slice(input(inputs, 0), inputValues(inputs, 1), inputValues(inputs, 2))]

/** Split: the axis first, then the tensor; num_split equal parts. */
export const split: OpKernel = (inputs, node) => tf.split(input(inputs, 1), intAttr(node, 'num_split', 1), inputValues(inputs, 0)[0] ?? 0)

/** SplitV: the tensor, the part sizes (one may be -1), the axis. */
export const splitV: OpKernel = (inputs) => tf.split(input(inputs, 0), inputValues(inputs, 1), inputValues(inputs, 2)[0] ?? 0)

export const unpack: OpKernel = (inputs, node) => tf.unstack(input(inputs, 0), intAttr(node, 'axis', 0))

export const tile: OpKernel = (inputs) => [tf.tile(input(inputs, 0), inputValues(inputs, 1))]

/** GatherV2: params, indices, axis; batch_dims from the attribute. */
export const gatherV2: OpKernel = (inputs, node) => [
  tf.gather(input(inputs, 0), tf.cast(input(inputs, 1), 'int32'), inputValues(inputs, 2)[0] ?? 0, intAttr(node, 'batch_dims', 0)),
]

export const zerosLike: OpKernel = (inputs) => [tf.zerosLike(input(inputs, 0))]
export const onesLike: OpKernel = (inputs) => [tf.onesLike(input(inputs, 0))]
