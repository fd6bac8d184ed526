/** The model graph of an ONNX model (readOnnxModel's description): weights stay in their file until materialised. */
import * as tf from '@tensorflow/tfjs'
import { type OnnxInitializer, type OnnxModel, type OnnxValueInfo, tensorData, tensorInts } from '../models/onnx/reader'
import { int32Values } from './ops'
import { createModelGraph, type GraphInitializer, type GraphNode, type GraphValueInfo, type ModelGraph, tfDtypeOf } from './modelGraph'

const valueInfo = (v: OnnxValueInfo): GraphValueInfo => ({ name: v.name, dtype: v.dtype, dims: v.dims })

function initializer(init: OnnxInitializer): GraphInitializer {
  const dtype = tfDtypeOf(init.dtype)
  // int64 is held as int32, saturated (INT64_MAX as a Slice end stays "to the end")
  return {
    name: init.name,
    dtype: init.dtype,
    dims: init.dims,
    size: init.size,
    read: () => {
      if (dtype === 'float32') return tf.tensor(tensorData(init), init.dims, 'float32')
      const ints = tensorInts(init)
      return dtype === 'bool' ? tf.tensor(Uint8Array.from(ints, (v) => (v ? 1 : 0)), init.dims, 'bool') : tf.tensor(int32Values(ints), init.dims, 'int32')
    },
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
