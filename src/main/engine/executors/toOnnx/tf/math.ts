/**
 * TensorFlow arithmetic, activations, products, reductions and batch norm (graph/ops/tf/math.ts) as ONNX. ONNX's
 * elementwise ops broadcast as TensorFlow's do; constant operands become initializers.
 */
import * as tf from '@tensorflow/tfjs'
import { floatAttr, intAttr } from '../../../graph/ops/attributes'
import { checkNhwc } from '../../../graph/ops/tf/attributes'
import { fusedActivation } from '../../../graph/ops/tf/conv'
import type { GraphNode } from '../../../graph/modelGraph'
import { UnsupportedOpError } from '../../../graph/ops/types'
import { clip } from '../activations'
import { float, int, ints } from '../builder'
import { always, type CheckContext, constValues, opNode, type Translator, type TranslatorFamily, withParams, type WriteContext } from '../translator'
import { weightInitializer } from '../window'
import { fusedTail } from './conv'

const x0 = (node: GraphNode, ctx: WriteContext) => ctx.input(node.inputs[0]!)

const binary = (op: string): Translator => always((node, ctx) => [ctx.b.op(op, [x0(node, ctx), ctx.input(node.inputs[1]!)])])
const unary = (op: string, attrs = {}): Translator => always((node, ctx) => [ctx.b.op(op, [x0(node, ctx)], attrs)])

/** A constant input's values, required. */
function constant(node: GraphNode, ctx: CheckContext, i: number, what: string): number[] {
  const v = constValues(ctx, node.inputs[i])
  if (!v) throw new UnsupportedOpError(`${what} that is not a constant`)
  return v
}

/** The permutation that swaps the last two axes. */
const swapLast = (rank: number) => Array.from({ length: rank }, (_, k) => (k === rank - 2 ? rank - 1 : k === rank - 1 ? rank - 2 : k))

/** A product's operand, its last two axes swapped when asked: a constant once, a computed (2-D) one by a Transpose. */
function operand(node: GraphNode, ctx: WriteContext, i: number, transpose: boolean): string {
  const name = node.inputs[i]!
  if (!transpose) return ctx.input(name)
  const c = ctx.constant(name)
  if (c) return ctx.b.memoized(`T:${name}`, () => weightInitializer(ctx.b, name, c, (t) => tf.transpose(t, swapLast(t.rank))))
  return ctx.b.op('Transpose', [ctx.input(name)], { perm: ints([1, 0]) })
}

function matMul(fused: boolean, a: string, b: string): Translator {
  return withParams(
    (node, ctx) => {
      const op = opNode(node)
      const [ta, tb] = [intAttr(op, a, 0) === 1, intAttr(op, b, 0) === 1]
      // A batched product's transposes need the rank: known for constants only (MatMul is 2-D).
      if (node.opType.startsWith('BatchMatMul') && ((ta && !ctx.constant(node.inputs[0]!)) || (tb && !ctx.constant(node.inputs[1]!)))) {
        throw new UnsupportedOpError(`${a} / ${b} of a computed operand`)
      }
      return { ta, tb, activation: fused ? fusedActivation(op) : 'linear' }
    },
    (node, ctx, p) => {
      const y = ctx.b.op('MatMul', [operand(node, ctx, 0, p.ta), operand(node, ctx, 1, p.tb)])
      return [fused ? fusedTail(node, ctx, y, p.activation, true) : y]
    },
  )
}

/** TF reductions over a constant axes input (input 1), keep_dims as the attribute says; ReduceSum takes axes as an input in opset 13. */
function reduction(op: string): Translator {
  return withParams(
    (node, ctx) => {
      const axes = constant(node, ctx, 1, 'axes')
      // TF reduces nothing over no axes, ONNX everything.
      if (axes.length === 0) throw new UnsupportedOpError('an empty axes list')
      return { axes, keepdims: intAttr(opNode(node), 'keep_dims', 0) }
    },
    (node, ctx, p) => {
      const b = ctx.b
      if (op === 'ReduceSum') return [b.op(op, [x0(node, ctx), b.int64s(p.axes)], { keepdims: int(p.keepdims) })]
      return [b.op(op, [x0(node, ctx)], { axes: ints(p.axes), keepdims: int(p.keepdims) })]
    },
  )
}

/** FusedBatchNorm at inference: x, scale, offset, mean, variance (constants) folded into one Mul and Add. */
const fusedBatchNorm = withParams(
  (node, ctx) => {
    checkNhwc(opNode(node))
    const [scale, offset, mean, variance] = [1, 2, 3, 4].map((i) => constant(node, ctx, i, `input ${i}`)) as [number[], number[], number[], number[]]
    return { scale, offset, mean, variance, epsilon: floatAttr(opNode(node), 'epsilon', 0.001) }
  },
  (node, ctx, p) => {
    const b = ctx.b
    const s = Float32Array.from(p.mean, (_, i) => p.scale[i]! / Math.sqrt(p.variance[i]! + p.epsilon))
    const shift = Float32Array.from(p.mean, (m, i) => p.offset[i]! - m * s[i]!)
    const y = b.op('Mul', [x0(node, ctx), b.floats(`${node.name}/scale`, s, [s.length])])
    return [b.op('Add', [y, b.floats(`${node.name}/shift`, shift, [shift.length])])]
  },
)

export const TF_MATH: TranslatorFamily = {
  MatMul: matMul(false, 'transpose_a', 'transpose_b'),
  BatchMatMul: matMul(false, 'adj_x', 'adj_y'),
  BatchMatMulV2: matMul(false, 'adj_x', 'adj_y'),
  _FusedMatMul: matMul(true, 'transpose_a', 'transpose_b'),
  BiasAdd: withParams(
    (node) => checkNhwc(opNode(node)),
    (node, ctx) => [ctx.b.op('Add', [x0(node, ctx), ctx.input(node.inputs[1]!)])],
  ),
  FusedBatchNorm: fusedBatchNorm,
  FusedBatchNormV2: fusedBatchNorm,
  FusedBatchNormV3: fusedBatchNorm,
  Add: binary('Add'),
  AddV2: binary('Add'),
  AddN: always((node, ctx) => [ctx.b.op('Sum', node.inputs.map((i) => ctx.input(i)))]),
  Sub: binary('Sub'),
  Mul: binary('Mul'),
  RealDiv: binary('Div'),
  Div: binary('Div'),
  Maximum: binary('Max'),
  Minimum: binary('Min'),
  Pow: binary('Pow'),
  SquaredDifference: always((node, ctx) => {
    const d = ctx.b.op('Sub', [x0(node, ctx), ctx.input(node.inputs[1]!)])
    return [ctx.b.op('Mul', [d, d])]
  }),
  Sqrt: unary('Sqrt'),
  Rsqrt: always((node, ctx) => [ctx.b.op('Reciprocal', [ctx.b.op('Sqrt', [x0(node, ctx)])])]),
  Square: always((node, ctx) => [ctx.b.op('Mul', [x0(node, ctx), x0(node, ctx)])]),
  Neg: unary('Neg'),
  Exp: unary('Exp'),
  Log: unary('Log'),
  Abs: unary('Abs'),
  Relu: unary('Relu'),
  Relu6: always((node, ctx) => [clip(ctx.b, x0(node, ctx), 0, 6)]),
  ClipByValue: withParams(
    (node, ctx) => [constant(node, ctx, 1, 'a lower bound')[0]!, constant(node, ctx, 2, 'an upper bound')[0]!],
    (node, ctx, [lo, hi]) => [clip(ctx.b, x0(node, ctx), lo, hi)],
  ),
  LeakyRelu: always((node, ctx) => [ctx.b.op('LeakyRelu', [x0(node, ctx)], { alpha: float(floatAttr(opNode(node), 'alpha', 0.2)) })]),
  Prelu: binary('PRelu'),
  Elu: unary('Elu'),
  Selu: unary('Selu'),
  Sigmoid: unary('Sigmoid'),
  Tanh: unary('Tanh'),
  Softplus: unary('Softplus'),
  Softmax: unary('Softmax', { axis: int(-1) }),
  LogSoftmax: unary('LogSoftmax', { axis: int(-1) }),
  Mean: reduction('ReduceMean'),
  Max: reduction('ReduceMax'),
  Min: reduction('ReduceMin'),
  Sum: reduction('ReduceSum'),
  Prod: reduction('ReduceProd'),
}
