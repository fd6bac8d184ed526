/**
 * The layers a user sees in a model graph, named as in the PyTorch module tree (issue 10's naming rule):
 *
 * - The module path comes from the scope segments of a node name ("/layer1/layer1.0/conv1/Conv" → layer1,
 *   layer1.0, conv1): a segment starting with the previous segment plus "." replaces it, any other is appended
 *   with "." → "layer1.0.conv1" (see modulePath).
 * - A node in a leaf scope (no child scopes) is named by the module path; when the leaf holds several compute
 *   nodes (LayerNorm's decomposition, GELU's Erf chain) only those whose output leaves the scope are layers
 *   (several: "_1", "_2", ...). A node directly in a container scope (a functional op in forward: resnet's
 *   "/layer1/layer1.0/Add", the root's "/Flatten") is path + "." + its last segment lower-cased
 *   ("layer1.0.add", "flatten"). Unscoped names (other exporters) are kept.
 * - Not layers: Identity, Dropout, Constant, Cast, and shape bookkeeping (nodes not fed by the image input).
 *
 * Each layer becomes a LayerSketch for finishArchitecture (architecture.ts): receptive fields come from the
 * same code as for TF.js models. Shapes come from one probe run, 4-D ones presented as [h, w, c].
 */
import type { LayerKind } from '../../../shared/api'
import { finishArchitecture, type Architecture, type Geometry, type LayerSketch, type Shape } from '../models/architecture'
import type { Size2 } from '../models/receptiveField'
import { describeOnnxNode, type Layout, type NodeRow, outputLayout } from './geometry'
import type { GraphNode, ModelGraph } from './modelGraph'

/** Aliases and no-ops: never layers; their readers look through them. */
const HIDDEN_OPS = new Set(['Identity', 'Dropout', 'Constant', 'Cast', 'CastLike'])
/** Ops whose output is metadata of a tensor, not activations: they end the input's influence. */
const SHAPE_OPS = new Set(['Shape', 'Size'])

export interface LayerEntry {
  name: string
  /** The tensor holding the layer's output. */
  tensor: string
  /** The node computing it (null for the input). */
  node: GraphNode | null
  /** The nodes the layer stands for, in order (a leaf module's inner nodes, then the node): e.g. a Linear's MatMul and Add. */
  members: GraphNode[]
  /** Layout of the tensor (4-D ones are presented as [h, w, c]). */
  layout: Layout
}

export interface LayerTable {
  layers: LayerEntry[]
  byName: Map<string, LayerEntry>
  /** Layout of every activation tensor. */
  layouts: Map<string, Layout>
  architecture: Architecture
}

export interface LayerTableInput {
  graph: ModelGraph
  /** The image input's tensor name. */
  input: string
  /** Full shapes (batch included) of every activation tensor, from one probe run. */
  shapes: ReadonlyMap<string, readonly number[]>
  /** Whether a tensor is a weight or folded constant, and its dims / small values. */
  constDims(name: string): number[] | null
  constValues(name: string): number[] | null
}

/**
 * The module path of scope segments: ["layer1", "layer1.0", "conv1"] → "layer1.0.conv1". PyTorch writes a
 * Sequential's child as the parent's segment plus "." + index ("downsample" → "downsample.0"), so a segment
 * starting with the previous one plus "." replaces it: ["layer2.0", "downsample", "downsample.0"] → "layer2.0.downsample.0".
 */
export function modulePath(scope: readonly string[]): string {
  const parts: string[] = []
  let prev: string | undefined
  for (const seg of scope) {
    if (prev !== undefined && seg.startsWith(`${prev}.`)) parts[parts.length - 1] = seg
    else parts.push(seg)
    prev = seg
  }
  return parts.join('.')
}

/** A shape as the engine presents it: no batch, 4-D as [h, w, c]. */
export function presentShape(shape: readonly number[], layout: Layout): Shape {
  const s = shape.slice(1)
  if (shape.length === 4 && layout === 'nchw') return [s[1]!, s[2]!, s[0]!]
  return s
}

interface Scoped {
  scope: string
  segments: string[]
}

function scopeOf(node: GraphNode): Scoped | null {
  if (!node.name.startsWith('/')) return null
  const segments = node.name.slice(1).split('/')
  return { scope: segments.slice(0, -1).join('/'), segments }
}

export function buildLayerTable(t: LayerTableInput): LayerTable {
  const { graph, input } = t
  const isConst = (name: string) => t.constDims(name) !== null
  // Activation tensors: reachable from the image input through data edges, not through shape ops.
  const live = new Set<string>([input])
  const liveNodes = new Set<GraphNode>()
  for (const node of graph.nodes) {
    if (SHAPE_OPS.has(node.opType) || !node.inputs.some((i) => live.has(i))) continue
    liveNodes.add(node)
    for (const o of node.outputs) if (o !== '') live.add(o)
  }
  const compute = (n: GraphNode) => liveNodes.has(n) && !HIDDEN_OPS.has(n.opType)

  // Layouts along the graph: the input is NCHW; transposes switch; flattening ends it.
  const layouts = new Map<string, Layout>([[input, 'nchw']])
  for (const node of liveNodes) {
    const first = node.inputs.find((i) => live.has(i))
    const inLayout = (first === undefined ? undefined : layouts.get(first)) ?? 'other'
    for (const o of node.outputs) if (o !== '') layouts.set(o, outputLayout(node, inLayout, t.shapes.get(o)?.length ?? null))
  }

  // Readers of a tensor, looking through hidden nodes.
  const readers = (tensor: string, seen = new Set<string>()): GraphNode[] => {
    if (seen.has(tensor)) return []
    seen.add(tensor)
    return (graph.consumers.get(tensor) ?? []).filter((n) => liveNodes.has(n)).flatMap((n) => (HIDDEN_OPS.has(n.opType) ? n.outputs.flatMap((o) => readers(o, seen)) : [n]))
  }
  const isOutput = (tensor: string, seen = new Set<string>()): boolean =>
    graph.outputs.some((o) => o.name === tensor) ||
    (graph.consumers.get(tensor) ?? []).some((n) => HIDDEN_OPS.has(n.opType) && !seen.has(n.name) && (seen.add(n.name), n.outputs.some((o) => isOutput(o, seen))))

  // Scopes that hold other scopes are containers; the others are leaves.
  const scoped = new Map<GraphNode, Scoped>()
  const containers = new Set<string>(['']) // the root: its own nodes are functional ops of the model's forward
  for (const node of graph.nodes) {
    const s = scopeOf(node)
    if (!s) continue
    scoped.set(node, s)
    const parts = s.segments.slice(0, -1)
    for (let k = 0; k < parts.length; k++) containers.add(parts.slice(0, k).join('/'))
  }

  // Which nodes are layers, under which base name; the hidden members of each leaf go with its first exit.
  const base = new Map<GraphNode, string>()
  const members = new Map<GraphNode, GraphNode[]>()
  const leaves = new Map<string, GraphNode[]>()
  for (const node of graph.nodes) {
    if (!compute(node)) continue
    const s = scoped.get(node)
    if (!s) {
      base.set(node, node.name)
      members.set(node, [node])
    } else if (containers.has(s.scope)) {
      const path = modulePath(s.segments.slice(0, -1))
      const own = s.segments[s.segments.length - 1]!.toLowerCase()
      base.set(node, path ? `${path}.${own}` : own)
      members.set(node, [node])
    } else {
      const list = leaves.get(s.scope)
      if (list) list.push(node)
      else leaves.set(s.scope, [node])
    }
  }
  for (const [scope, nodes] of leaves) {
    const path = modulePath(scope.split('/'))
    const inScope = new Set(nodes)
    const exits = nodes.filter((n) => n.outputs.some((o) => isOutput(o) || readers(o).some((r) => !inScope.has(r))))
    exits.forEach((n, k) => {
      base.set(n, exits.length > 1 ? `${path}_${k + 1}` : path)
      members.set(n, [n])
    })
    const inner = nodes.filter((n) => !exits.includes(n))
    if (exits.length) members.get(exits[0]!)!.unshift(...inner)
  }

  // Unique names, in graph order; the input first.
  const used = new Set<string>()
  const unique = (name: string) => {
    let n = name
    for (let k = 1; used.has(n); k++) n = `${name}_${k}`
    used.add(n)
    return n
  }
  const entries: LayerEntry[] = [{ name: unique(input), tensor: input, node: null, members: [], layout: 'nchw' }]
  const layerOfTensor = new Map<string, string>([[input, entries[0]!.name]])
  for (const node of graph.nodes) {
    const b = base.get(node)
    if (b === undefined) continue
    const tensor = node.outputs.find((o) => o !== '')!
    const entry = { name: unique(b), tensor, node, members: members.get(node)!, layout: layouts.get(tensor) ?? 'other' }
    entries.push(entry)
    layerOfTensor.set(tensor, entry.name)
  }

  // The nearest layers upstream of a tensor, through hidden and inner nodes.
  const sourcesMemo = new Map<string, string[]>()
  const sources = (tensor: string): string[] => {
    const layer = layerOfTensor.get(tensor)
    if (layer) return [layer]
    const memo = sourcesMemo.get(tensor)
    if (memo) return memo
    const producer = graph.producer.get(tensor)
    const found = producer && liveNodes.has(producer) ? [...new Set(producer.inputs.filter((i) => live.has(i)).flatMap(sources))] : []
    sourcesMemo.set(tensor, found)
    return found
  }

  const shapes = new Map<string, Shape>()
  const sketches = entries.map((e): LayerSketch => {
    const shape = t.shapes.get(e.tensor)
    if (shape) shapes.set(e.name, presentShape(shape, e.layout))
    if (!e.node) return { name: e.name, type: 'Input', kind: 'input', inbound: [], params: 0, hasFilters: false, activation: null, geometry: { op: 'pass' } }
    const group = e.members
    const inGroup = new Set(group.flatMap((n) => n.outputs))
    const inbound = [...new Set(group.flatMap((n) => n.inputs.filter((i) => live.has(i) && !inGroup.has(i)).flatMap(sources)))]
    const row = describeGroup(group, e.node, (n) => ({
      constDims: t.constDims,
      constValues: t.constValues,
      dataInputs: n.inputs.filter((i) => live.has(i)).length,
      layout: layouts.get(n.inputs.find((i) => live.has(i)) ?? '') ?? 'other',
    }))
    return { name: e.name, type: foldedBatchNorm(e.node) ? `${row.type} (BN folded)` : row.type, kind: row.kind, inbound, params: paramsOf(group, graph, isConst), hasFilters: row.hasFilters, activation: row.activation, geometry: row.geometry }
  })
  const architecture = finishArchitecture(sketches, shapes)
  return { layers: entries, byName: new Map(entries.map((e) => [e.name, e])), layouts, architecture }
}

/**
 * The row of a layer made of one node, or of a leaf module's several nodes: the exit's row, with the composite
 * recognised (LayerNorm's ReduceMean / Sqrt decomposition, GELU's Erf, SiLU's x · sigmoid(x)).
 */
function describeGroup(group: GraphNode[], exit: GraphNode, facts: (n: GraphNode) => Parameters<typeof describeOnnxNode>[1]): NodeRow & { type: string } {
  const ops = new Set(group.map((n) => n.opType))
  const rows = group.map((n) => describeOnnxNode(n, facts(n)))
  const own = rows[group.indexOf(exit)]!
  if (group.length === 1) return { ...own, type: exit.opType }
  const geometry = composeGeometry(rows.map((r) => r.geometry))
  const named = (type: string, kind: LayerKind, activation: string | null) => ({ type, kind, activation, geometry, hasFilters: false })
  if (ops.has('Erf')) return named('Gelu', 'activation', 'gelu')
  if (ops.has('ReduceMean') && (ops.has('Sqrt') || ops.has('Pow'))) return named('LayerNormalization', 'norm', null)
  if (ops.has('Sigmoid') && exit.opType === 'Mul') return named('SiLU', 'activation', 'silu')
  if (ops.has('HardSigmoid') && exit.opType === 'Mul') return named('HardSwish', 'activation', 'hard_swish')
  // A Linear on more than two axes: MatMul + Add of the bias.
  if (ops.has('MatMul') && exit.opType === 'Add') return named('MatMul', 'dense', 'linear')
  return { ...own, geometry, type: exit.opType }
}

/**
 * torch.onnx.export folds an eval-mode BatchNorm into the Conv before it: the folded weight is a new constant,
 * named "onnx::Conv_<n>", where a Conv left alone keeps its parameter's name ("features.0.weight").
 */
function foldedBatchNorm(node: GraphNode): boolean {
  return node.opType === 'Conv' && node.name.startsWith('/') && (node.inputs[1] ?? '').startsWith('onnx::')
}

/**
 * The geometry of a leaf module's nodes in order: passes drop out, pads fold into the window after them
 * (DenseNet's transition pool is Pad → AveragePool); two windows in one layer are not modelled.
 */
function composeGeometry(list: Geometry[]): Geometry {
  const before: Size2 = [0, 0]
  let window: Geometry | null = null
  for (const g of list) {
    if (typeof g !== 'function' && (g.op === 'pass' || g.op === 'merge')) continue
    if (typeof g !== 'function' && g.op === 'pad' && window === null) {
      before[0] += g.before[0]
      before[1] += g.before[1]
      continue
    }
    if (window !== null) return { op: 'unknown' }
    window = g
  }
  const padded = before[0] !== 0 || before[1] !== 0
  if (window === null) return padded ? { op: 'pad', before } : { op: 'pass' }
  if (!padded) return window
  if (typeof window === 'function' || window.op !== 'window' || window.padding === 'same') return { op: 'unknown' }
  const p: { before: Size2; after: Size2 } = window.padding === 'valid' ? { before: [0, 0], after: [0, 0] } : window.padding
  return { ...window, padding: { before: [p.before[0] + before[0], p.before[1] + before[1]], after: p.after } }
}

/** Float weights read by the layer's nodes (directly or through Identity copies), each counted once. */
function paramsOf(group: GraphNode[], graph: ModelGraph, isConst: (name: string) => boolean): number {
  const counted = new Set<string>()
  let params = 0
  const visit = (tensor: string) => {
    if (tensor === '' || counted.has(tensor) || !isConst(tensor)) return
    counted.add(tensor)
    const init = graph.initializers.get(tensor)
    if (init) {
      if (init.dtype.startsWith('float') || init.dtype === 'bfloat16') params += init.size
      return
    }
    const p = graph.producer.get(tensor)
    if (p && HIDDEN_OPS.has(p.opType)) p.inputs.forEach(visit)
  }
  for (const n of group) n.inputs.forEach(visit)
  return params
}
