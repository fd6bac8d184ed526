/**
 * The class scores a map explains: the logits, the network's scores before its softmax.
 *
 * Explaining the softmax output instead would mix in every other class (Selvaraju et al. 2017 take the
 * gradient of the score before the softmax). Three shapes of network are understood:
 * - a layer followed by a softmax layer (the demo nets: `predictions` → `probs`): that layer's output;
 * - a dense layer with activation softmax: its pre-activation, x · kernel + bias from its input and weights;
 * - a model whose output has no softmax: the output is the score.
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../../shared/api'
import type { ForwardOptions, LoadedModel } from '../model'

/** Where the logits come from: a layer's output, or the pre-activation of a dense-with-softmax layer. */
export type LogitsSource = { kind: 'layer'; layer: string } | { kind: 'dense-softmax'; layer: string; input: string }

/** Find the logits of `model`, or say why there are none (a message for the user). */
export function findLogits(model: LoadedModel): LogitsSource | string {
  const layers = model.info.layers
  const last = layers[layers.length - 1]
  if (!last) return `Model ${model.info.name} has no layers`
  let source: LogitsSource
  if (last.kind === 'activation' && last.activation === 'softmax') {
    if (last.inbound.length !== 1) return `The softmax layer "${last.name}" has ${last.inbound.length} inputs; the logits must be one tensor`
    source = { kind: 'layer', layer: last.inbound[0]! }
  } else if (last.activation === 'softmax') {
    if (last.kind !== 'dense' || last.inbound.length !== 1) {
      return `The output layer "${last.name}" (${last.type}) applies its softmax inside; convscope recovers the logits only from a dense layer with a softmax activation`
    }
    if (!model.linearWeights?.(last.name)) return `The weights of the output layer "${last.name}" are not readable, so its logits (before the softmax) cannot be computed`
    source = { kind: 'dense-softmax', layer: last.name, input: last.inbound[0]! }
  } else {
    source = { kind: 'layer', layer: last.name }
  }
  const scores = model.graph.get(source.layer)
  if (scores.outputShape.length !== 1) {
    return `The class scores (layer "${scores.name}") have shape [${scores.outputShape.join(', ')}]; class maps need one score per class, a vector`
  }
  return source
}

/** findLogits, or a ConvscopeError. */
export function requireLogits(model: LoadedModel): LogitsSource {
  const source = findLogits(model)
  if (typeof source === 'string') throw new ConvscopeError('UNSUPPORTED_OP', source)
  return source
}

/** The layer whose output `forwardWithLogits` needs to compute the logits. */
function logitsInput(source: LogitsSource): string {
  return source.kind === 'layer' ? source.layer : source.input
}

/**
 * One forward pass to `layers` and to the logits [n, classes]. Differentiable (usable inside tf.grad);
 * the caller owns every returned tensor.
 */
export function forwardWithLogits(model: LoadedModel, input: tf.Tensor4D, layers: string[], options?: ForwardOptions): { outputs: tf.Tensor[]; logits: tf.Tensor2D } {
  const source = requireLogits(model)
  return withLogits(model, source, model.forward(input, [...layers, logitsInput(source)], options), layers.length)
}

/**
 * For forward-only work (CAM, on the executor executors/forward.ts picks): the name to add to a forward pass whose
 * output logitsFromForward turns into the logits, so that the pass that ranks the classes gives them too.
 */
export function logitsForwardName(model: LoadedModel): string {
  return logitsInput(requireLogits(model))
}

/** The logits [n, classes] from the output of logitsForwardName (a new tensor; `scores` is not disposed). */
export function logitsFromForward(model: LoadedModel, scores: tf.Tensor): tf.Tensor2D {
  return denseLogits(model, requireLogits(model), scores) ?? (scores.clone() as tf.Tensor2D)
}

/** Where the softmax is inside a dense layer: its pre-activation from the layer's input `last`; else null. */
function denseLogits(model: LoadedModel, source: LogitsSource, last: tf.Tensor): tf.Tensor2D | null {
  if (source.kind === 'layer') return null
  const weights = model.linearWeights!(source.layer)!
  return tf.tidy((): tf.Tensor2D => {
    const z = tf.matMul(last.reshape([last.shape[0]!, -1]) as tf.Tensor2D, weights.kernel as tf.Tensor2D) as tf.Tensor2D
    return weights.bias ? (z.add(weights.bias) as tf.Tensor2D) : z
  })
}

/** Split forward's outputs into the layers and the logits, computed from the last output where the softmax is inside a dense layer. */
function withLogits(model: LoadedModel, source: LogitsSource, all: tf.Tensor[], layers: number): { outputs: tf.Tensor[]; logits: tf.Tensor2D } {
  const outputs = all.slice(0, layers)
  const last = all[layers]!
  const logits = denseLogits(model, source, last)
  if (!logits) return { outputs, logits: last as tf.Tensor2D }
  last.dispose()
  return { outputs, logits }
}

/** The logits [n, classes] alone (differentiable; the caller owns the result). */
export function classLogits(model: LoadedModel, input: tf.Tensor4D, options?: ForwardOptions): tf.Tensor2D {
  return forwardWithLogits(model, input, [], options).logits
}

/**
 * Σ_i score[i, classes[i]]: one scalar whose gradient gives, in batch row i, the gradient of class classes[i]'s
 * score — the logit, or with `score` 'probability' the softmax of the logits.
 */
export function pickedScoreSum(logits: tf.Tensor2D, classes: number[], score: 'logit' | 'probability' = 'logit'): tf.Scalar {
  return tf.tidy((): tf.Scalar => {
    const mask = tf.oneHot(tf.tensor1d(classes, 'int32'), logits.shape[1]).toFloat()
    return (score === 'probability' ? tf.softmax(logits) : logits).mul(mask).sum()
  })
}

/**
 * The class probabilities from the model's output [.., classes]: the output itself when the network ends in a
 * softmax, else its softmax (torchvision's ONNX exports end in the logits of a Gemm), as the deletion /
 * insertion curves take them. The caller owns the result.
 */
export function outputProbabilities(model: LoadedModel, output: tf.Tensor): tf.Tensor {
  const last = model.info.layers[model.info.layers.length - 1]
  return last?.activation === 'softmax' ? output.clone() : tf.softmax(output)
}
