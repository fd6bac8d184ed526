/** Dense, Flatten, Reshape, Rescaling and the layers that are the identity at inference (Dropout, noise). */
import * as tf from '@tensorflow/tfjs'
import { UnsupportedOpError, type OpKernel } from '../types'
import { activationOf } from './activations'
import { channelsLast, num, one, weight } from './config'

/** tfjs-layers' Dense.call through K.dot: one fused matMul of the input's last axis (rank > 2: as 2-D and back). */
export const dense: OpKernel = (inputs, node) => {
  const x = one(inputs, node)
  const kernel = weight(inputs, node, 'kernel')
  if (!kernel || kernel.rank !== 2) throw new UnsupportedOpError('no 2-D kernel weight')
  const bias = weight(inputs, node, 'bias') ?? undefined
  const act = activationOf(node)
  const a = (x.rank === 2 ? x : tf.reshape(x, [-1, x.shape[x.rank - 1]!])) as tf.Tensor2D
  let y: tf.Tensor = tf.fused.matMul({ a, b: kernel as tf.Tensor2D, bias, activation: act.fused })
  if (x.rank !== 2) y = tf.reshape(y, [...x.shape.slice(0, -1), kernel.shape[1]!])
  return [act.fused ? y : act.apply(y)]
}

/** Row-major flatten of everything after the batch axis (NHWC: index (i·w + j)·c + k). */
export const flatten: OpKernel = (inputs, node) => {
  channelsLast(node)
  const x = one(inputs, node)
  return [tf.reshape(x, [x.shape[0]!, x.size / x.shape[0]!])]
}

export const reshape: OpKernel = (inputs, node) => {
  const x = one(inputs, node)
  const target = node.attributes.targetShape
  if (!Array.isArray(target)) throw new UnsupportedOpError('no targetShape')
  return [tf.reshape(x, [x.shape[0]!, ...(target as number[])])]
}

export const rescaling: OpKernel = (inputs, node) => {
  const x = one(inputs, node)
  return [tf.add(tf.mul(x.dtype === 'float32' ? x : tf.cast(x, 'float32'), num(node, 'scale', 1)), num(node, 'offset', 0))]
}

/** Dropout and noise layers: the input itself at inference (the executor does not dispose a returned input). */
export const inferenceIdentity: OpKernel = (inputs, node) => [one(inputs, node)]

/** Permute: `dims` numbers the axes after the batch from 1. */
export const permute: OpKernel = (inputs, node) => {
  const dims = node.attributes.dims
  if (!Array.isArray(dims)) throw new UnsupportedOpError('no dims')
  return [tf.transpose(one(inputs, node), [0, ...(dims as number[])])]
}
