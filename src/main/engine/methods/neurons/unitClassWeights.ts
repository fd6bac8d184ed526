/**
 * The unit card's "classes this channel votes for" (issue 12, item 6): on the feature layer of a global-pooling →
 * linear head (CAM's setting, maps/cam.ts findCamHead: global average pooling, or the CAM paper's global max
 * pooling variant), channel k enters class c's score through the weight w_c^k alone, so the classes with the
 * largest w_c^k are the ones the channel speaks for. Any other layer or head: `unsupported` says why.
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ParsedParams, type Result } from '../../../../shared/api'
import { findCamHead } from '../../maps/cam'
import type { LoadedModel } from '../../model'

export async function getUnitClassWeights(model: LoadedModel, p: ParsedParams<'getUnitClassWeights'>): Promise<Result<'getUnitClassWeights'>> {
  const info = model.graph.find(p.layer)
  if (!info) throw new ConvscopeError('BAD_REQUEST', `Model ${model.info.name} has no layer "${p.layer}"`)
  const head = findCamHead(model)
  if (typeof head === 'string') return { unsupported: `Model ${model.info.name} has no global-pooling → linear head: ${head}`, classes: [] }
  if (head.featureLayer !== p.layer) {
    return { unsupported: `Class weights exist for the channels of "${head.featureLayer}", the layer the head's global ${head.pooling} pooling reads; "${p.layer}" reaches the classes through other layers`, classes: [] }
  }
  const channels = info.outputShape[info.outputShape.length - 1]!
  if (p.channel >= channels) throw new ConvscopeError('BAD_REQUEST', `Layer "${p.layer}" has ${channels} channels (0 … ${channels - 1}); got channel ${p.channel}`)

  const all = Array.from({ length: head.classes }, (_, c) => c)
  const row = tf.tidy(() => {
    const w = head.weights(all) // [K, C]
    return tf.slice(w, [p.channel, 0], [1, head.classes]).reshape([head.classes])
  })
  const weights = await row.data()
  row.dispose()
  const labels = model.info.labels
  const order = all.sort((a, b) => weights[b]! - weights[a]! || a - b)
  return { unsupported: null, classes: order.slice(0, p.count).map((index) => ({ index, label: labels?.[index] ?? null, weight: weights[index]! })) }
}
