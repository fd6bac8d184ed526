/**
 * A class's weight vector as a direction target (issue 12, "a direction in a layer"): on the feature layer of a
 * global-pooling → linear head (maps/cam.ts findCamHead), class c's logit is b_c + Σ_k w_ck · pool_k, so w_c is the
 * direction in that layer the class reads. With global AVERAGE pooling the direction target's value (Σ_k w_ck · A_k
 * averaged over space, targets.ts) is exactly logit_c − b_c, and its pixel maps are the logit's; with global max
 * pooling it is the same weights read through the mean instead of the max. Any other head: `unsupported` says why.
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ParsedParams, type Result } from '../../../../shared/api'
import { findCamHead } from '../../maps/cam'
import type { LoadedModel } from '../../model'

export async function getClassDirection(model: LoadedModel, p: ParsedParams<'getClassDirection'>): Promise<Result<'getClassDirection'>> {
  const head = findCamHead(model)
  if (typeof head === 'string') return { unsupported: `Model ${model.info.name} has no global-pooling → linear head: ${head}`, layer: null, pooling: null, vector: [] }
  if (p.class >= head.classes) throw new ConvscopeError('BAD_REQUEST', `Class ${p.class} is not a class of model ${model.info.name} (it has ${head.classes}: 0 … ${head.classes - 1})`)
  const column = tf.tidy(() => head.weights([p.class]).reshape([-1])) // [K]
  const vector = Array.from(await column.data())
  column.dispose()
  return { unsupported: null, layer: head.featureLayer, pooling: head.pooling, vector }
}
