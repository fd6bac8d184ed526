/** The learned kernels of a conv or depthwise layer, for the Filters view. */
import { ConvscopeError, type FilterData, type LayerInfo, type LayerKind } from '../../../shared/api'
import type { LoadedModel } from '../model'
import { type LayerGraph, suggestLayers } from '../models/layerGraph'

export async function getFilters(model: LoadedModel, layer: string): Promise<FilterData> {
  const info = model.graph.get(layer)
  const kernel = model.kernel(layer)
  if (!kernel) {
    const withFilters = model.graph.layers.filter((l) => l.hasFilters)
    throw new ConvscopeError(
      'BAD_REQUEST',
      `Layer "${layer}" (${info.type}) has no convolution kernel; ${suggestLayers(layer, withFilters, 'layers with filters')}`,
    )
  }
  const [kh, kw, inChannels, outChannels] = kernel.shape
  const depthwise = info.kind === 'depthwise'
  // A copy: on the cpu backend data() hands out the tensor's own storage, which must stay untouched.
  const weights = Float32Array.from(await kernel.data())
  return {
    layer,
    shape: [kh, kw, inChannels, outChannels],
    depthwise,
    weights,
    // Depthwise kernels see one channel each: they are grey tiles even on the image.
    rgb: !depthwise && inChannels === 3 && readsImage(model.graph, info),
  }
}

// Layers that mix pixels or channels: past one of these, a 3-channel input is no longer the image's colours.
const MIXING: ReadonlySet<LayerKind> = new Set(['conv', 'depthwise', 'dense', 'pool', 'global-pool', 'merge'])

/**
 * Whether the layer's input is the image itself, allowing pixel-wise steps between (Rescaling,
 * Normalization, ZeroPadding2D, ...) that keep 3 channels.
 */
export function readsImage(graph: LayerGraph, layer: LayerInfo): boolean {
  let current = layer
  for (let steps = 0; steps < graph.layers.length; steps++) {
    if (current.inbound.length === 0) return true // the first layer: fed by the model input
    const prev = graph.input(current)
    if (!prev) return false
    if (prev.kind === 'input') return true
    if (MIXING.has(prev.kind) || prev.outputShape[prev.outputShape.length - 1] !== 3) return false
    current = prev
  }
  return false
}
