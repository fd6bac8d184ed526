/** The model graph of an ONNX model (readOnnxModel's description): weights stay in their file until materialised. */
import * as tf from '@tensorflow/tfjs'
import { type OnnxInitializer, type OnnxModel, type OnnxValueInfo, tensorData, tensorInts } from '../models/onnx/reader'
import { createModelGraph, type GraphInitializer, type GraphNode, type GraphValueInfo, type ModelGraph, tfDtypeOf } from './modelGraph'

const valueInfo = (v: OnnxValueInfo): GraphValueInfo => ({ name: v.name, dtype: v.dtype, dims: v.dims })

function initializer(init: OnnxInitializer): GraphInitializer {
  const dtype = tfDtypeOf(init.dtype)
  return {
    name: init.name,
    dtype: init.dtype,
    dims: init.dims,
    size: init.size,
    read: () => (dtype === 'float32' ? tf.tensor(tensorData(init), init.dims, 'float32') : tf.tensor(Int32Array.from(tensorInts(init)), init.dims, dtype)),
  }
}

export function graphFromOnnx(model: OnnxModel): ModelGraph {
  const used = new Set<string>()
  const nodes = model.nodes.map((n, i): GraphNode => {
    // Unnamed nodes (some exporters) get their first output's name, else their position.
    let name = n.name || n.outputs.find((o) => o !== '') || `${n.opType}_${i}`
    while (used.has(name)) name = `${name}_${i}`
    used.add(name)
    return { name, opType: n.opType, domain: n.domain, inputs: n.inputs, outputs: n.outputs, attributes: n.attributes, opset: model.opsets[n.domain] ?? model.opset }
  })
  return createModelGraph({
    file: model.file,
    nodes,
    inputs: model.inputs.map(valueInfo),
    outputs: model.outputs.map(valueInfo),
    valueInfo: new Map(Object.values(model.valueInfo).map((v) => [v.name, valueInfo(v)])),
    initializers: new Map([...model.initializers.values()].map((i) => [i.name, initializer(i)])),
  })
}
