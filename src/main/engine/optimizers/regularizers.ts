/**
 * The lecture's regularizers of activation maximization (Yosinski et al. 2015, "Understanding Neural Networks
 * Through Deep Visualization"), applied between optimiser steps to the centred pixels x (0 is mid-grey):
 * - L2 decay: x ← (1 − decay)·x (on any parameterization: its variables shrink toward their neutral value, 0);
 * - Gaussian blur every k steps, of width `blurSigma` pixels;
 * - clipping pixels with small norm: pixels whose colour norm ‖x‖ is below the given percentile become 0;
 * - clipping pixels with small contribution: pixels whose |Σ_c x·∂objective/∂x| is below the percentile become 0.
 * Blur and clipping act on pixels, so they need the pixel parameterization (checked by `checkRegularizers`).
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ActmaxSettings } from '../../../shared/api'
import { assignFrom, type ParameterizedImage } from './types'

type RegularizerSettings = Pick<ActmaxSettings, 'l2Decay' | 'blurEvery' | 'blurSigma' | 'clipPixelsPercentile' | 'clipContributionsPercentile' | 'parameterization'>

/** BAD_REQUEST when a pixel regularizer is asked of a parameterization without pixels, or the decay is 1 or more. */
export function checkRegularizers(s: RegularizerSettings): void {
  if (s.l2Decay >= 1) throw new ConvscopeError('BAD_REQUEST', `l2Decay must be below 1 (it multiplies the image by 1 − decay each step), got ${s.l2Decay}`)
  const onPixels = [
    s.blurEvery > 0 && 'blurEvery',
    s.clipPixelsPercentile > 0 && 'clipPixelsPercentile',
    s.clipContributionsPercentile > 0 && 'clipContributionsPercentile',
  ].filter(Boolean)
  if (onPixels.length && s.parameterization !== 'pixel') {
    throw new ConvscopeError('BAD_REQUEST', `${onPixels.join(', ')} act on pixels between steps: use parameterization "pixel" (the ${s.parameterization} image's variables are not pixels)`)
  }
}

/** Apply the regularizers due after step `step` (0-based). `gradient`: ∂objective/∂pixels of this step, for contribution clipping. */
export function regularize(image: ParameterizedImage, s: RegularizerSettings, step: number, gradient: tf.Tensor4D | null): void {
  if (s.l2Decay > 0) for (const v of image.variables) assignFrom(v, () => tf.mul(v, 1 - s.l2Decay))
  const x = image.pixels
  if (!x) return
  if (s.blurEvery > 0 && s.blurSigma > 0 && (step + 1) % s.blurEvery === 0) assignFrom(x, () => gaussianBlur(x, s.blurSigma))
  if (s.clipPixelsPercentile > 0) {
    assignFrom(x, () => zeroBelowPercentile(x, tf.norm(x, 'euclidean', 3), s.clipPixelsPercentile))
  }
  if (s.clipContributionsPercentile > 0 && gradient) {
    assignFrom(x, () => zeroBelowPercentile(x, tf.abs(tf.sum(tf.mul(x, gradient), 3)), s.clipContributionsPercentile))
  }
}

/** The pixels of `x` [n, h, w, c] with the `percentile` % lowest `score` [n, h, w] of their image set to 0 (ties at the cut too). */
function zeroBelowPercentile(x: tf.Tensor4D, score: tf.Tensor, percentile: number): tf.Tensor4D {
  const [n, h, w] = x.shape
  const k = Math.ceil((percentile / 100) * h * w)
  if (k === 0) return x.clone()
  // The k-th smallest score of each image is the smallest of its (h·w − k + 1) largest.
  const cut = tf.min(tf.topk(score.reshape([n, h * w]), h * w - k + 1).values, 1).reshape([n, 1, 1, 1])
  return tf.where(tf.lessEqual(score.reshape([n, h, w, 1]), cut), tf.zerosLike(x), x) as tf.Tensor4D
}

/** A separable Gaussian blur of `x` [n, h, w, c], `sigma` in pixels, edges reflected (the radius is kept below the side). */
export function gaussianBlur(x: tf.Tensor4D, sigma: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w, channels] = x.shape
    const radius = Math.max(1, Math.min(Math.ceil(3 * sigma), h - 1, w - 1))
    const taps = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)))
    const total = taps.reduce((a, b) => a + b, 0)
    const weights = taps.flatMap((t) => Array<number>(channels).fill(t / total))
    const padded = tf.mirrorPad(x, [[0, 0], [radius, radius], [radius, radius], [0, 0]], 'reflect')
    const rows = tf.depthwiseConv2d(padded, tf.tensor4d(weights, [1, 2 * radius + 1, channels, 1]), 1, 'valid')
    return tf.depthwiseConv2d(rows, tf.tensor4d(weights, [2 * radius + 1, 1, channels, 1]), 1, 'valid') as tf.Tensor4D
  })
}
