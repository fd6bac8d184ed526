/** ZeroPadding2D, Cropping2D, UpSampling2D (channels-last), as graph/ops/keras/geometry.ts. */
import { sides } from '../../../graph/ops/keras/geometry'
import { UnsupportedOpError } from '../../../graph/ops/types'
import { type Attr, str as strAttr } from '../builder'
import { type TranslatorFamily, withParams } from '../translator'
import { channelsLast, nums, oneInput, opNode, str } from './config'

/** "To the end" of a Slice. */
const END = 2 ** 62

export const KERAS_GEOMETRY: TranslatorFamily = {
  ZeroPadding2D: withParams(
    (node) => {
      channelsLast(opNode(node))
      return sides(node.attributes.padding ?? 1, 'padding')
    },
    (node, ctx, [t, bottom, l, r]) => [ctx.b.op('Pad', [oneInput(node, ctx), ctx.b.int64s([0, t, l, 0, 0, bottom, r, 0])])],
  ),
  Cropping2D: withParams(
    (node) => {
      channelsLast(opNode(node))
      return sides(node.attributes.cropping ?? 0, 'cropping')
    },
    (node, ctx, [t, bottom, l, r]) => {
      const b = ctx.b
      return [b.op('Slice', [oneInput(node, ctx), b.int64s([t, l]), b.int64s([bottom ? -bottom : END, r ? -r : END]), b.int64s([1, 2])])]
    },
  ),
  // tf.image's resizes without align_corners / half-pixel centres: ONNX's asymmetric coordinates (nearest: floor).
  UpSampling2D: withParams(
    (node) => {
      const op = opNode(node)
      channelsLast(op)
      const interpolation = str(op, 'interpolation', 'nearest')
      if (interpolation !== 'nearest' && interpolation !== 'bilinear') throw new UnsupportedOpError(`interpolation "${interpolation}"`)
      return { size: nums(op, 'size', 2, 2), nearest: interpolation === 'nearest' }
    },
    (node, ctx, p) => {
      const b = ctx.b
      const scales = b.floats(`${node.name}/scales`, [1, p.size[0]!, p.size[1]!, 1], [4])
      const mode: Record<string, Attr> = p.nearest ? { mode: strAttr('nearest'), nearest_mode: strAttr('floor') } : { mode: strAttr('linear') }
      return [b.op('Resize', [oneInput(node, ctx), '', scales], { coordinate_transformation_mode: strAttr('asymmetric'), ...mode })]
    },
  ),
}
