/**
 * Which layers a dataset scan can take and which it takes by default (issue 9, item 7), one rule for the
 * engine, the CLI and the Units view.
 *
 * The units people study are activation outputs (Zeiler & Fergus 2014 and Girshick et al. 2014 show ReLU
 * outputs): by default every spatial activation layer (ReLU etc.) and every conv whose activation is fused
 * into it (Conv2D(activation: 'relu') has no separate ReLU layer), never a conv before its batch norm.
 * A model without any falls back to its convolutions and pools after the first.
 * Dense layers (fc6 / fc7) can be ticked too: a [units] output is a 1×1 map whose patch is the whole input.
 */
import type { LayerInfo, ModelInfo } from './api'

type Layers = Pick<ModelInfo, 'layers'>

const isVector = (l: LayerInfo) => l.outputShape.length === 1

/** Whether a scan can take this layer: a spatial map, or the units of a dense layer (or its activation). */
export function isScannableLayer(l: LayerInfo): boolean {
  if (l.kind === 'input') return false
  return l.spatial || (isVector(l) && (l.kind === 'dense' || l.kind === 'activation'))
}

/** Whether the layer's output is after a nonlinearity: an activation layer, or a conv with a fused one. */
export function isActivationOutput(l: LayerInfo): boolean {
  const nonlinear = l.activation !== null && l.activation !== 'linear'
  return nonlinear && (l.kind === 'activation' || l.kind === 'conv' || l.kind === 'depthwise')
}

export function scannableLayers(model: Layers): LayerInfo[] {
  return model.layers.filter(isScannableLayer)
}

/** The layers a scan takes when none are named (see the file comment), in model order. */
export function defaultScanLayers(model: Layers): string[] {
  const activations = model.layers.filter((l) => l.spatial && isActivationOutput(l))
  if (activations.length) return activations.map((l) => l.name)
  return model.layers
    .filter((l) => l.spatial && (l.kind === 'conv' || l.kind === 'depthwise' || l.kind === 'pool'))
    .slice(1)
    .map((l) => l.name)
}
