import type * as tf from '@tensorflow/tfjs'
import type { ModelInfo } from '../../shared/api'
import type { RuntimeSource } from './executors/runtimeSource'
import type { LayerGraph } from './models/layerGraph'

/** Options of LoadedModel.forward. */
export interface ForwardOptions {
  /**
   * Run with the output of `layer` replaced by `value` (shape [n, ...that layer's output shape]): layers after
   * it read `value`, while paths that do not go through it (skip connections around it) still read the real
   * input. Only what the requested outputs need is computed, with plain differentiable ops, so the call can
   * sit inside tf.grad to take d(output)/d(activation) (Grad-CAM).
   */
  replace?: { layer: string; value: tf.Tensor }
}

/** A linear layer's weights: dense kernel [in, out] or conv kernel [kh, kw, in, out], and its bias. */
export interface LinearWeights {
  kernel: tf.Tensor
  bias: tf.Tensor1D | null
}

/**
 * A model opened by the engine, whatever its on-disk format (TF.js layers or graph model).
 * Everything the methods need goes through this interface, so a method never asks which format it got.
 */
export interface LoadedModel {
  readonly info: ModelInfo
  /** info.layers by name, with what feeds each layer: built once when the model is opened. */
  readonly graph: LayerGraph
  /**
   * Run a batch of preprocessed inputs [n, h, w, c] and return the outputs of the named layers, in order.
   * The special name `LoadedModel.OUTPUT` ('__output__') is the model's final output. One forward pass.
   * With `options.replace`, an inner layer's output is given instead of computed (see ForwardOptions).
   * The caller owns (and disposes) the returned tensors.
   */
  forward(input: tf.Tensor4D, layers: string[], options?: ForwardOptions): tf.Tensor[]
  /** The 4-D kernel [kh, kw, in, out] of a conv / depthwise layer (depthwise: [kh, kw, channels, multiplier]); null if none. Not to be disposed by the caller. */
  kernel(layer: string): tf.Tensor4D | null
  /**
   * Kernel and bias of a dense or (non-depthwise) conv layer, null for any other layer. Not to be disposed
   * by the caller. Optional: models built in tests may lack it; class-map heads then report unsupported.
   */
  linearWeights?(layer: string): LinearWeights | null
  /**
   * The model as onnxruntime runs it (executors/runtimeSource.ts), for forward-only work; absent where the model
   * has none (test models): forward work then runs on tfjs.
   */
  readonly runtimeSource?: RuntimeSource
  dispose(): void
}

export const OUTPUT = '__output__'
