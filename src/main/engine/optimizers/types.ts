/**
 * Activation maximization's image parameterizations (issue 12): how the optimised images are made from the
 * variables Adam updates. One file per parameterization, registered in index.ts.
 */
import * as tf from '@tensorflow/tfjs'
import type { ActmaxSettings } from '../../../shared/api'
import type { Rng } from '../rng'

/** `n` images of side `size` made from trainable variables. */
export interface ParameterizedImage {
  /** What the optimiser updates. */
  readonly variables: tf.Variable[]
  /** The images [n, size, size, 3], RGB in [0, 1], differentiable with respect to `variables`. */
  rgb(): tf.Tensor4D
  /**
   * The raw pixels, centred (value − 0.5, so 0 is mid-grey), when the variables are the pixels themselves: the
   * lecture's regularizers (Yosinski et al. 2015: blur, clipping small pixels or contributions) act on them
   * between steps. Null for a parameterization whose variables are not pixels.
   */
  readonly pixels: tf.Variable<tf.Rank.R4> | null
  /** After each step: bring the variables back into their valid set (pixels: [−0.5, 0.5]). */
  project(): void
  dispose(): void
}

export interface ImageParameterization {
  name: ActmaxSettings['parameterization']
  label: string
  /** One line for help texts and the UI. */
  description: string
  /** `n` images of side `size`, their variables drawn from `rng` (same stream, same images). */
  create(n: number, size: number, rng: Rng): ParameterizedImage
}

/** `v` ← f(): Variable.assign shares the new tensor's data but leaves the tensor itself to be disposed. */
export function assignFrom(v: tf.Variable, f: () => tf.Tensor): void {
  const next = tf.tidy(f)
  v.assign(next)
  next.dispose()
}

/** A trainable variable holding `initial`'s values; `initial` is disposed (tf.variable leaves it allocated). */
export function variableOf<R extends tf.Rank>(initial: tf.Tensor<R>): tf.Variable<R> {
  const v = tf.variable(initial, true, undefined, 'float32')
  initial.dispose()
  return v
}
