/**
 * Raw pixels, the lecture's activation maximization (Simonyan et al. 2014; Yosinski et al. 2015): the variables
 * are the image itself, centred on mid-grey, kept inside [0, 1] after every step; the regularizers of
 * regularizers.ts act on them between steps.
 */
import * as tf from '@tensorflow/tfjs'
import type { Rng } from '../rng'
import { assignFrom, variableOf, type ImageParameterization, type ParameterizedImage } from './types'

/** Spread of the initial noise around grey, in [0, 1] units. */
const INIT_SD = 0.01

export const pixel: ImageParameterization = {
  name: 'pixel',
  label: 'raw pixels',
  description: 'the pixels themselves, started at grey plus a little noise and kept in [0, 1] (Yosinski et al. 2015)',
  create(n: number, size: number, rng: Rng): ParameterizedImage {
    const values = Float32Array.from({ length: n * size * size * 3 }, () => INIT_SD * rng.normal())
    const centred = variableOf(tf.tensor4d(values, [n, size, size, 3]))
    return {
      variables: [centred],
      pixels: centred,
      rgb: () => tf.tidy(() => tf.add(centred, 0.5) as tf.Tensor4D),
      project: () => assignFrom(centred, () => tf.clipByValue(centred, -0.5, 0.5)),
      dispose: () => centred.dispose(),
    }
  },
}
