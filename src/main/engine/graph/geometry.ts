/**
 * What one ONNX node is as a layer row: its kind, its spatial geometry for receptive fields (receptiveField.ts
 * SpatialOp) and its activation. Shapes of 4-D tensors are in the engine's [h, w, c] order; `layout` says
 * whether a node's data input is NCHW (the PyTorch convention) or NHWC (a block that permuted, e.g. ConvNeXt).
 */
import type { LayerKind } from '../../../shared/api'
import { type Geometry, reshapeGeometry, resizeGeometry, spatialSize } from '../models/architecture'
import { type Padding, samePadding, type Size2, type SpatialOp } from '../models/receptiveField'
import type { OnnxAttributeValue } from '../models/onnx/reader'
import type { GraphNode } from './modelGraph'

export type Layout = 'nchw' | 'nhwc' | 'other'

export interface NodeFacts {
  /** The dims of a constant tensor (weight or folded), or null for a computed one. */
  constDims(name: string): number[] | null
  /** The values of a small constant tensor (pads, axes, clip bounds), or null. */
  constValues(name: string): number[] | null
  /** How many of the node's inputs carry activations (not weights or constants). */
  dataInputs: number
  /** Layout of the node's first data input. */
  layout: Layout
}

export interface NodeRow {
  kind: LayerKind
  geometry: Geometry
  activation: string | null
  hasFilters: boolean
}

const PASS: SpatialOp = { op: 'pass' }
const UNKNOWN: SpatialOp = { op: 'unknown' }

const ints = (v: OnnxAttributeValue | undefined): number[] | null => (Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : null)
const num = (v: OnnxAttributeValue | undefined): number | null => (typeof v === 'number' ? v : null)
const str = (v: OnnxAttributeValue | undefined): string | null => (typeof v === 'string' ? v : null)

/** Element-wise activations: the ONNX op → the name the workbench shows. */
const ACTIVATIONS: Record<string, string> = {
  Relu: 'relu', LeakyRelu: 'leaky_relu', PRelu: 'prelu', Elu: 'elu', Selu: 'selu', Celu: 'celu', Sigmoid: 'sigmoid',
  HardSigmoid: 'hard_sigmoid', HardSwish: 'hard_swish', Tanh: 'tanh', Softplus: 'softplus', Softsign: 'softsign',
  Gelu: 'gelu', Mish: 'mish', ThresholdedRelu: 'thresholded_relu',
}
/** Softmax-like ops normalise over an axis: a pass along the channels, unknown along space. */
const SOFTMAX: Record<string, string> = { Softmax: 'softmax', LogSoftmax: 'log_softmax' }
const NORMS = new Set(['BatchNormalization', 'InstanceNormalization', 'LayerNormalization', 'LRN', 'GroupNormalization', 'MeanVarianceNormalization'])
const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Where', 'Equal', 'Greater', 'Less', 'And', 'Or'])
const UNARY = new Set(['Sqrt', 'Exp', 'Log', 'Abs', 'Neg', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Erf', 'Sign', 'Not', 'Sin', 'Cos'])
const RESHAPES = new Set(['Flatten', 'Reshape', 'Squeeze', 'Unsqueeze'])
const REDUCES = new Set(['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceSum', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSumExp', 'ReduceSumSquare'])

/** The spatial axes (H, W) and the channel axis of a 4-D tensor in `layout`. */
function axesOf(layout: Layout): { spatial: number[]; channel: number } | null {
  if (layout === 'nchw') return { spatial: [2, 3], channel: 1 }
  if (layout === 'nhwc') return { spatial: [1, 2], channel: 3 }
  return null
}

/** Axes of an op normalised to 0..3; `given` null means "all axes". */
function normAxes(given: number[] | null): number[] {
  return (given ?? [0, 1, 2, 3]).map((a) => (a < 0 ? a + 4 : a))
}

/** ONNX pads [h_begin, w_begin, h_end, w_end] with auto_pad, as a receptive-field Padding (or a function of the input size). */
function windowOp(node: GraphNode, kernel: Size2): Geometry {
  const a = node.attributes
  const stride = (ints(a.strides) ?? [1, 1]) as Size2
  const dilation = (ints(a.dilations) ?? [1, 1]) as Size2
  const autoPad = str(a.auto_pad) ?? 'NOTSET'
  const window = (padding: Padding): SpatialOp => ({ op: 'window', kernel, stride, dilation, padding })
  if (autoPad === 'VALID') return window('valid')
  if (autoPad === 'SAME_UPPER') return window('same') // TF's 'same': the odd pixel after
  if (autoPad === 'SAME_LOWER') {
    // The odd pixel before: computed from this layer's input size.
    return (inShape) => {
      const size = spatialSize(inShape)
      if (!size) return UNKNOWN
      const [h, w] = ([0, 1] as const).map((i) => samePadding(size[i], kernel[i], stride[i], dilation[i]))
      return window({ before: [h!.after, w!.after], after: [h!.before, w!.before] })
    }
  }
  const p = ints(a.pads) ?? [0, 0, 0, 0]
  return window({ before: [p[0] ?? 0, p[1] ?? 0], after: [p[2] ?? 0, p[3] ?? 0] })
}

/** Clip(0, 6) is ReLU6 (MobileNet); its bounds are attributes before opset 11, inputs after. */
function clipActivation(node: GraphNode, facts: NodeFacts): string {
  const bound = (attr: string, input: number) => num(node.attributes[attr]) ?? (node.inputs[input] ? facts.constValues(node.inputs[input]!)?.[0] : undefined) ?? null
  return bound('min', 1) === 0 && bound('max', 2) === 6 ? 'relu6' : 'clip'
}

/** The layer row of one node. */
export function describeOnnxNode(node: GraphNode, facts: NodeFacts): NodeRow {
  const row = (kind: LayerKind, geometry: Geometry, activation: string | null = null, hasFilters = false): NodeRow => ({ kind, geometry, activation, hasFilters })
  const op = node.domain === '' || node.domain === 'ai.onnx' ? node.opType : `${node.domain}.${node.opType}`
  const spatialOk = facts.layout === 'nchw'
  switch (op) {
    case 'Conv': {
      const w = facts.constDims(node.inputs[1] ?? '')
      const group = num(node.attributes.group) ?? 1
      const kernel = ints(node.attributes.kernel_shape) ?? w?.slice(2) ?? null
      const is2d = kernel?.length === 2 && (w === null || w.length === 4)
      // Depthwise: one input channel per group (weight [C·k, 1, kh, kw] with group = C).
      const depthwise = group > 1 && w !== null && w[1] === 1
      const hasFilters = is2d && w !== null && (group === 1 || depthwise)
      return row(depthwise ? 'depthwise' : 'conv', is2d && spatialOk ? windowOp(node, kernel as Size2) : UNKNOWN, 'linear', hasFilters)
    }
    case 'ConvTranspose':
      return row('conv', UNKNOWN, 'linear')
    case 'MaxPool':
    case 'AveragePool':
    case 'LpPool': {
      const kernel = ints(node.attributes.kernel_shape)
      return row('pool', kernel?.length === 2 && spatialOk ? windowOp(node, kernel as Size2) : UNKNOWN)
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
    case 'GlobalLpPool':
      return row('global-pool', spatialOk ? { op: 'global' } : UNKNOWN)
    case 'Gemm':
    case 'MatMul':
      // A Linear on the last axis: per position on an NHWC map, on a vector after flatten.
      return row('dense', facts.layout === 'nchw' ? UNKNOWN : PASS, 'linear')
    case 'Clip':
      return row('activation', PASS, clipActivation(node, facts))
    case 'Concat': {
      const axes = axesOf(facts.layout)
      const axis = normAxes([num(node.attributes.axis) ?? 1])[0]
      return row('merge', axes === null || axis === axes.channel ? { op: 'merge' } : UNKNOWN)
    }
    case 'Pad': {
      const pads = ints(node.attributes.pads) ?? (node.inputs[1] ? facts.constValues(node.inputs[1]) : null)
      if (!pads || pads.length !== 8 || !spatialOk) return row('other', UNKNOWN)
      // [n, c, h, w begin, n, c, h, w end]: only the leading pad moves the field's start.
      return row('other', { op: 'pad', before: [pads[2]!, pads[3]!] })
    }
    case 'Transpose': {
      const perm = ints(node.attributes.perm)?.join(',')
      // NCHW ↔ NHWC keeps every position's field: the presented [h, w, c] is the same.
      return row('reshape', perm === '0,2,3,1' || perm === '0,3,1,2' ? PASS : UNKNOWN)
    }
    case 'Resize':
    case 'Upsample': {
      const mode = str(node.attributes.mode) ?? 'nearest'
      return row('other', spatialOk ? resizeGeometry(mode === 'nearest' ? 'nearest' : 'bilinear') : UNKNOWN)
    }
  }
  if (ACTIVATIONS[op]) return row('activation', PASS, ACTIVATIONS[op]!)
  if (SOFTMAX[op]) return row('activation', PASS, SOFTMAX[op]!)
  if (NORMS.has(op)) return row('norm', PASS)
  if (ELEMENTWISE.has(op)) return facts.dataInputs > 1 ? row('merge', { op: 'merge' }) : row('other', PASS)
  if (UNARY.has(op)) return row('other', PASS)
  if (RESHAPES.has(op)) return row('reshape', reshapeGeometry)
  if (REDUCES.has(op)) {
    const axes = axesOf(facts.layout)
    const given = ints(node.attributes.axes) ?? (node.inputs[1] ? facts.constValues(node.inputs[1]) : null)
    if (!axes) return row('other', UNKNOWN)
    const reduced = normAxes(given)
    const spatial = axes.spatial.filter((a) => reduced.includes(a)).length
    if (spatial === 2) return row('global-pool', { op: 'global' })
    return row('other', spatial === 0 ? PASS : UNKNOWN)
  }
  return row('other', UNKNOWN)
}

/** The layout of a node's output from its first data input's layout. */
export function outputLayout(node: GraphNode, inputLayout: Layout, outputRank: number | null): Layout {
  if (node.opType === 'Transpose') {
    const perm = ints(node.attributes.perm)?.join(',')
    if (inputLayout === 'nchw' && perm === '0,2,3,1') return 'nhwc'
    if (inputLayout === 'nhwc' && perm === '0,3,1,2') return 'nchw'
    return 'other'
  }
  if (RESHAPES.has(node.opType)) return 'other'
  if (outputRank !== null && outputRank !== 4) return 'other'
  return inputLayout
}
