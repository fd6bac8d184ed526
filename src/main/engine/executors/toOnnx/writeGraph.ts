/**
 * A TF.js model's graph (graph/modelGraph.ts: 'keras' or 'tf' domain) and the weights its executor holds, written
 * as ONNX ModelProto bytes (issue 11) for onnxruntime. Every graph tensor the model computes keeps its name and its
 * NHWC layout, so a requested layer is a graph output under the name the model's forward resolves it to.
 *
 * Nodes whose outputs the executor folded to constants are not written (their values are initializers where
 * read). `unwritableReason` decides, without writing, whether every node can be written: the registry has its
 * op and its translator's check passes.
 */
import type * as tf from '@tensorflow/tfjs'
import type { GraphNode, ModelGraph } from '../../graph/modelGraph'
import { KERAS_DOMAIN } from '../../graph/ops/keras'
import { UnsupportedOpError } from '../../graph/ops/types'
import { type InputDim, OnnxBuilder } from './builder'
import { translatorFor } from './registry'
import { type CheckContext, floatValues, type WriteContext } from './translator'

export interface GraphWriteOptions {
  /** A weight or folded constant (GraphExecutor.constant). */
  constant(name: string): tf.Tensor | undefined
  /** A graph tensor's rank where the model knows it. */
  rank?(name: string): number | null
  /** Dimensions of the image input [batch, height, width, channels]: a size, or a name where dynamic. */
  inputDims: readonly InputDim[]
}

/** How messages name a node: Keras nodes are layers, TF nodes are ops. */
export function describeWritten(node: GraphNode): string {
  return node.domain === KERAS_DOMAIN ? `layer "${node.name}" (${node.opType})` : `node "${node.name}" (op ${node.opType})`
}

/** Whether the executor computes the node (not folded to constants, not a NoOp). */
const computed = (node: GraphNode, constant: GraphWriteOptions['constant']) => node.outputs.some((o) => o !== '' && !constant(o))

function checkContext(options: GraphWriteOptions): CheckContext {
  return { constant: options.constant, rank: (name) => options.rank?.(name) ?? null }
}

/** Why the graph cannot be written as ONNX, in words (the first node that cannot), or null when it can. */
export function unwritableReason(graph: ModelGraph, options: GraphWriteOptions): string | null {
  const input = graph.inputs[0]
  if (graph.inputs.length !== 1 || !input) return `the model has ${graph.inputs.length} inputs; convscope writes models with one image input as ONNX`
  if (input.dtype !== 'float32' && input.dtype !== 'undefined') return `the input "${input.name}" is ${input.dtype}; convscope writes float image inputs as ONNX`
  const ctx = checkContext(options)
  for (const node of graph.nodes) {
    if (!computed(node, options.constant)) continue
    const t = translatorFor(node.opType, node.domain)
    if (!t) return `${describeWritten(node)} has no ONNX form in convscope`
    const why = t.check?.(node, ctx)
    if (why) return `${describeWritten(node)}: ${why} has no ONNX form in convscope`
  }
  return null
}

/** The ONNX bytes of the graph (check unwritableReason first: a node that cannot be written throws). */
export function writeGraph(graph: ModelGraph, options: GraphWriteOptions): Uint8Array {
  const input = graph.inputs[0]!
  const reserved = [input.name, ...graph.initializers.keys(), ...graph.nodes.flatMap((n) => n.outputs)]
  const b = new OnnxBuilder(reserved.filter((n) => n !== ''))
  const written = new Set<string>([input.name])
  const ctx: WriteContext = {
    ...checkContext(options),
    b,
    input(name) {
      if (written.has(name)) return name
      const t = options.constant(name)
      if (!t) throw new UnsupportedOpError(`tensor "${name}" is read before it is written`)
      if (t.dtype === 'float32') b.constant(name, { dtype: 'float32', dims: t.shape, values: floatValues(t) }, true)
      else if (t.dtype === 'int32') b.constant(name, { dtype: 'int64', dims: t.shape, values: Array.from(t.dataSync()) }, true)
      else throw new UnsupportedOpError(`a ${t.dtype} constant ("${name}")`)
      written.add(name)
      return name
    },
  }
  for (const node of graph.nodes) {
    if (!computed(node, options.constant)) continue
    const t = translatorFor(node.opType, node.domain)
    if (!t) throw new UnsupportedOpError(`${describeWritten(node)} has no ONNX form in convscope`)
    const start = b.size
    const outs = t.write(node, ctx)
    node.outputs.forEach((name, k) => {
      const made = outs[k]
      if (name === '' || made === undefined || options.constant(name)) return
      // The result takes the graph tensor's name; a translator that passes an input on (Identity, Dropout) gets an Identity node.
      const own = b.producedSince(made, start) && made !== name ? made : b.op('Identity', [made])
      if (own !== name) b.rename(own, name, start)
      written.add(name)
    })
  }
  // Output ranks where the model gives them (layers models): the ONNX checker wants a shape on graph outputs.
  const outputs = graph.outputs.map((o) => ({ name: o.name, dims: o.dims?.map((d) => (typeof d === 'number' && d > 0 ? d : null)) ?? null }))
  return b.encode({ name: input.name, dims: options.inputDims }, outputs, graph.file)
}
