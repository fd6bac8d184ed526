/**
 * A layer as a scan sees it: units on an h × w grid ([units] outputs of dense layers are a 1 × 1 grid),
 * the receptive field its patches come from, and one batch's per-unit maxima and their places.
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ReceptiveField } from '../../../shared/api'
import { imageBatch, isOnnxRuntime, runOnnxRuntimeMaxima, type ExecutorName } from '../executors/onnxRuntime'
import type { ModelInput } from '../images/preprocess'
import { toInputTensor } from '../images/preprocess'
import type { LoadedModel } from '../model'
import { layerFileStem, type ScanLayer } from './manifest'
import { spatialMaxima, type SpatialMax } from './spatialMax'

/** The field of a unit that sees every input pixel (a dense layer's), for an input of [height, width]. */
export function wholeInputField([height, width]: readonly [number, number]): ReceptiveField {
  return { size: [height, width], jump: [0, 0], start: [(height - 1) / 2, (width - 1) / 2], exact: true }
}

export function describeScanLayer(model: Pick<LoadedModel, 'info' | 'graph'>, name: string): ScanLayer {
  const layer = model.graph.get(name)
  const shape = layer.outputShape
  let height: number | null = 1
  let width: number | null = 1
  let units: number | null
  if (shape.length === 3) {
    ;[height, width, units] = shape as [number | null, number | null, number | null]
  } else if (shape.length === 1) {
    units = shape[0]!
  } else {
    throw new ConvscopeError('BAD_REQUEST', `layer ${name} has output shape [${shape.join(', ')}]; a scan needs [h, w, c] or [units]`)
  }
  if (units == null || height == null || width == null) {
    throw new ConvscopeError('BAD_REQUEST', `layer ${name} has output shape [${shape.join(', ')}] with unknown sizes; scans need a model with a fixed input size`)
  }
  // A dense unit's patch is the whole input, also where the field could not be traced through the model.
  const receptiveField = layer.receptiveField ?? (shape.length === 1 ? wholeInputField(model.info.preprocessing.inputSize) : null)
  return { name, file: layerFileStem(name), units, height, width, receptiveField }
}

/** A layer output of [n, h, w, units] or [n, units] must be the scan layer's grid. */
function checkShape(l: ScanLayer, shape: readonly number[]): void {
  const [height, width, units] = shape.length === 4 ? shape.slice(1) : [1, 1, shape[1]]
  if (height !== l.height || width !== l.width || units !== l.units) {
    throw new ConvscopeError('INTERNAL', `layer ${l.name} gave [${shape.slice(1).join(', ')}], expected [${l.height}, ${l.width}, ${l.units}]`)
  }
}

/**
 * Per-channel max and flat argmax over space for each layer, on the given executor: onnxruntime
 * (executors/onnxRuntime.ts: reduced inside its graph, only the maxima come back) or the model's tfjs forward
 * (spatialMax.ts: in JS on CPU backends).
 */
export async function layerMaxima(model: LoadedModel, inputs: ModelInput[], layers: readonly ScanLayer[], executor?: ExecutorName): Promise<SpatialMax[]> {
  if (isOnnxRuntime(executor)) return runOnnxRuntimeMaxima(model, imageBatch(inputs.map((i) => i.data), inputs[0]!.shape), layers)
  const x = toInputTensor(inputs)
  let outs: tf.Tensor[] = []
  try {
    outs = model.forward(x, layers.map((l) => l.name))
    outs.forEach((t, i) => checkShape(layers[i]!, t.shape))
    return await spatialMaxima(outs)
  } finally {
    tf.dispose([x, ...outs])
  }
}
