/**
 * The architecture table (api.ts LayerInfo[]) for both model formats.
 *
 * Two steps: a format-specific *sketch* of each layer (name, type, kind, inbound, params, geometry), then
 * `finishArchitecture`, which takes the real output shapes (from one run of the model, so models that
 * accept any size get concrete numbers) and walks the graph to compute receptive fields.
 *
 * Graph models have no layers, only ops. We make one row per op whose output a user might inspect, fold a
 * conv / depthwise / matmul with the BiasAdd and ReLU-family activation that follow it into one row (as
 * Keras does: the row's tensor is the post-activation output, named after the last op of the chain), and
 * skip Const, Identity and shape bookkeeping. Softmax / sigmoid stay separate rows so logits stay visible.
 */
import type * as tf from '@tensorflow/tfjs'
import type { LayerInfo, LayerKind, ReceptiveField } from '../../../shared/api'
import {
  attrInts,
  attrString,
  attrStrings,
  dataInputs,
  type GraphDefJSON,
  type NodeDefJSON,
  topologicalOrder,
} from './graphDef'
import { inputField, type Padding, propagateField, type Size2, type SpatialOp } from './receptiveField'

/** A shape without the batch axis; null = unknown. */
export type Shape = (number | null)[]

/** Geometry of a layer; a function where it depends on the actual input / output shapes. */
export type Geometry = SpatialOp | ((inShape: Shape | null, outShape: Shape | null) => SpatialOp)

/** A layer before its shapes and receptive field are known. */
export interface LayerSketch {
  name: string
  type: string
  kind: LayerKind
  inbound: string[]
  params: number
  hasFilters: boolean
  activation: string | null
  geometry: Geometry
}

export interface Architecture {
  layers: LayerInfo[]
  warnings: string[]
}

const PASS: SpatialOp = { op: 'pass' }
const UNKNOWN: SpatialOp = { op: 'unknown' }

/** Fill in shapes and receptive fields. `sketches` must be in topological order. */
export function finishArchitecture(sketches: LayerSketch[], shapes: Map<string, Shape>): Architecture {
  const fields = new Map<string, ReceptiveField | null>()
  const warnings: string[] = []
  const layers = sketches.map((s): LayerInfo => {
    const outShape = shapes.get(s.name) ?? null
    const inShape = s.inbound.length ? (shapes.get(s.inbound[0]!) ?? null) : null
    let field: ReceptiveField | null
    if (s.kind === 'input') {
      field = inputField()
    } else {
      const inputs = s.inbound.map((n) => fields.get(n) ?? null)
      const op = typeof s.geometry === 'function' ? s.geometry(inShape, outShape) : s.geometry
      // Once a field covers everything (jump 0) any op on it keeps covering the same pixels.
      const allGlobal = inputs.length > 0 && inputs.every((f) => f !== null && f.jump[0] === 0 && f.jump[1] === 0)
      const effective: SpatialOp = allGlobal ? (inputs.length > 1 ? { op: 'merge' } : PASS) : op
      field = propagateField(effective, inputs, spatialSize(inShape), spatialSize(outShape))
      if (effective.op === 'unknown' && inputs.every((f) => f !== null)) {
        warnings.push(`Receptive fields are unknown from layer "${s.name}" (${s.type}) on: its geometry is not modelled`)
      }
    }
    fields.set(s.name, field)
    return {
      name: s.name,
      type: s.type,
      kind: s.kind,
      outputShape: outShape ?? [],
      params: s.params,
      inbound: s.inbound,
      receptiveField: field,
      hasFilters: s.hasFilters,
      spatial: outShape !== null && outShape.length === 3,
      activation: s.activation,
    }
  })
  return { layers, warnings }
}

export function spatialSize(shape: Shape | null): Size2 | null {
  if (!shape || shape.length !== 3 || shape[0] == null || shape[1] == null) return null
  return [shape[0], shape[1]]
}

/** Reshape-like ops: to a vector = global; keeping [h, w] = pass; anything else is not modelled. */
export function reshapeGeometry(inShape: Shape | null, outShape: Shape | null): SpatialOp {
  if (!outShape || !inShape) return UNKNOWN
  if (inShape.length !== 3) return PASS
  if (outShape.length <= 1) return { op: 'global' }
  if (outShape.length === 3 && outShape[0] === inShape[0] && outShape[1] === inShape[1]) return PASS
  return UNKNOWN
}

/** Integer resize factors from shapes (nearest / bilinear upsampling); unknown otherwise. */
export function resizeGeometry(interpolation: 'nearest' | 'bilinear') {
  return (inShape: Shape | null, outShape: Shape | null): SpatialOp => {
    const a = spatialSize(inShape)
    const b = spatialSize(outShape)
    if (!a || !b || b[0] % a[0] !== 0 || b[1] % a[1] !== 0) return UNKNOWN
    return { op: 'upsample', factor: [b[0] / a[0], b[1] / a[1]], interpolation }
  }
}

// ---------------------------------------------------------------------------------------------------
// Layers models
// ---------------------------------------------------------------------------------------------------

type Config = Record<string, unknown>

const pair = (v: unknown, fallback: number): Size2 => {
  if (Array.isArray(v)) return [Number(v[0] ?? fallback), Number(v[1] ?? v[0] ?? fallback)]
  if (typeof v === 'number') return [v, v]
  return [fallback, fallback]
}

function windowOf(c: Config, kernelKey: string): SpatialOp {
  const kernel = pair(c[kernelKey], 1)
  return {
    op: 'window',
    kernel,
    stride: pair(c.strides ?? c[kernelKey], 1),
    dilation: pair(c.dilationRate, 1),
    padding: (c.padding === 'same' ? 'same' : 'valid') as Padding,
  }
}

/** [[top, bottom], [left, right]] or [v, h] or v, as Keras writes ZeroPadding2D / Cropping2D. */
function beforeOf(v: unknown): Size2 {
  if (typeof v === 'number') return [v, v]
  if (Array.isArray(v)) {
    const first = (x: unknown) => (Array.isArray(x) ? Number(x[0]) : Number(x))
    return [first(v[0]), first(v[1] ?? v[0])]
  }
  return [0, 0]
}

const LAYER_ACTIVATION: Record<string, (c: Config) => string> = {
  Activation: (c) => String(c.activation),
  ReLU: (c) => (c.maxValue === 6 ? 'relu6' : 'relu'),
  LeakyReLU: () => 'leaky_relu',
  PReLU: () => 'prelu',
  ELU: () => 'elu',
  ThresholdedReLU: () => 'thresholded_relu',
  Softmax: () => 'softmax',
}

const PASS_LAYERS: Record<string, LayerKind> = {
  BatchNormalization: 'norm',
  LayerNormalization: 'norm',
  Dropout: 'other',
  SpatialDropout1D: 'other',
  SpatialDropout2D: 'other',
  GaussianNoise: 'other',
  GaussianDropout: 'other',
  AlphaDropout: 'other',
  Rescaling: 'other',
  Masking: 'other',
}

const MERGE_LAYERS = new Set(['Add', 'Average', 'Maximum', 'Minimum', 'Multiply', 'Concatenate', 'Subtract', 'Dot'])
const NESTED_MODELS = new Set(['Model', 'Functional', 'Sequential'])

/** Describe one Keras layer: kind, geometry, activation. */
function describeLayer(className: string, c: Config): { kind: LayerKind; geometry: Geometry; activation: string | null; hasFilters: boolean } {
  const act = typeof c.activation === 'string' ? c.activation : null
  switch (className) {
    case 'InputLayer':
      return { kind: 'input', geometry: PASS, activation: null, hasFilters: false }
    case 'Conv2D':
      return { kind: 'conv', geometry: windowOf(c, 'kernelSize'), activation: act, hasFilters: true }
    case 'DepthwiseConv2D':
      return { kind: 'depthwise', geometry: windowOf(c, 'kernelSize'), activation: act, hasFilters: true }
    case 'SeparableConv2D':
      // Depthwise then 1×1: the depthwise kernel sets the geometry; the two kernels do not make one 4-D filter bank.
      return { kind: 'conv', geometry: windowOf(c, 'kernelSize'), activation: act, hasFilters: false }
    case 'Conv2DTranspose':
      return { kind: 'conv', geometry: UNKNOWN, activation: act, hasFilters: false }
    case 'MaxPooling2D':
    case 'AveragePooling2D':
      return { kind: 'pool', geometry: windowOf(c, 'poolSize'), activation: null, hasFilters: false }
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D':
      return { kind: 'global-pool', geometry: { op: 'global' }, activation: null, hasFilters: false }
    case 'Dense':
      return { kind: 'dense', geometry: PASS, activation: act, hasFilters: false }
    case 'Flatten':
    case 'Reshape':
      return { kind: 'reshape', geometry: reshapeGeometry, activation: null, hasFilters: false }
    case 'Permute': {
      const dims = Array.isArray(c.dims) ? c.dims.join(',') : ''
      return { kind: 'reshape', geometry: dims === '1,2,3' ? PASS : UNKNOWN, activation: null, hasFilters: false }
    }
    case 'ZeroPadding2D':
      return { kind: 'other', geometry: { op: 'pad', before: beforeOf(c.padding) }, activation: null, hasFilters: false }
    case 'Cropping2D':
      return { kind: 'other', geometry: { op: 'crop', before: beforeOf(c.cropping) }, activation: null, hasFilters: false }
    case 'UpSampling2D': {
      const interpolation = c.interpolation === 'bilinear' ? 'bilinear' : 'nearest'
      return { kind: 'other', geometry: { op: 'upsample', factor: pair(c.size, 2), interpolation }, activation: null, hasFilters: false }
    }
    case 'CenterCrop':
      return {
        kind: 'other',
        geometry: (i, o) => {
          const a = spatialSize(i)
          const b = spatialSize(o)
          if (!a || !b || b[0] > a[0] || b[1] > a[1]) return UNKNOWN
          return { op: 'crop', before: [Math.floor((a[0] - b[0]) / 2), Math.floor((a[1] - b[1]) / 2)] }
        },
        activation: null,
        hasFilters: false,
      }
  }
  const activation = LAYER_ACTIVATION[className]
  if (activation) return { kind: 'activation', geometry: PASS, activation: activation(c), hasFilters: false }
  const passKind = PASS_LAYERS[className]
  if (passKind) return { kind: passKind, geometry: PASS, activation: null, hasFilters: false }
  if (MERGE_LAYERS.has(className)) {
    // Concatenating along a spatial axis changes the geometry; along channels it merges fields.
    const spatialConcat = className === 'Concatenate' && c.axis !== undefined && c.axis !== -1 && c.axis !== 3
    return { kind: 'merge', geometry: spatialConcat ? UNKNOWN : { op: 'merge' }, activation: null, hasFilters: false }
  }
  return { kind: 'other', geometry: UNKNOWN, activation: act, hasFilters: false }
}

/** Names of the layers feeding `layer` within `model`. */
function inboundOf(layer: tf.layers.Layer, members: Set<string>): string[] {
  const names: string[] = []
  for (const node of layer.inboundNodes) {
    for (const l of node.inboundLayers) if (members.has(l.name) && !names.includes(l.name)) names.push(l.name)
  }
  return names
}

/** Sketch every layer of a tfjs layers model (model.layers is already in topological order). */
export function sketchLayersModel(model: tf.LayersModel): { sketches: LayerSketch[]; warnings: string[] } {
  const members = new Set(model.layers.map((l) => l.name))
  const warnings: string[] = []
  const sketches = model.layers.map((layer): LayerSketch => {
    const type = layer.getClassName()
    const d = describeLayer(type, layer.getConfig() as Config)
    if (NESTED_MODELS.has(type)) warnings.push(`Layer "${layer.name}" is a nested model; it is shown as one layer and its inner layers cannot be inspected`)
    return { name: layer.name, type, kind: d.kind, inbound: inboundOf(layer, members), params: layer.countParams(), hasFilters: d.hasFilters, activation: d.activation, geometry: d.geometry }
  })
  return { sketches, warnings }
}

/** Output shapes the model declares (without batch); where a model accepts any size these hold nulls. */
export function declaredShapes(model: tf.LayersModel): Map<string, Shape> {
  const shapes = new Map<string, Shape>()
  for (const layer of model.layers) {
    const s = layer.outputShape
    const first = (Array.isArray(s[0]) ? s[0] : s) as Shape
    shapes.set(layer.name, first.slice(1))
  }
  return shapes
}

/** The architecture of a layers model; `shapes` from a run of the model, else the declared ones. */
export function layersArchitecture(model: tf.LayersModel, shapes: Map<string, Shape> = declaredShapes(model)): Architecture {
  const { sketches, warnings } = sketchLayersModel(model)
  const done = finishArchitecture(sketches, shapes)
  return { layers: done.layers, warnings: [...warnings, ...done.warnings] }
}

// ---------------------------------------------------------------------------------------------------
// Graph models
// ---------------------------------------------------------------------------------------------------

/** A graph-model row: the node whose output it is, and the const holding its 4-D kernel if any. */
export interface GraphSketch extends LayerSketch {
  node: string
  kernelConst: string | null
}

export interface WeightSpec {
  name: string
  shape: number[]
  dtype?: string
}

/** Values of a const node (small int tensors: axes, paddings), or null if unknown. */
export type ConstValue = (name: string) => number[] | null

const CONV_OPS: Record<string, LayerKind> = {
  Conv2D: 'conv',
  _FusedConv2D: 'conv',
  DepthwiseConv2dNative: 'depthwise',
  FusedDepthwiseConv2dNative: 'depthwise',
}
const DENSE_OPS = new Set(['MatMul', '_FusedMatMul', 'BatchMatMul', 'BatchMatMulV2', 'BatchMatMulV3'])
const POOL_OPS = new Set(['MaxPool', 'AvgPool'])
const REDUCE_OPS = new Set(['Mean', 'Max', 'Min', 'Sum', 'Prod'])
/** Activations folded into the conv / matmul before them. */
const FUSABLE_ACTIVATIONS: Record<string, string> = { Relu: 'relu', Relu6: 'relu6', LeakyRelu: 'leaky_relu', Elu: 'elu', Selu: 'selu', Prelu: 'prelu' }
const ACTIVATIONS: Record<string, string> = {
  ...FUSABLE_ACTIVATIONS,
  Sigmoid: 'sigmoid',
  Tanh: 'tanh',
  Softmax: 'softmax',
  LogSoftmax: 'log_softmax',
  Softplus: 'softplus',
  Softsign: 'softsign',
}
const NORM_OPS = new Set(['FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3', 'LRN'])
const ELEMENTWISE_OPS = new Set(['Add', 'AddV2', 'AddN', 'Sub', 'Mul', 'RealDiv', 'Div', 'Maximum', 'Minimum', 'SquaredDifference', 'BiasAdd', 'Pow'])
const UNARY_PASS_OPS = new Set(['Cast', 'Neg', 'Abs', 'Square', 'Sqrt', 'Rsqrt', 'Exp', 'Log', 'Floor', 'ClipByValue'])
const CONCAT_OPS = new Set(['ConcatV2', 'Concat'])
const RESHAPE_OPS = new Set(['Reshape', 'Squeeze', 'ExpandDims'])
const PAD_OPS = new Set(['Pad', 'PadV2', 'MirrorPad'])
/** Aliases: skipped, their consumers read their input. */
const ALIAS_OPS = new Set(['Identity', 'IdentityN', 'StopGradient', 'Snapshot', 'PreventGradient'])
/** Ops whose output is metadata about a tensor, not activations: they end input dependence. */
const SHAPE_OPS = new Set(['Shape', 'ShapeN', 'Size', 'Rank'])
const BIAS_OPS = new Set(['BiasAdd', 'Add', 'AddV2'])

const fusedActivation = (node: NodeDefJSON): string => {
  const ops = attrStrings(node, 'fused_ops') ?? []
  for (const op of ops) if (ACTIVATIONS[op]) return ACTIVATIONS[op]!
  return 'linear'
}

/** Sketch the rows of a graph model. */
export function sketchGraphModel(graph: GraphDefJSON, weightSpecs: WeightSpec[], constValue: ConstValue): { sketches: GraphSketch[]; warnings: string[] } {
  const order = topologicalOrder(graph)
  const byName = new Map(order.map((n) => [n.name, n]))
  const specs = new Map(weightSpecs.map((w) => [w.name, w]))
  const warnings: string[] = []

  const alias = (name: string): string => {
    let n = byName.get(name)
    while (n && ALIAS_OPS.has(n.op) && dataInputs(n).length > 0) n = byName.get(dataInputs(n)[0]!)
    return n?.name ?? name
  }
  // Which nodes carry activations: reachable from a placeholder through data edges, not through shape ops.
  const live = new Set<string>()
  for (const n of order) {
    if (n.op === 'Placeholder' || n.op === 'PlaceholderWithDefault') live.add(n.name)
    else if (!SHAPE_OPS.has(n.op) && dataInputs(n).some((i) => live.has(i))) live.add(n.name)
  }
  const consumers = new Map<string, NodeDefJSON[]>()
  for (const n of order) {
    for (const i of dataInputs(n)) {
      const list = consumers.get(i)
      if (list) list.push(n)
      else consumers.set(i, [n])
    }
  }
  const onlyConsumer = (name: string): NodeDefJSON | null => {
    const c = consumers.get(name) ?? []
    return c.length === 1 ? c[0]! : null
  }
  const liveInputs = (n: NodeDefJSON) => dataInputs(n).filter((i) => live.has(i))

  const rowOf = new Map<string, string>() // node → row name
  const sketches: GraphSketch[] = []
  for (const node of order) {
    if (!live.has(node.name) || ALIAS_OPS.has(node.op) || rowOf.has(node.name)) continue
    const chain = [node]
    let activation: string | null = null
    if (CONV_OPS[node.op] || DENSE_OPS.has(node.op)) {
      activation = node.op.startsWith('_Fused') || node.op.startsWith('Fused') ? fusedActivation(node) : 'linear'
      let next = onlyConsumer(node.name)
      if (activation === 'linear' && next && BIAS_OPS.has(next.op) && liveInputs(next).length === 1) {
        chain.push(next)
        next = onlyConsumer(next.name)
      }
      if (activation === 'linear' && next && FUSABLE_ACTIVATIONS[next.op]) {
        chain.push(next)
        activation = FUSABLE_ACTIVATIONS[next.op]!
      }
    }
    const last = chain[chain.length - 1]!
    for (const c of chain) rowOf.set(c.name, last.name)
    const members = new Set(chain.map((c) => c.name))
    const inbound: string[] = []
    for (const c of chain) {
      for (const i of dataInputs(c)) {
        const src = alias(i)
        if (members.has(src) || !live.has(src)) continue
        const row = rowOf.get(src)
        if (row && !inbound.includes(row)) inbound.push(row)
      }
    }
    // Weights: float consts read by the chain, each counted once.
    const consts = new Set<string>()
    for (const c of chain) for (const i of dataInputs(c)) if (!live.has(alias(i))) consts.add(alias(i))
    let params = 0
    for (const name of consts) {
      const spec = specs.get(name)
      if (spec && (spec.dtype ?? 'float32') === 'float32') params += spec.shape.reduce((a, b) => a * b, 1)
    }
    const d = describeNode(node, liveInputs(node).length, (k) => {
      const ref = dataInputs(node)[k]
      return ref === undefined ? null : alias(ref)
    }, specs, constValue, warnings)
    sketches.push({
      name: last.name,
      node: last.name,
      type: node.op,
      kind: d.kind,
      inbound,
      params,
      hasFilters: d.kernelConst !== null,
      kernelConst: d.kernelConst,
      activation: activation ?? d.activation,
      geometry: d.geometry,
    })
  }
  return { sketches, warnings }
}

function describeNode(
  node: NodeDefJSON,
  liveInputCount: number,
  input: (k: number) => string | null,
  specs: Map<string, WeightSpec>,
  constValue: ConstValue,
  warnings: string[],
): { kind: LayerKind; geometry: Geometry; activation: string | null; kernelConst: string | null } {
  const op = node.op
  const other = (geometry: Geometry, kind: LayerKind = 'other') => ({ kind, geometry, activation: null, kernelConst: null })
  if (op === 'Placeholder' || op === 'PlaceholderWithDefault') return other(PASS, 'input')
  const nchw = attrString(node, 'data_format') === 'NCHW'
  if (nchw) warnings.push(`Op "${node.name}" (${op}) uses NCHW layout; its receptive field is not computed`)
  const convKind = CONV_OPS[op]
  if (convKind) {
    const filter = input(1)
    const spec = filter ? specs.get(filter) : undefined
    const kernelConst = spec && spec.shape.length === 4 ? filter : null
    if (!spec || nchw) return { kind: convKind, geometry: UNKNOWN, activation: null, kernelConst }
    return { kind: convKind, geometry: graphWindow(node, [spec.shape[0]!, spec.shape[1]!]), activation: null, kernelConst }
  }
  if (op === 'Conv2DBackpropInput') return other(UNKNOWN, 'conv')
  if (DENSE_OPS.has(op)) return other(PASS, 'dense')
  if (POOL_OPS.has(op)) {
    const ksize = attrInts(node, 'ksize') ?? [1, 1, 1, 1]
    return other(nchw ? UNKNOWN : graphWindow(node, [ksize[1]!, ksize[2]!]), 'pool')
  }
  if (REDUCE_OPS.has(op)) {
    const axesRef = input(1)
    const axes = (axesRef ? constValue(axesRef) : null)?.map((a) => (a < 0 ? a + 4 : a))
    if (!axes) return other(UNKNOWN)
    const spatial = axes.filter((a) => a === 1 || a === 2).length
    // keep_dims or not, the result sums over every position: one field for all.
    if (spatial === 2) return other({ op: 'global' }, 'global-pool')
    return other(spatial === 0 ? PASS : UNKNOWN)
  }
  if (ACTIVATIONS[op]) return { kind: 'activation', geometry: PASS, activation: ACTIVATIONS[op]!, kernelConst: null }
  if (NORM_OPS.has(op)) return other(PASS, 'norm')
  if (ELEMENTWISE_OPS.has(op)) return liveInputCount > 1 ? other({ op: 'merge' }, 'merge') : other(PASS)
  if (CONCAT_OPS.has(op)) {
    const axisRef = input(op === 'ConcatV2' ? dataInputs(node).length - 1 : 0)
    const axis = axisRef ? constValue(axisRef)?.[0] : undefined
    return other(axis === 3 || axis === -1 ? { op: 'merge' } : UNKNOWN, 'merge')
  }
  if (UNARY_PASS_OPS.has(op)) return other(PASS)
  if (RESHAPE_OPS.has(op)) return other(reshapeGeometry, 'reshape')
  if (PAD_OPS.has(op)) {
    const ref = input(1)
    const p = ref ? constValue(ref) : null
    if (!p || p.length !== 8) return other(UNKNOWN)
    return other({ op: 'pad', before: [p[2]!, p[4]!] })
  }
  if (op === 'ResizeNearestNeighbor') return other(resizeGeometry('nearest'))
  if (op === 'ResizeBilinear') return other(resizeGeometry('bilinear'))
  return other(UNKNOWN)
}

/** Window geometry of a graph conv / pool node: strides, dilations, padding attrs ([1, h, w, 1] layout). */
function graphWindow(node: NodeDefJSON, kernel: Size2): SpatialOp {
  const strides = attrInts(node, 'strides') ?? [1, 1, 1, 1]
  const dilations = attrInts(node, 'dilations') ?? [1, 1, 1, 1]
  const pad = (attrString(node, 'padding') ?? 'VALID').toUpperCase()
  let padding: Padding = 'valid'
  if (pad === 'SAME') padding = 'same'
  else if (pad === 'EXPLICIT') {
    const e = attrInts(node, 'explicit_paddings') ?? [0, 0, 0, 0, 0, 0, 0, 0]
    padding = { before: [e[2] ?? 0, e[4] ?? 0], after: [e[3] ?? 0, e[5] ?? 0] }
  }
  return { op: 'window', kernel, stride: [strides[1] ?? 1, strides[2] ?? 1], dilation: [dilations[1] ?? 1, dilations[2] ?? 1], padding }
}
