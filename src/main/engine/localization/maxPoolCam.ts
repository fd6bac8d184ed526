/**
 * CAM for a global MAX pooling head, as the CAM paper computes it for its GMP networks (Zhou et al. 2016,
 * §3.1, "GAP vs GMP"): the same weighted sum M_c(x, y) = Σ_k w_ck f_k(x, y) of the last conv maps with the
 * dense layer's weights. Unlike CAM on an average-pooling head, the class score is not the map's mean
 * (each channel contributes only its maximum), so the map is a heuristic read-out, which is exactly what
 * the paper's GAP-vs-GMP comparison measures.
 *
 * The maps module's CAM refuses such heads on purpose (its identity logit = mean(map) + bias would not
 * hold); localization uses this method for `cam` on a network that ends conv features → global max
 * pooling → [dropout / flatten] → one linear dense layer → [softmax] (`localizationMethod`).
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type LayerInfo } from '../../../shared/api'
import type { LoadedModel } from '../model'
import { mapMethod } from '../maps'
import { classActivationMaps } from '../maps/cam'
import { findLogits, forwardWithLogits } from '../maps/classScores'
import { checkMapRequest, readClassMaps } from '../maps/mapBase'
import type { MapMethod, MapMethodName } from '../maps/types'

interface MaxPoolHead {
  featureLayer: string
  denseLayer: string
}

const SKIPPED_TYPES = new Set(['Dropout', 'SpatialDropout2D', 'GaussianDropout', 'GaussianNoise', 'AlphaDropout', 'Flatten', 'Reshape'])

/** The model's conv features → global max pooling → dense head, or why it has none. */
export function findMaxPoolHead(model: LoadedModel): MaxPoolHead | string {
  const logits = findLogits(model)
  if (typeof logits === 'string') return logits
  const byName = new Map(model.info.layers.map((l) => [l.name, l]))
  const dense = byName.get(logits.layer)!
  if (dense.kind !== 'dense') return `the class scores come from "${dense.name}" (${dense.type}), not a dense layer`
  if (logits.kind === 'layer' && dense.activation !== null && dense.activation !== 'linear') return `the dense layer "${dense.name}" has a ${dense.activation} activation`
  const input = (l: LayerInfo) => (l.inbound.length === 1 ? byName.get(l.inbound[0]!) : undefined)
  let pool = input(dense)
  while (pool && SKIPPED_TYPES.has(pool.type)) pool = input(pool)
  if (!pool || pool.kind !== 'global-pool' || !(pool.type === 'GlobalMaxPooling2D' || pool.type === 'Max')) {
    return `"${dense.name}" does not read a global max pooling layer`
  }
  const features = input(pool)
  if (!features?.spatial) return `the global max pooling "${pool.name}" does not read a spatial conv map`
  if (!model.linearWeights?.(dense.name)) return `the weights of "${dense.name}" are not readable`
  return { featureLayer: features.name, denseLayer: dense.name }
}

export const maxPoolCam: MapMethod = {
  name: 'cam',
  label: 'CAM (global max pooling head)',
  unsupported(model) {
    const head = findMaxPoolHead(model)
    return typeof head === 'string' ? `CAM over a global max pooling head: ${head}` : null
  },
  async compute(model, input, classes) {
    const head = findMaxPoolHead(model)
    if (typeof head === 'string') throw new ConvscopeError('UNSUPPORTED_OP', `CAM cannot run on model ${model.info.name}: ${head}`)
    const weights = model.linearWeights!(head.denseLayer)!
    const classCount = weights.kernel.shape[weights.kernel.rank - 1]!
    checkMapRequest(model, input, classes, classCount)
    const {
      outputs: [features],
      logits,
    } = forwardWithLogits(model, input, [head.featureLayer])
    const maps = tf.tidy(() => {
      const channels = features!.shape[3]!
      const w = tf.gather(weights.kernel.reshape([channels, classCount]), tf.tensor1d(classes, 'int32'), 1) as tf.Tensor2D
      return classActivationMaps(features as tf.Tensor4D, w)
    })
    try {
      return { layer: head.featureLayer, maps: await readClassMaps(maps, logits, classes) }
    } finally {
      tf.dispose([features!, logits, maps])
    }
  },
}

/**
 * The map method `name` for localization: the maps module's, except `cam` on a network with a global max
 * pooling head, which gets maxPoolCam (the CAM paper's GMP variant).
 */
export function localizationMethod(model: LoadedModel, name: MapMethodName | string): MapMethod {
  const method = mapMethod(name)
  if (method.name === 'cam' && method.unsupported(model) && typeof findMaxPoolHead(model) !== 'string') return maxPoolCam
  return method
}
