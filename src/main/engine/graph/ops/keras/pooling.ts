/** MaxPooling2D, AveragePooling2D (tfjs-layers' pool2d) and the global poolings over height and width. */
import * as tf from '@tensorflow/tfjs'
import type { OpKernel, OpNode } from '../types'
import { channelsLast, nums, one, padding } from './config'

function window(node: OpNode): { size: [number, number]; strides: [number, number] } {
  channelsLast(node)
  const size = nums(node, 'poolSize', 2, 2) as [number, number]
  // Keras: strides default to the pool size.
  const strides = node.attributes.strides === undefined ? size : (nums(node, 'strides', 2, 1) as [number, number])
  return { size, strides }
}

export const maxPooling2D: OpKernel = (inputs, node) => {
  const { size, strides } = window(node)
  return [tf.maxPool(one(inputs, node) as tf.Tensor4D, size, strides, padding(node))]
}

export const averagePooling2D: OpKernel = (inputs, node) => {
  const { size, strides } = window(node)
  return [tf.avgPool(one(inputs, node) as tf.Tensor4D, size, strides, padding(node))]
}

export const globalAveragePooling2D: OpKernel = (inputs, node) => {
  channelsLast(node)
  return [tf.mean(one(inputs, node), [1, 2])]
}

export const globalMaxPooling2D: OpKernel = (inputs, node) => {
  channelsLast(node)
  return [tf.max(one(inputs, node), [1, 2])]
}
