/** BatchNormalization at inference: tfjs-layers' normalizeInference (moving statistics, beta / gamma when present). */
import * as tf from '@tensorflow/tfjs'
import { UnsupportedOpError, type OpKernel } from '../types'
import { num, one, weight } from './config'

export const batchNormalization: OpKernel = (inputs, node) => {
  const x = one(inputs, node)
  const mean = weight(inputs, node, 'moving_mean')
  const variance = weight(inputs, node, 'moving_variance')
  if (!mean || !variance) throw new UnsupportedOpError('no moving_mean / moving_variance weights')
  let beta = weight(inputs, node, 'beta')
  let gamma = weight(inputs, node, 'gamma')
  const epsilon = num(node, 'epsilon', 1e-3)
  const axis = num(node, 'axis', -1)
  const a = axis < 0 ? axis + x.rank : axis
  let [m, v] = [mean, variance]
  if (a !== x.rank - 1) {
    // Not the last axis: the statistics broadcast along `a` (tfjs-layers' needsBroadcasting branch).
    const shape = x.shape.map((d, i) => (i === a ? d! : 1))
    ;[m, v] = [tf.reshape(m, shape), tf.reshape(v, shape)]
    beta = beta && tf.reshape(beta, shape)
    gamma = gamma && tf.reshape(gamma, shape)
  }
  if (x.rank < 2 || x.rank > 4) throw new UnsupportedOpError(`an input of rank ${x.rank}`)
  // tf.batchNorm is what tfjs-layers' batchNorm2d / 3d / 4d call.
  return [tf.batchNorm(x, m, v, beta ?? undefined, gamma ?? undefined, epsilon)]
}
