/**
 * The classifier head of the CAM paper's GMP networks (Zhou et al. 2016, §3.1, "GAP vs GMP"): conv features →
 * global max pooling → [dropout / flatten] → one linear dense layer → [softmax]. CAM reads the same weighted
 * sum Σ_k w_ck f_k(x, y) there, though the class score is no longer the map's mean (each channel contributes
 * only its maximum): a heuristic read-out, which is what the paper's GAP-vs-GMP comparison measures.
 */
import * as tf from '@tensorflow/tfjs'
import type { LoadedModel } from '../model'
import { findLogits } from './classScores'

export interface MaxPoolHead {
  featureLayer: string
  denseLayer: string
}

const SKIPPED_TYPES = new Set(['Dropout', 'SpatialDropout2D', 'GaussianDropout', 'GaussianNoise', 'AlphaDropout', 'Flatten', 'Reshape'])

/** The model's conv features → global max pooling → dense head, or why it has none. */
export function findMaxPoolHead(model: LoadedModel): MaxPoolHead | string {
  const logits = findLogits(model)
  if (typeof logits === 'string') return logits
  const graph = model.graph
  const dense = graph.get(logits.layer)
  if (dense.kind !== 'dense') return `the class scores come from "${dense.name}" (${dense.type}), not a dense layer`
  if (logits.kind === 'layer' && dense.activation !== null && dense.activation !== 'linear') return `the dense layer "${dense.name}" has a ${dense.activation} activation`
  let pool = graph.input(dense)
  while (pool && SKIPPED_TYPES.has(pool.type)) pool = graph.input(pool)
  if (!pool || pool.kind !== 'global-pool' || !(pool.type === 'GlobalMaxPooling2D' || pool.type === 'Max')) {
    return `"${dense.name}" does not read a global max pooling layer`
  }
  const features = graph.input(pool)
  if (!features?.spatial) return `the global max pooling "${pool.name}" does not read a spatial conv map`
  if (!model.linearWeights?.(dense.name)) return `the weights of "${dense.name}" are not readable`
  return { featureLayer: features.name, denseLayer: dense.name }
}

/** The dense layer's [K, C'] weight columns of `classes` (the caller disposes the result). */
export function maxPoolHeadWeights(model: LoadedModel, head: MaxPoolHead, classes: number[]): tf.Tensor2D {
  const { kernel } = model.linearWeights!(head.denseLayer)!
  return tf.tidy(() => {
    const classCount = kernel.shape[kernel.rank - 1]!
    return tf.gather(kernel.reshape([-1, classCount]), tf.tensor1d(classes, 'int32'), 1) as tf.Tensor2D
  })
}

/** How many classes the head scores. */
export function maxPoolHeadClasses(model: LoadedModel, head: MaxPoolHead): number {
  const { kernel } = model.linearWeights!(head.denseLayer)!
  return kernel.shape[kernel.rank - 1]!
}
