/** The activation layers (Activation, ReLU, LeakyReLU, ELU, ThresholdedReLU, Softmax, PReLU), as graph/ops/keras/activations.ts. */
import { UnsupportedOpError } from '../../../graph/ops/types'
import { clip } from '../activations'
import { float, int } from '../builder'
import { type TranslatorFamily, withParams } from '../translator'
import { activation, num, oneInput, opNode, weight, weightTensor } from './config'

export const KERAS_ACTIVATION_LAYERS: TranslatorFamily = {
  Activation: withParams(
    (node) => activation(node),
    (node, ctx, f) => [f(ctx.b, oneInput(node, ctx))],
  ),
  ReLU: withParams(
    (node) => node.attributes.maxValue,
    // clip(relu(x), 0, max) is one Clip (onnxruntime fuses it into the conv before it).
    (node, ctx, max) => [typeof max === 'number' ? clip(ctx.b, oneInput(node, ctx), 0, max) : ctx.b.op('Relu', [oneInput(node, ctx)])],
  ),
  LeakyReLU: withParams(
    (node) => num(opNode(node), 'alpha', 0.3),
    (node, ctx, alpha) => [ctx.b.op('LeakyRelu', [oneInput(node, ctx)], { alpha: float(alpha) })],
  ),
  ELU: withParams(
    (node) => {
      const alpha = num(opNode(node), 'alpha', 1)
      if (alpha !== 1) throw new UnsupportedOpError(`alpha ${alpha}`)
    },
    (node, ctx) => [ctx.b.op('Elu', [oneInput(node, ctx)])],
  ),
  ThresholdedReLU: withParams(
    (node) => num(opNode(node), 'theta', 1),
    (node, ctx, theta) => [ctx.b.op('ThresholdedRelu', [oneInput(node, ctx)], { alpha: float(theta) })],
  ),
  Softmax: withParams(
    (node) => {
      const axis = node.attributes.axis
      if (Array.isArray(axis) && axis.length > 1) throw new UnsupportedOpError(`softmax over axes [${axis.join(', ')}]`)
      // tfjs-layers' default axis is 1 (its DEFAULT_AXIS); saved configs name it.
      return num(opNode(node), 'axis', 1)
    },
    (node, ctx, axis) => [ctx.b.op('Softmax', [oneInput(node, ctx)], { axis: int(axis) })],
  ),
  PReLU: withParams(
    (node, ctx) => {
      if (!weight(node, ctx, 'alpha')) throw new UnsupportedOpError('no alpha weight')
    },
    (node, ctx) => [ctx.b.op('PRelu', [oneInput(node, ctx), ctx.input(weightTensor(node, 'alpha')!)])],
  ),
}
