/** ZeroPadding2D, Cropping2D, UpSampling2D (channels-last). */
import * as tf from '@tensorflow/tfjs'
import { UnsupportedOpError, type OpKernel } from '../types'
import { channelsLast, nums, one, str } from './config'

/** [[top, bottom], [left, right]] as fromKerasLayers flattens it: 4 numbers (or 1 / 2 for the short forms). */
export function sides(value: unknown, what: string): [number, number, number, number] {
  const v = typeof value === 'number' ? [value] : value
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) throw new UnsupportedOpError(`${what} ${JSON.stringify(value)}`)
  if (v.length === 1) return [v[0], v[0], v[0], v[0]]
  if (v.length === 2) return [v[0], v[0], v[1], v[1]]
  if (v.length === 4) return v as [number, number, number, number]
  throw new UnsupportedOpError(`${what} ${JSON.stringify(value)}`)
}

export const zeroPadding2D: OpKernel = (inputs, node) => {
  channelsLast(node)
  const [t, b, l, r] = sides(node.attributes.padding ?? 1, 'padding')
  return [tf.pad(one(inputs, node), [[0, 0], [t, b], [l, r], [0, 0]])]
}

export const cropping2D: OpKernel = (inputs, node) => {
  channelsLast(node)
  const x = one(inputs, node)
  const [t, b, l, r] = sides(node.attributes.cropping ?? 0, 'cropping')
  const [, h, w] = x.shape as number[]
  return [tf.slice(x, [0, t, l, 0], [-1, h! - t - b, w! - l - r, -1])]
}

export const upSampling2D: OpKernel = (inputs, node) => {
  channelsLast(node)
  const x = one(inputs, node) as tf.Tensor4D
  const [sh, sw] = nums(node, 'size', 2, 2)
  const size: [number, number] = [sh! * x.shape[1], sw! * x.shape[2]]
  return [str(node, 'interpolation', 'nearest') === 'nearest' ? tf.image.resizeNearestNeighbor(x, size) : tf.image.resizeBilinear(x, size)]
}
