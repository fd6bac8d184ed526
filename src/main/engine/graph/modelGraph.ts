/**
 * The format-neutral model graph (issue 10): nodes in topological order, the tensors between them, the image
 * input, the outputs and the weights. One reader per format builds it (fromOnnx.ts, fromTfGraph.ts,
 * fromKerasLayers.ts: op types and attributes are that format's, and its kernels are looked up under its own
 * domain: '' for ONNX, 'tf', 'keras'), and one executor (executor.ts) runs it.
 *
 * Weights stay lazy here (a `read` per initializer); `materializeWeights` turns them into tf tensors once, when
 * the model is opened.
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../../shared/api/errors'
import type { OnnxAttributeValue } from '../models/onnx/reader'

/** A dimension: a size, the name of a dynamic dimension ('batch', 'height'), or null where unknown. */
export type GraphDim = number | string | null

/** What the graph says about one tensor. */
export interface GraphValueInfo {
  name: string
  /** 'float32', 'int64', ...: the file's type name; 'undefined' when the graph does not say. */
  dtype: string
  /** null when the graph gives no shape. */
  dims: GraphDim[] | null
}

export interface GraphNode {
  /** Unique within the graph (readers name unnamed nodes). */
  name: string
  opType: string
  /** '' for the default ONNX domain. */
  domain: string
  /** Tensor names in input order; '' is an omitted optional input. */
  inputs: string[]
  outputs: string[]
  attributes: Readonly<Record<string, OnnxAttributeValue>>
  /** The model's opset of the node's domain. */
  opset: number
}

/** A weight left in its file until `read` (called once, by materializeWeights). */
export interface GraphInitializer {
  name: string
  dtype: string
  dims: number[]
  size: number
  read(): tf.Tensor
}

export interface ModelGraph {
  /** The file the graph came from (named in messages). */
  file: string
  /** Topological order: every node after the producers of its inputs. */
  nodes: readonly GraphNode[]
  /** The graph's inputs that are not weights (an image model has exactly one). */
  inputs: readonly GraphValueInfo[]
  outputs: readonly GraphValueInfo[]
  /** Shapes the exporter inferred for inner tensors. */
  valueInfo: ReadonlyMap<string, GraphValueInfo>
  initializers: ReadonlyMap<string, GraphInitializer>
  /** tensor name → the node computing it. */
  producer: ReadonlyMap<string, GraphNode>
  /** tensor name → the nodes reading it, in topological order. */
  consumers: ReadonlyMap<string, readonly GraphNode[]>
  /** node name → node. */
  byName: ReadonlyMap<string, GraphNode>
}

export interface GraphParts {
  file: string
  nodes: GraphNode[]
  inputs: GraphValueInfo[]
  outputs: GraphValueInfo[]
  valueInfo: Map<string, GraphValueInfo>
  initializers: Map<string, GraphInitializer>
}

function badModel(file: string, message: string): ConvscopeError {
  return new ConvscopeError('BAD_MODEL', `${file}: ${message}`)
}

/** Check the parts (every tensor defined once, no cycle) and index them; nodes come out in topological order. */
export function createModelGraph(parts: GraphParts): ModelGraph {
  const { file } = parts
  const producer = new Map<string, GraphNode>()
  const byName = new Map<string, GraphNode>()
  const defined = new Set<string>([...parts.inputs.map((i) => i.name), ...parts.initializers.keys()])
  for (const node of parts.nodes) {
    if (byName.has(node.name)) throw badModel(file, `two nodes are named "${node.name}"`)
    byName.set(node.name, node)
    for (const out of node.outputs) {
      if (out === '') continue
      if (producer.has(out) || defined.has(out)) throw badModel(file, `tensor "${out}" is defined twice (again by node "${node.name}")`)
      producer.set(out, node)
    }
  }
  const nodes = topologicalOrder(parts.nodes, producer, defined, file)
  const consumers = new Map<string, GraphNode[]>()
  for (const node of nodes) {
    for (const i of new Set(node.inputs)) {
      if (i === '') continue
      const list = consumers.get(i)
      if (list) list.push(node)
      else consumers.set(i, [node])
    }
  }
  for (const o of parts.outputs) {
    if (!producer.has(o.name) && !defined.has(o.name)) throw badModel(file, `the graph output "${o.name}" is computed by no node`)
  }
  return { file, nodes, inputs: parts.inputs, outputs: parts.outputs, valueInfo: parts.valueInfo, initializers: parts.initializers, producer, consumers, byName }
}

/**
 * Topological order that keeps the file's order where it can (a file already in order stays as it is): each
 * node in file order, after the producers of its inputs (depth-first, without recursion: chains are long).
 * A cycle or an input that nothing defines is BAD_MODEL.
 */
function topologicalOrder(nodes: GraphNode[], producer: Map<string, GraphNode>, defined: Set<string>, file: string): GraphNode[] {
  const order: GraphNode[] = []
  const state = new Map<GraphNode, 'open' | 'done'>()
  const deps = (node: GraphNode): GraphNode[] =>
    node.inputs.flatMap((i) => {
      if (i === '' || defined.has(i)) return []
      const p = producer.get(i)
      if (!p) throw badModel(file, `node "${node.name}" (${node.opType}) reads tensor "${i}", which nothing defines`)
      return [p]
    })
  for (const root of nodes) {
    if (state.has(root)) continue
    const stack: { node: GraphNode; next: GraphNode[] }[] = [{ node: root, next: deps(root) }]
    state.set(root, 'open')
    while (stack.length) {
      const top = stack[stack.length - 1]!
      const dep = top.next.shift()
      if (dep === undefined) {
        stack.pop()
        state.set(top.node, 'done')
        order.push(top.node)
      } else if (state.get(dep) === 'open') {
        throw badModel(file, `the graph has a cycle (through node "${dep.name}", ${dep.opType})`)
      } else if (!state.has(dep)) {
        state.set(dep, 'open')
        stack.push({ node: dep, next: deps(dep) })
      }
    }
  }
  return order
}

/**
 * Every initializer as a tf tensor, read from its file once (int64 → int32, float16 / double → float32). The
 * tensors are kept (outside any tidy); the caller disposes them with the model.
 */
export function materializeWeights(graph: ModelGraph): Map<string, tf.Tensor> {
  const weights = new Map<string, tf.Tensor>()
  try {
    for (const init of graph.initializers.values()) weights.set(init.name, tf.keep(init.read()))
  } catch (e) {
    tf.dispose([...weights.values()])
    throw e
  }
  return weights
}

/** The tfjs dtype an ONNX type name is held in (int64 → int32; float16 / double → float32). */
export function tfDtypeOf(dtype: string): 'float32' | 'int32' | 'bool' {
  if (dtype === 'bool') return 'bool'
  return dtype.startsWith('float') || dtype === 'bfloat16' ? 'float32' : 'int32'
}
