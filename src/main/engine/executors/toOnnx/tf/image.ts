/**
 * TensorFlow's image resizes (graph/ops/tf/image.ts: NHWC, the new [height, width] a constant input 1) as ONNX
 * Resize to sizes [batch, height, width, channels] (batch and channels read from the input's shape). TF's pixel
 * rules map onto ONNX's coordinate transformations: half-pixel centres → half_pixel (bilinear) /
 * tf_half_pixel_for_nn (nearest), align_corners → align_corners (bilinear only), neither → asymmetric.
 */
import { intAttr } from '../../../graph/ops/attributes'
import { UnsupportedOpError } from '../../../graph/ops/types'
import { type Attr, int, str } from '../builder'
import { constValues, opNode, type Translator, type TranslatorFamily, withParams } from '../translator'

function resize(nearest: boolean): Translator {
  return withParams(
    (node, ctx) => {
      const size = constValues(ctx, node.inputs[1])
      if (!size || size.length !== 2) throw new UnsupportedOpError('a size that is not a constant [height, width]')
      const op = opNode(node)
      const [align, half] = [intAttr(op, 'align_corners', 0) === 1, intAttr(op, 'half_pixel_centers', 0) === 1]
      if (nearest && align) throw new UnsupportedOpError('align_corners')
      const transform = half ? (nearest ? 'tf_half_pixel_for_nn' : 'half_pixel') : align ? 'align_corners' : 'asymmetric'
      return { size, transform }
    },
    (node, ctx, p) => {
      const b = ctx.b
      const x = ctx.input(node.inputs[0]!)
      const shape = b.op('Shape', [x])
      const part = (from: number) => b.op('Slice', [shape, b.int64s([from]), b.int64s([from + 1])])
      const sizes = b.op('Concat', [part(0), b.int64s(p.size), part(3)], { axis: int(0) })
      const mode: Record<string, Attr> = nearest ? { mode: str('nearest'), nearest_mode: str('floor') } : { mode: str('linear') }
      return [b.op('Resize', [x, '', '', sizes], { coordinate_transformation_mode: str(p.transform), ...mode })]
    },
  )
}

export const TF_IMAGE: TranslatorFamily = {
  ResizeBilinear: resize(false),
  ResizeNearestNeighbor: resize(true),
}
