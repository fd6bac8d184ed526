/**
 * The model graph of a TF.js layers model (issue 10: one executor for every format). One node per layer call,
 * op type = the Keras class name in the 'keras' domain (graph/ops/keras), attributes = the layer's config,
 * the layer's weights as its last inputs, named "<layer>/<weight>" ("conv1/kernel"). A node and its output
 * tensor are named after the layer ("conv1"); a shared layer's later calls get "conv1:1", "conv1:2".
 * A nested model is inlined: its layers become nodes named "<outer>/<inner>", and the nested layer's name
 * stands for its output.
 */
import type * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../../shared/api/errors'
import type { OnnxAttributeValue } from '../models/onnx/reader'
import { createModelGraph, type GraphInitializer, type GraphNode, type GraphValueInfo, type ModelGraph } from './modelGraph'
import { KERAS_DOMAIN } from './ops/keras'

export interface KerasLayersGraph {
  graph: ModelGraph
  /** Layer name → the tensor that is its output (a layer called several times: its last call, as tfjs's `layer.output`). */
  layerOutputs: ReadonlyMap<string, string>
}

/** The parts of a layer config the kernels read: numbers, strings and lists of them (booleans as 0 / 1, nested number lists flattened). */
export function kerasAttributes(config: Record<string, unknown>): Record<string, OnnxAttributeValue> {
  const out: Record<string, OnnxAttributeValue> = {}
  for (const [key, value] of Object.entries(config)) {
    if (typeof value === 'number' || typeof value === 'string') out[key] = value
    else if (typeof value === 'boolean') out[key] = value ? 1 : 0
    else if (Array.isArray(value)) {
      const flat = value.flat(Infinity) as unknown[]
      if (flat.every((v) => typeof v === 'number')) out[key] = flat as number[]
      else if (flat.every((v) => typeof v === 'string')) out[key] = flat as string[]
    }
  }
  return out
}

/** "conv1/kernel" → "kernel": the weight's own name, whatever scopes tfjs put before it. */
const weightName = (v: tf.LayerVariable): string => v.originalName.split('/').pop()!

const isContainer = (layer: tf.layers.Layer): layer is tf.LayersModel => 'layers' in layer && 'inputs' in layer && 'outputs' in layer

export function graphFromKerasLayers(model: tf.LayersModel, file: string): KerasLayersGraph {
  const nodes: GraphNode[] = []
  const initializers = new Map<string, GraphInitializer>()
  const variables = new Map<tf.LayerVariable, string>()
  const layerOutputs = new Map<string, { tensor: string; call: number }>()
  const bad = (message: string) => new ConvscopeError('BAD_MODEL', `${file}: ${message}`)

  /** Add the calls `container`'s outputs need; `fed` maps its input tensors (by id) to graph tensor names. */
  function walk(container: tf.LayersModel, prefix: string, fed: Map<number, string>): string[] {
    /** Output tensor names per visited call, by "layer id / node index". */
    const calls = new Map<string, string[]>()
    const callsOf = reachableCalls(container, fed)
    const visit = (t: tf.SymbolicTensor): string => {
      const given = fed.get(t.id)
      if (given !== undefined) return given
      const layer = t.sourceLayer
      const key = `${layer.id}/${t.nodeIndex}`
      let outs = calls.get(key)
      if (!outs) {
        const call = layer.inboundNodes[t.nodeIndex]
        if (!call) throw bad(`no call of layer "${layer.name}" computes its output`)
        const inputs = call.inputTensors.map(visit)
        // The layer's k-th call in this model (tfjs counts calls made outside it too, e.g. a Sequential's own build).
        const k = callsOf.get(layer)!.indexOf(t.nodeIndex)
        const name = prefix + layer.name + (k > 0 ? `:${k}` : '')
        if (isContainer(layer)) {
          outs = walk(layer, `${name}/`, new Map(layer.inputs.map((s, i) => [s.id, inputs[i]!])))
        } else {
          outs = call.outputTensors.length === 1 ? [name] : call.outputTensors.map((_, i) => `${name}:out${i}`)
          nodes.push(layerNode(layer, name, inputs, outs, prefix))
        }
        calls.set(key, outs)
        const seen = layerOutputs.get(prefix + layer.name)
        if (!seen || seen.call < k) layerOutputs.set(prefix + layer.name, { tensor: outs[0]!, call: k })
      }
      return outs[t.tensorIndex] ?? outs[0]!
    }
    return container.outputs.map(visit)
  }

  /** Per layer, the node indices of its calls that `container`'s outputs need, ascending. */
  function reachableCalls(container: tf.LayersModel, fed: Map<number, string>): Map<tf.layers.Layer, number[]> {
    const found = new Map<tf.layers.Layer, number[]>()
    const stack = [...container.outputs]
    while (stack.length) {
      const t = stack.pop()!
      if (fed.has(t.id)) continue
      const list = found.get(t.sourceLayer) ?? []
      found.set(t.sourceLayer, list)
      if (list.includes(t.nodeIndex)) continue
      list.push(t.nodeIndex)
      stack.push(...(t.sourceLayer.inboundNodes[t.nodeIndex]?.inputTensors ?? []))
    }
    for (const list of found.values()) list.sort((a, b) => a - b)
    return found
  }

  function layerNode(layer: tf.layers.Layer, name: string, inputs: string[], outputs: string[], prefix: string): GraphNode {
    const weights = layer.weights.map((v) => {
      // One initializer per variable: the calls of a shared layer (or of a nested model called twice) read the same one.
      let tensor = variables.get(v)
      if (tensor === undefined) {
        tensor = `${prefix}${layer.name}/${weightName(v)}`
        variables.set(v, tensor)
        initializers.set(tensor, { name: tensor, dtype: v.dtype, dims: [...v.shape] as number[], size: v.shape.reduce((a: number, b) => a * (b ?? 1), 1), read: () => v.read().clone() })
      }
      return tensor
    })
    const attributes = { ...kerasAttributes(layer.getConfig() as Record<string, unknown>), weightNames: layer.weights.map(weightName) }
    return { name, opType: layer.getClassName(), domain: KERAS_DOMAIN, inputs: [...inputs, ...weights], outputs, attributes, opset: 0 }
  }

  const graphInputs: GraphValueInfo[] = model.inputs.map((s) => ({ name: s.sourceLayer.name, dtype: s.dtype, dims: s.shape.map((d, i) => d ?? (i === 0 ? 'batch' : null)) }))
  const outputs = walk(model, '', new Map(model.inputs.map((s, i) => [s.id, graphInputs[i]!.name])))
  for (const i of graphInputs) layerOutputs.set(i.name, { tensor: i.name, call: 0 })
  const graph = createModelGraph({
    file,
    nodes,
    inputs: graphInputs,
    outputs: outputs.map((name, i) => ({ name, dtype: 'float32', dims: model.outputs[i]!.shape.map((d) => d ?? null) })),
    valueInfo: new Map(),
    initializers,
  })
  return { graph, layerOutputs: new Map([...layerOutputs].map(([k, v]) => [k, v.tensor])) }
}
