/**
 * A LoadedModel over a small in-memory tf.sequential, for method tests that need no model files:
 * input 8×8×3 → conv1 (3×3, 4 filters) → relu1 → dw (depthwise 3×3, ×2) → gap → fc (3 classes, softmax).
 */
import * as tf from '@tensorflow/tfjs'
import { Preprocessing, type LayerInfo, type ModelInfo } from '../../src/shared/api'
import { OUTPUT, type LoadedModel } from '../../src/main/engine/model'
import { LayerGraph } from '../../src/main/engine/models/layerGraph'

export interface FakeModel {
  model: LoadedModel
  net: tf.Sequential
  /** Outputs of the named layers for a batch, straight from tfjs (the reference the methods must match). */
  reference(input: tf.Tensor4D, layer: string): tf.Tensor
}

export function makeFakeModel(labels: string[] | null = ['cat', 'dog', 'bird']): FakeModel {
  const net = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: 'same', name: 'conv1', biasInitializer: 'randomNormal' }),
      tf.layers.activation({ activation: 'relu', name: 'relu1' }),
      tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'valid', name: 'dw' }),
      tf.layers.globalAveragePooling2d({ name: 'gap' }),
      tf.layers.dense({ units: 3, activation: 'softmax', name: 'fc' }),
    ],
  })
  const layer = (name: string, type: string, kind: LayerInfo['kind'], outputShape: number[], inbound: string[], extra: Partial<LayerInfo> = {}): LayerInfo => ({
    name,
    type,
    kind,
    outputShape,
    params: 0,
    inbound,
    receptiveField: null,
    hasFilters: kind === 'conv' || kind === 'depthwise',
    spatial: outputShape.length === 3,
    activation: null,
    ...extra,
  })
  const info: ModelInfo = {
    id: 'fake',
    dir: '/nowhere',
    name: 'fake-cnn',
    format: 'layers',
    inputShape: [8, 8, 3],
    preprocessing: Preprocessing.parse({ inputSize: [8, 8] }),
    preprocessingDefaulted: false,
    labels,
    layers: [
      layer('input', 'InputLayer', 'input', [8, 8, 3], []),
      layer('conv1', 'Conv2D', 'conv', [8, 8, 4], ['input']),
      layer('relu1', 'Activation', 'activation', [8, 8, 4], ['conv1'], { activation: 'relu' }),
      layer('dw', 'DepthwiseConv2D', 'depthwise', [6, 6, 8], ['relu1']),
      layer('gap', 'GlobalAveragePooling2D', 'global-pool', [8], ['dw']),
      layer('fc', 'Dense', 'dense', [3], ['gap'], { activation: 'softmax' }),
    ],
    totalParams: net.countParams(),
    warnings: [],
  }
  const symbolic = (name: string) => (name === OUTPUT ? net.outputs[0]! : (net.getLayer(name).output as tf.SymbolicTensor))
  const model: LoadedModel = {
    info,
    graph: new LayerGraph(info),
    forward(input, layers) {
      // tf.model refuses the same output twice (e.g. 'fc' and OUTPUT): run the distinct ones, then clone
      // repeats so that every returned tensor is the caller's own to dispose.
      const wanted = layers.map(symbolic)
      const distinct = [...new Set(wanted)]
      const out = tf.model({ inputs: net.inputs, outputs: distinct }).predict(input)
      const list = Array.isArray(out) ? out : [out]
      const seen = new Set<tf.Tensor>()
      return wanted.map((s) => {
        const t = list[distinct.indexOf(s)]!
        if (seen.has(t)) return t.clone()
        seen.add(t)
        return t
      })
    },
    kernel(name) {
      const w = net.getLayer(name).getWeights()[0]
      return w && w.rank === 4 ? (w as tf.Tensor4D) : null
    },
    dispose() {
      net.dispose()
    },
  }
  return {
    model,
    net,
    reference: (input, name) => tf.model({ inputs: net.inputs, outputs: symbolic(name) }).predict(input) as tf.Tensor,
  }
}
