/**
 * BatchNormalization at inference (graph/ops/keras/normalization.ts) as one per-channel Mul and Add: the moving
 * statistics, gamma and beta folded in double precision, scale = γ / √(var + ε), shift = β − mean · scale.
 */
import { UnsupportedOpError } from '../../../graph/ops/types'
import { type TranslatorFamily, withParams } from '../translator'
import { dataInputs, num, oneInput, opNode, weight } from './config'

export const KERAS_NORMALIZATION: TranslatorFamily = {
  BatchNormalization: withParams(
    (node, ctx) => {
      const mean = weight(node, ctx, 'moving_mean')
      const variance = weight(node, ctx, 'moving_variance')
      if (!mean || !variance) throw new UnsupportedOpError('no moving_mean / moving_variance weights')
      const axis = num(opNode(node), 'axis', -1)
      // Keras saves the built axis (3 for NHWC maps): it must be the last one, the channels.
      const rank = ctx.rank(dataInputs(node)[0] ?? '')
      if (axis !== -1 && axis !== (rank ?? 0) - 1) throw new UnsupportedOpError(`axis ${axis} of ${rank === null ? 'an input of unknown rank' : `a rank-${rank} input`} (only the last axis is written)`)
      return { mean, variance, gamma: weight(node, ctx, 'gamma'), beta: weight(node, ctx, 'beta'), epsilon: num(opNode(node), 'epsilon', 1e-3) }
    },
    (node, ctx, p) => {
      const [m, v] = [p.mean.dataSync(), p.variance.dataSync()]
      const [g, beta] = [p.gamma?.dataSync(), p.beta?.dataSync()]
      const scale = Float32Array.from(m, (_, i) => (g ? g[i]! : 1) / Math.sqrt(v[i]! + p.epsilon))
      const shift = Float32Array.from(m, (mi, i) => (beta ? beta[i]! : 0) - mi * scale[i]!)
      const b = ctx.b
      const y = b.op('Mul', [oneInput(node, ctx), b.floats(`${node.name}/scale`, scale, [scale.length])])
      return [b.op('Add', [y, b.floats(`${node.name}/shift`, shift, [shift.length])])]
    },
  ),
}
