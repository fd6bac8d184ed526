/**
 * Which layer's output a code is, and what shape it has (issue 13): a spatial map [h, w, c] is globally
 * average-pooled to c values, a vector [units] is the code as it is. The default layer is the classifier's input
 * (the lecture's fc7: the activation feeding the last dense / Gemm / MatMul layer; for a GAP network the pooled map).
 */
import { ConvscopeError, type LayerInfo } from '../../../shared/api'
import type { LoadedModel } from '../model'

export interface CodeLayer {
  name: string
  /** Code length: channels of a map, units of a vector. */
  dim: number
  /** Whether the output is a spatial map averaged over its height × width positions. */
  pooled: boolean
  height: number
  width: number
}

type ModelLayers = Pick<LoadedModel, 'info' | 'graph'>

export function describeCodeLayer(model: ModelLayers, name: string): CodeLayer {
  const layer = model.graph.find(name)
  if (!layer) throw new ConvscopeError('BAD_REQUEST', `model ${model.info.name} has no layer "${name}"`)
  const shape = layer.outputShape
  if (shape.some((d) => d == null)) {
    throw new ConvscopeError('BAD_REQUEST', `layer ${name} has output shape [${shape.join(', ')}] with unknown sizes; codes need a model with a fixed input size`)
  }
  if (shape.length === 3) {
    const [height, width, dim] = shape as [number, number, number]
    return { name, dim, pooled: height * width > 1, height, width }
  }
  if (shape.length === 1) return { name, dim: shape[0]!, pooled: false, height: 1, width: 1 }
  throw new ConvscopeError('BAD_REQUEST', `layer ${name} has output shape [${shape.join(', ')}]; a code is a [h, w, c] map (averaged over space) or a [units] vector`)
}

const DROPOUT_TYPES = new Set(['Dropout', 'SpatialDropout2D', 'GaussianDropout', 'GaussianNoise', 'AlphaDropout'])
const elements = (l: LayerInfo) => l.outputShape.reduce<number>((p, d) => p * (d ?? NaN), 1)

/**
 * The classifier's input: the layer feeding the model's last dense layer, past dropout and past a flatten /
 * reshape that only drops the axes of a 1 × 1 map (torchvision's GlobalAveragePool → Flatten → Gemm gives the
 * pool). A flatten of a larger map is kept: the classifier reads that vector.
 */
export function defaultCodeLayer(model: ModelLayers): string {
  const layers = model.info.layers
  const head = [...layers].reverse().find((l) => l.kind === 'dense')
  const why = `model ${model.info.name} has no dense classifier layer, so there is no default code layer; name one (--layer)`
  if (!head) throw new ConvscopeError('BAD_REQUEST', why)
  const one = (l: LayerInfo): LayerInfo => {
    const feeding = l.inbound.length === 1 ? model.graph.find(l.inbound[0]!) : undefined
    if (!feeding) throw new ConvscopeError('BAD_REQUEST', `the classifier layer "${head.name}" does not read one layer; name the code layer (--layer)`)
    return feeding
  }
  let l = one(head)
  for (;;) {
    if (DROPOUT_TYPES.has(l.type)) l = one(l)
    else if (l.kind === 'reshape' && l.inbound.length === 1) {
      const from = one(l)
      const squeezes = elements(from) === elements(l) && (from.outputShape.length === 1 || (from.outputShape.length === 3 && from.outputShape[0] === 1 && from.outputShape[1] === 1))
      if (!squeezes) break
      l = from
    } else break
  }
  if (l.kind === 'input') throw new ConvscopeError('BAD_REQUEST', why)
  return l.name
}
