/**
 * The model graph of a TF.js graph model (a converted TensorFlow GraphDef, issue 10): the same ModelGraph the
 * ONNX reader builds, so one executor runs both. Ops keep TensorFlow's names and attributes under the domain
 * 'tf' (graph/ops/tf/ implements them, NHWC as TensorFlow defines them).
 *
 * - Tensors are named as TensorFlow refers to them: a node's first output is its name ("conv1/Relu", also
 *   reachable as "conv1/Relu:0"), output k > 0 is "name:k"; control inputs ("^name") only order and are dropped.
 * - Const nodes are initializers, their values read lazily from the weight shards (tf.io.decodeWeights, so
 *   quantized weights decode as tfjs decodes them); Placeholders are the graph inputs.
 * - Outputs: the model.json signature's outputs, else every node nothing reads (as tf.GraphModel decides).
 * - Attributes are decoded to plain values: strings from base64, integers from decimal strings, bools as 1 / 0,
 *   types as 'DT_FLOAT', shapes as dims (-1 unknown).
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../../shared/api/errors'
import type { OnnxAttributeValue } from '../models/onnx/reader'
import { type AttrValueJSON, type GraphDefJSON, type NodeDefJSON, nodeNameOf } from '../models/graphDef'
import { createModelGraph, type GraphDim, type GraphInitializer, type GraphNode, type GraphValueInfo, type ModelGraph } from './modelGraph'

/** The domain of TensorFlow ops in a ModelGraph. */
export const TF_DOMAIN = 'tf'

/** Ops that are not computations: Const (a weight) and Placeholder (an input) become parts of the graph, not nodes. */
const NOT_NODES = new Set(['Const', 'Placeholder', 'PlaceholderWithDefault'])

/** The tensor name of a data input reference: "name" and "name:0" are output 0 ("name"), "name:k" stays. */
export function tfTensorName(ref: string): string {
  const node = nodeNameOf(ref)
  const k = ref.length > node.length ? Number(ref.slice(node.length + 1)) : 0
  return k === 0 ? node : `${node}:${k}`
}

const DT_NAMES: Readonly<Record<string, string>> = { DT_FLOAT: 'float32', DT_HALF: 'float16', DT_DOUBLE: 'float64', DT_INT32: 'int32', DT_INT64: 'int64', DT_BOOL: 'bool' }

/** 'DT_FLOAT' → 'float32' (the ModelGraph's type names); unknown types stay as TensorFlow names them. */
export function tfTypeName(dt: string | undefined): string {
  return dt === undefined ? 'undefined' : (DT_NAMES[dt] ?? dt)
}

function shapeDims(shape: AttrValueJSON['shape']): number[] | null {
  if (!shape || shape.unknownRank) return null
  return (shape.dim ?? []).map((d) => Number(d.size ?? -1))
}

const text = (s: string) => Buffer.from(s, 'base64').toString('utf8')

/** One attribute as a plain value; undefined for what kernels never read (tensor values, functions). */
function attributeValue(a: AttrValueJSON): OnnxAttributeValue | undefined {
  if (a.s !== undefined) return text(a.s)
  if (a.i !== undefined) return Number(a.i)
  if (a.f !== undefined) return Number(a.f)
  if (a.b !== undefined) return a.b ? 1 : 0
  if (a.type !== undefined) return a.type
  if (a.shape !== undefined) return shapeDims(a.shape) ?? undefined
  if (a.list !== undefined) {
    const l = a.list
    if (l.s) return l.s.map(text)
    if (l.type) return l.type
    if (l.b) return l.b.map((b) => (b ? 1 : 0))
    return (l.i ?? l.f ?? []).map(Number)
  }
  return undefined
}

function attributes(node: NodeDefJSON): Record<string, OnnxAttributeValue> {
  const out: Record<string, OnnxAttributeValue> = {}
  for (const [k, v] of Object.entries(node.attr ?? {})) {
    const value = attributeValue(v)
    if (value !== undefined) out[k] = value
  }
  return out
}

/** Stored bytes per element of a weight (its quantized storage type when quantized). */
const STORED_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 }

/** Each weight spec with its byte range in the concatenated shards. */
function weightRanges(file: string, specs: readonly tf.io.WeightsManifestEntry[]): Map<string, { spec: tf.io.WeightsManifestEntry; start: number; end: number }> {
  const ranges = new Map<string, { spec: tf.io.WeightsManifestEntry; start: number; end: number }>()
  let offset = 0
  for (const spec of specs) {
    const stored = spec.quantization?.dtype ?? spec.dtype
    const bytes = STORED_BYTES[stored]
    if (bytes === undefined) throw new ConvscopeError('BAD_MODEL', `${file}: weight "${spec.name}" is stored as ${stored}, which convscope cannot read`)
    const size = spec.shape.reduce((a, b) => a * b, 1) * bytes
    ranges.set(spec.name, { spec, start: offset, end: offset + size })
    offset += size
  }
  return ranges
}

export interface TfGraphSource {
  /** model.json, named in messages. */
  file: string
  graphDef: GraphDefJSON
  /** The model folder's artifacts: weight specs and shard bytes, and the signature if the converter wrote one. */
  artifacts: tf.io.ModelArtifacts
}

export function graphFromTfGraph({ file, graphDef, artifacts }: TfGraphSource): ModelGraph {
  const bad = (m: string) => new ConvscopeError('BAD_MODEL', `${file}: ${m}`)
  const ranges = weightRanges(file, artifacts.weightSpecs ?? [])
  const data = new tf.io.CompositeArrayBuffer(artifacts.weightData)
  if (ranges.size && [...ranges.values()].at(-1)!.end > data.byteLength) throw bad(`the weight shards hold ${data.byteLength} bytes, fewer than the manifest lists`)

  // How many outputs each node has: one more than the highest output index anything reads (at least one).
  const outputCount = new Map<string, number>()
  for (const node of graphDef.node) {
    for (const ref of node.input ?? []) {
      if (ref.startsWith('^')) continue
      const name = nodeNameOf(ref)
      const k = ref.length > name.length ? Number(ref.slice(name.length + 1)) : 0
      outputCount.set(name, Math.max(outputCount.get(name) ?? 1, k + 1))
    }
  }
  const outputsOf = (node: NodeDefJSON) => Array.from({ length: outputCount.get(node.name) ?? 1 }, (_, k) => (k === 0 ? node.name : `${node.name}:${k}`))

  const inputs: GraphValueInfo[] = []
  const initializers = new Map<string, GraphInitializer>()
  const nodes: GraphNode[] = []
  for (const node of graphDef.node) {
    if (node.op.startsWith('Placeholder')) {
      const dims: GraphDim[] | null = shapeDims(node.attr?.shape?.shape)?.map((d) => (d < 0 ? null : d)) ?? null
      inputs.push({ name: node.name, dtype: tfTypeName(node.attr?.dtype?.type), dims })
    } else if (node.op === 'Const') {
      const range = ranges.get(node.name)
      if (!range) throw bad(`the Const node "${node.name}" has no value in the weights manifest`)
      const { spec, start, end } = range
      initializers.set(node.name, {
        name: node.name,
        dtype: spec.dtype,
        dims: spec.shape,
        size: spec.shape.reduce((a, b) => a * b, 1),
        read: () => tf.io.decodeWeights(data.slice(start, end), [spec])[spec.name]!,
      })
    }
    if (NOT_NODES.has(node.op)) continue
    nodes.push({
      name: node.name,
      opType: node.op,
      domain: TF_DOMAIN,
      inputs: (node.input ?? []).filter((r) => !r.startsWith('^')).map(tfTensorName),
      outputs: node.op === 'NoOp' ? [] : outputsOf(node),
      attributes: attributes(node),
      opset: 0,
    })
  }
  // PlaceholderWithDefault reads its default: it is an input the caller may feed, and otherwise not an image input.
  const defaults = graphDef.node.filter((n) => n.op === 'PlaceholderWithDefault')
  if (defaults.length) throw bad(`PlaceholderWithDefault ("${defaults[0]!.name}") is not supported; convscope needs one plain Placeholder image input`)

  const read = new Set(graphDef.node.flatMap((n) => (n.input ?? []).filter((r) => !r.startsWith('^')).map(nodeNameOf)))
  const signatureOutputs = Object.values((artifacts.signature as { outputs?: Record<string, { name?: string }> } | undefined)?.outputs ?? {})
    .map((o) => o.name)
    .filter((n): n is string => typeof n === 'string')
  const outputNames = signatureOutputs.length
    ? signatureOutputs.map(tfTensorName)
    : graphDef.node.filter((n) => !read.has(n.name) && n.op !== 'NoOp' && !NOT_NODES.has(n.op)).map((n) => n.name)
  return createModelGraph({
    file,
    nodes,
    inputs,
    outputs: outputNames.map((name) => ({ name, dtype: 'undefined', dims: null })),
    valueInfo: new Map(),
    initializers,
  })
}
