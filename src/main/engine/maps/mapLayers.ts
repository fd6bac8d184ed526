/**
 * Which layers the Grad-CAM family can read maps at, and the default one.
 *
 * The default is the last spatial layer before the classifier head: the CAM feature layer when the model has a
 * CAM head, else the spatial input of the first dense / flatten / global-pooling layer, stepping back over
 * pooling layers right before it (the Grad-CAM paper reads the last conv layer; a pooled copy is only coarser).
 */
import type { LayerInfo } from '../../../shared/api'
import type { LoadedModel } from '../model'
import { findClassifierHead } from '../models/classifierHead'

/** Spatial layers after the input, input side first; not a global pooling that keeps its 1×1 map (ONNX): its map is one value. */
export function mapLayers(model: LoadedModel): string[] {
  return model.graph
    .spatial()
    .filter((l) => l.kind !== 'global-pool')
    .map((l) => l.name)
}

/** The default layer for the Grad-CAM family, or null when the model has no spatial layer before its head. */
export function defaultMapLayer(model: LoadedModel): string | null {
  const head = findClassifierHead(model).head
  if (head) return head.featureLayer
  const graph = model.graph
  const spatialInput = (l: LayerInfo) => graph.inbound(l).find((p) => p.spatial && p.kind !== 'input')
  const headStart = graph.layers.find((l) => !l.spatial && (l.kind === 'dense' || l.kind === 'global-pool' || l.kind === 'reshape') && spatialInput(l))
  let layer = headStart ? spatialInput(headStart) : graph.spatial().at(-1)
  while (layer && layer.kind === 'pool') {
    const before = graph.input(layer)
    if (!before?.spatial || before.kind === 'input') break
    layer = before
  }
  return layer?.name ?? null
}
