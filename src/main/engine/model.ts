import type * as tf from '@tensorflow/tfjs'
import type { ModelInfo } from '../../shared/api'

/**
 * A model opened by the engine, whatever its on-disk format (TF.js layers or graph model).
 * Everything the methods need goes through this interface, so a method never asks which format it got.
 */
export interface LoadedModel {
  readonly info: ModelInfo
  /**
   * Run a batch of preprocessed inputs [n, h, w, c] and return the outputs of the named layers, in order.
   * The special name `LoadedModel.OUTPUT` ('__output__') is the model's final output. One forward pass.
   * The caller owns (and disposes) the returned tensors.
   */
  forward(input: tf.Tensor4D, layers: string[]): tf.Tensor[]
  /** The 4-D kernel [kh, kw, in, out] of a conv / depthwise layer (depthwise: [kh, kw, channels, multiplier]); null if none. Not to be disposed by the caller. */
  kernel(layer: string): tf.Tensor4D | null
  dispose(): void
}

export const OUTPUT = '__output__'
