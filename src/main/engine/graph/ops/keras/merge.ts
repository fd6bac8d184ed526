/** Merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate), folded left as tfjs-layers does. */
import * as tf from '@tensorflow/tfjs'
import type { OpKernel } from '../types'
import { data, num } from './config'

const fold =
  (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, finish: (y: tf.Tensor, n: number) => tf.Tensor = (y) => y): OpKernel =>
  (inputs, node) => {
    const xs = data(inputs, node)
    // As tfjs-layers: a copy of the first input (so a one-input merge is a tensor of its own), then folded.
    let y = xs[0]!.clone()
    for (const x of xs.slice(1)) y = f(y, x)
    return [finish(y, xs.length)]
  }

export const add = fold((a, b) => tf.add(a, b))
export const subtract = fold((a, b) => tf.sub(a, b))
export const multiply = fold((a, b) => tf.mul(a, b))
export const average = fold(
  (a, b) => tf.add(a, b),
  (y, n) => tf.mul(1 / n, y),
)
export const maximum = fold((a, b) => tf.maximum(a, b))
export const minimum = fold((a, b) => tf.minimum(a, b))

export const concatenate: OpKernel = (inputs, node) => {
  const xs = data(inputs, node)
  const axis = num(node, 'axis', -1)
  return [tf.concat(xs, axis < 0 ? axis + xs[0]!.rank : axis)]
}
