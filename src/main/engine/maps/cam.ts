/**
 * Class Activation Mapping (Zhou et al. 2016, eq. 2): for a network whose class scores are a linear layer over
 * globally averaged conv features, the map of class c is M_c(x, y) = Σ_k w_ck f_k(x, y), and
 * logit_c = b_c + mean_xy M_c(x, y) exactly (the bias is not spread over the map). All requested classes come
 * from one matmul of the h·w × K features by the K × C' weight columns, after one forward pass.
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../../shared/api'
import { classWeights, findClassifierHead } from '../models/classifierHead'
import { forwardWithLogits } from './classScores'
import { checkMapRequest, readClassMaps } from './mapBase'
import type { MapMethod } from './types'

/** M_c = Σ_k w_ck f_k for features [1, h, w, K] and weight columns [K, C']: maps [C', h, w] (caller disposes). */
export function classActivationMaps(features: tf.Tensor4D, weights: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const [, h, w, k] = features.shape
    return tf.matMul(weights, features.reshape([h * w, k]) as tf.Tensor2D, true, true).reshape([weights.shape[1], h, w]) as tf.Tensor3D
  })
}

export const cam: MapMethod = {
  name: 'cam',
  label: 'CAM',
  unsupported: (model) => findClassifierHead(model).reason,
  async compute(model, input, classes) {
    const { head, reason } = findClassifierHead(model)
    if (!head) throw new ConvscopeError('UNSUPPORTED_OP', `CAM cannot run on model ${model.info.name}: ${reason}`)
    checkMapRequest(model, input, classes, head.classes)
    if (classes.length === 0) return { layer: head.featureLayer, maps: [] }
    const {
      outputs: [features],
      logits,
    } = forwardWithLogits(model, input, [head.featureLayer])
    let maps: tf.Tensor3D | undefined
    try {
      maps = tf.tidy(() => {
        const weights = classWeights(head, classes)
        return classActivationMaps(features as tf.Tensor4D, weights)
      })
      return { layer: head.featureLayer, maps: await readClassMaps(maps, logits, classes) }
    } finally {
      tf.dispose([features!, logits, ...(maps ? [maps] : [])])
    }
  },
}
