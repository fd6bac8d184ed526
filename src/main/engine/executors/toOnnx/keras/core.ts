/** Dense, Flatten, Reshape, Permute, Rescaling and the layers that are the identity at inference (graph/ops/keras/core.ts). */
import { UnsupportedOpError } from '../../../graph/ops/types'
import { ints, int } from '../builder'
import { type TranslatorFamily, withParams } from '../translator'
import { activation, channelsLast, num, oneInput, opNode, weight, weightTensor } from './config'

const identity = withParams(
  () => null,
  (node, ctx) => [oneInput(node, ctx)],
)

export const KERAS_CORE: TranslatorFamily = {
  // x · kernel over the last axis (MatMul broadcasts leading axes, as the kernel's reshape to 2-D and back).
  Dense: withParams(
    (node, ctx) => {
      const kernel = weight(node, ctx, 'kernel')
      if (!kernel || kernel.rank !== 2) throw new UnsupportedOpError('no 2-D kernel weight')
      return { activation: activation(node), bias: weight(node, ctx, 'bias') !== null }
    },
    (node, ctx, p) => {
      const b = ctx.b
      const y = b.op('MatMul', [oneInput(node, ctx), ctx.input(weightTensor(node, 'kernel')!)])
      return [p.activation(b, p.bias ? b.op('Add', [y, ctx.input(weightTensor(node, 'bias')!)]) : y)]
    },
  ),
  // Row-major flatten after the batch axis: of NHWC data, as the kernel's reshape.
  Flatten: withParams(
    (node) => channelsLast(opNode(node)),
    (node, ctx) => [ctx.b.op('Flatten', [oneInput(node, ctx)], { axis: int(1) })],
  ),
  Reshape: withParams(
    (node) => {
      const target = node.attributes.targetShape
      if (!Array.isArray(target) || !target.every((d) => typeof d === 'number' && d !== 0)) throw new UnsupportedOpError(`targetShape ${JSON.stringify(target)}`)
      return target as number[]
    },
    // ONNX's 0 copies the batch size.
    (node, ctx, target) => [ctx.b.op('Reshape', [oneInput(node, ctx), ctx.b.int64s([0, ...target])])],
  ),
  Permute: withParams(
    (node) => {
      const dims = node.attributes.dims
      if (!Array.isArray(dims)) throw new UnsupportedOpError('no dims')
      return dims as number[]
    },
    (node, ctx, dims) => [ctx.b.op('Transpose', [oneInput(node, ctx)], { perm: ints([0, ...dims]) })],
  ),
  Rescaling: withParams(
    (node) => ({ scale: num(opNode(node), 'scale', 1), offset: num(opNode(node), 'offset', 0) }),
    (node, ctx, p) => [ctx.b.op('Add', [ctx.b.op('Mul', [oneInput(node, ctx), ctx.b.scalar(p.scale)]), ctx.b.scalar(p.offset)])],
  ),
  Dropout: identity,
  SpatialDropout1D: identity,
  SpatialDropout2D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
}
