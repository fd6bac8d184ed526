/** TensorFlow image resizing (NHWC images, the new [height, width] as input 1), as tf.image runs it. */
import * as tf from '@tensorflow/tfjs'
import { intAttr } from '../attributes'
import type { OpKernel, OpNode } from '../types'
import { input, inputValues } from './attributes'

function resizeArgs(inputs: readonly (tf.Tensor | null)[], node: OpNode) {
  const [h, w] = inputValues(inputs, 1)
  return { size: [h!, w!] as [number, number], alignCorners: intAttr(node, 'align_corners', 0) === 1, halfPixelCenters: intAttr(node, 'half_pixel_centers', 0) === 1 }
}

export const resizeBilinear: OpKernel = (inputs, node) => {
  const { size, alignCorners, halfPixelCenters } = resizeArgs(inputs, node)
  return [tf.image.resizeBilinear(input(inputs, 0) as tf.Tensor4D, size, alignCorners, halfPixelCenters)]
}

export const resizeNearestNeighbor: OpKernel = (inputs, node) => {
  const { size, alignCorners, halfPixelCenters } = resizeArgs(inputs, node)
  return [tf.image.resizeNearestNeighbor(input(inputs, 0) as tf.Tensor4D, size, alignCorners, halfPixelCenters)]
}
