/**
 * Class Activation Mapping (Zhou et al. 2016, eq. 2): for a network whose class scores are a linear layer over
 * globally pooled conv features, the map of class c is M_c(x, y) = Σ_k w_ck f_k(x, y). The formula is picked
 * from the head:
 * - global AVERAGE pooling (models/classifierHead.ts): logit_c = b_c + mean_xy M_c(x, y) exactly (the bias is
 *   not spread over the map);
 * - global MAX pooling (maxPoolHead.ts): the paper's GMP variant, the same weighted sum as a heuristic read-out
 *   (each channel enters the score through its maximum only), labelled "CAM (global max pooling head)".
 * All requested classes come from one matmul of the h·w × K features by the K × C' weight columns, after one
 * forward pass (forward only: on onnxruntime where the model has a runtime source, executors/forward.ts), which
 * may be the pass that ranked the classes (forwardNames / mapsFromForward: imageClassMaps).
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../../shared/api'
import { forwardTensors } from '../executors/forward'
import type { LoadedModel } from '../model'
import { classWeights, findClassifierHead } from '../models/classifierHead'
import { logitsForwardName, logitsFromForward } from './classScores'
import { checkClasses, checkMapRequest, readClassMaps } from './mapBase'
import { findMaxPoolHead, maxPoolHeadClasses, maxPoolHeadWeights } from './maxPoolHead'
import type { MapMethod, MapResult } from './types'

/** M_c = Σ_k w_ck f_k for features [1, h, w, K] and weight columns [K, C']: maps [C', h, w] (caller disposes). */
export function classActivationMaps(features: tf.Tensor4D, weights: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const [, h, w, k] = features.shape
    return tf.matMul(weights, features.reshape([h * w, k]) as tf.Tensor2D, true, true).reshape([weights.shape[1], h, w]) as tf.Tensor3D
  })
}

/** The head CAM reads: its pooling, feature layer, class count and weight columns. */
export interface CamHead {
  pooling: 'average' | 'max'
  featureLayer: string
  classes: number
  /** [K, C'] weight columns of `classes` (the caller disposes them). */
  weights(classes: number[]): tf.Tensor2D
}

/** The global-average-pooling head, else the global-max-pooling one, else why CAM has neither. */
export function findCamHead(model: LoadedModel): CamHead | string {
  const { head, reason } = findClassifierHead(model)
  if (head) return { pooling: 'average', featureLayer: head.featureLayer, classes: head.classes, weights: (classes) => classWeights(head, classes) }
  const maxHead = findMaxPoolHead(model)
  if (typeof maxHead === 'string') return `${reason} (and ${maxHead}, so its global max pooling variant does not apply either)`
  return { pooling: 'max', featureLayer: maxHead.featureLayer, classes: maxPoolHeadClasses(model, maxHead), weights: (classes) => maxPoolHeadWeights(model, maxHead, classes) }
}

/** findCamHead, or a ConvscopeError saying why CAM cannot run. */
function camHead(model: LoadedModel): CamHead {
  const head = findCamHead(model)
  if (typeof head === 'string') throw new ConvscopeError('UNSUPPORTED_OP', `CAM cannot run on model ${model.info.name}: ${head}`)
  return head
}

/** The feature map and the tensor the logits come from. */
const camForwardNames = (model: LoadedModel): string[] => [camHead(model).featureLayer, logitsForwardName(model)]

/** The maps of `classes` from one image's [features, logits source] (not disposed here). */
async function camFromForward(model: LoadedModel, [features, scores]: tf.Tensor[], classes: number[]): Promise<MapResult> {
  const head = camHead(model)
  checkClasses(model, classes, head.classes)
  if (classes.length === 0) return { layer: head.featureLayer, maps: [] }
  const logits = logitsFromForward(model, scores!)
  let maps: tf.Tensor3D | undefined
  try {
    maps = tf.tidy(() => classActivationMaps(features as tf.Tensor4D, head.weights(classes)))
    return { layer: head.featureLayer, maps: await readClassMaps(maps, logits, classes) }
  } finally {
    tf.dispose([logits, ...(maps ? [maps] : [])])
  }
}

export const cam: MapMethod = {
  name: 'cam',
  label: 'CAM',
  needs: { layer: false, gradient: false, globalPoolingHead: true },
  returns: 'one-channel',
  grid: 'layer',
  cost: 'forward only',
  comparedByDefault: true,
  // The map is the logit's decomposition over positions (it sums back to it): it explains nothing else.
  scores: ['logit'],
  unsupported(model) {
    const head = findCamHead(model)
    return typeof head === 'string' ? head : null
  },
  labelOn(model) {
    const head = findCamHead(model)
    return typeof head !== 'string' && head.pooling === 'max' ? 'CAM (global max pooling head)' : this.label
  },
  async compute(model, input, classes) {
    const head = camHead(model)
    checkMapRequest(model, input, classes, head.classes)
    if (classes.length === 0) return { layer: head.featureLayer, maps: [] }
    const { tensors } = await forwardTensors(model, input, camForwardNames(model))
    try {
      return await camFromForward(model, tensors, classes)
    } finally {
      tf.dispose(tensors)
    }
  },
  forwardNames: camForwardNames,
  mapsFromForward: camFromForward,
}
