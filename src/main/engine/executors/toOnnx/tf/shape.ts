/**
 * TensorFlow shape and data-movement ops (graph/ops/tf/shape.ts) as ONNX. Their shape-like inputs (axes, pads,
 * permutations, begin / size) must be constants, except a Reshape's shape, which may be computed (the
 * converter's Shape → StridedSlice → Pack flatten of a dynamic batch). Integer tensors are int64 in the written
 * graph (TF's int32 shape tensors included), the type ONNX's shape inputs take.
 */
import { intAttr, numbersAttr, stringAttr } from '../../../graph/ops/attributes'
import type { GraphNode } from '../../../graph/modelGraph'
import { UnsupportedOpError } from '../../../graph/ops/types'
import { int, ints, str } from '../builder'
import { always, type CheckContext, constValues, opNode, type Translator, type TranslatorFamily, withParams, type WriteContext } from '../translator'

/** "To the end" of a Slice. */
const END = 2 ** 62

const x0 = (node: GraphNode, ctx: WriteContext) => ctx.input(node.inputs[0]!)

function constant(node: GraphNode, ctx: CheckContext, i: number, what: string): number[] {
  const v = constValues(ctx, node.inputs[i])
  if (!v) throw new UnsupportedOpError(`${what} that is not a constant`)
  return v
}

/** [[before, after], ...] paddings (input 1) as ONNX's [befores..., afters...]. */
function pads(node: GraphNode, ctx: CheckContext): number[] {
  const p = constant(node, ctx, 1, 'paddings')
  const pairs = Array.from({ length: p.length / 2 }, (_, i) => [p[2 * i]!, p[2 * i + 1]!])
  return [...pairs.map((q) => q[0]!), ...pairs.map((q) => q[1]!)]
}

/** Pass-through ops: the writer names the input's value as the output (an Identity node). */
const passThrough: Translator = always((node, ctx) => node.inputs.map((i) => ctx.input(i)))

const TO_ONNX_TYPE: Readonly<Record<string, number>> = { DT_FLOAT: 1, DT_HALF: 1, DT_DOUBLE: 1, DT_INT32: 7, DT_INT64: 7, DT_INT16: 7, DT_INT8: 7, DT_UINT8: 7 }

/** StridedSlice with constant begin / end / strides (positive), begin / end / shrink masks; no ellipsis or new axes. */
const stridedSlice = withParams(
  (node, ctx) => {
    const op = opNode(node)
    const [begin, end, strides] = [1, 2, 3].map((i) => constant(node, ctx, i, `input ${i}`)) as [number[], number[], number[]]
    for (const m of ['ellipsis_mask', 'new_axis_mask']) if (intAttr(op, m, 0) !== 0) throw new UnsupportedOpError(`${m} ${intAttr(op, m, 0)}`)
    if (strides.some((s) => s <= 0)) throw new UnsupportedOpError(`strides [${strides.join(', ')}]`)
    const [bm, em, sm] = ['begin_mask', 'end_mask', 'shrink_axis_mask'].map((m) => intAttr(op, m, 0)) as [number, number, number]
    const bit = (mask: number, i: number) => (mask >> i) & 1
    const starts = begin.map((b, i) => (bit(bm, i) && !bit(sm, i) ? 0 : b))
    // A shrunk axis keeps the one element at begin (begin -1: the last).
    const ends = end.map((e, i) => (bit(sm, i) ? (begin[i] === -1 ? END : begin[i]! + 1) : bit(em, i) ? END : e))
    const shrink = begin.map((_, i) => i).filter((i) => bit(sm, i))
    return { starts, ends, strides, shrink }
  },
  (node, ctx, p) => {
    const b = ctx.b
    const axes = p.starts.map((_, i) => i)
    const y = b.op('Slice', [x0(node, ctx), b.int64s(p.starts), b.int64s(p.ends), b.int64s(axes), b.int64s(p.strides)])
    return [p.shrink.length ? b.op('Squeeze', [y, b.int64s(p.shrink)]) : y]
  },
)

export const TF_SHAPE: TranslatorFamily = {
  Identity: passThrough,
  IdentityN: passThrough,
  Snapshot: passThrough,
  StopGradient: passThrough,
  Reshape: withParams(
    (node, ctx) => {
      // TF's 0 is an empty axis, ONNX's a copied one.
      if (constValues(ctx, node.inputs[1])?.includes(0)) throw new UnsupportedOpError('a shape with a 0')
    },
    (node, ctx) => [ctx.b.op('Reshape', [x0(node, ctx), ctx.input(node.inputs[1]!)])],
  ),
  Squeeze: always((node, ctx) => {
    const o = opNode(node)
    const axes = numbersAttr(o, 'squeeze_dims') ?? numbersAttr(o, 'axis') ?? []
    return [ctx.b.op('Squeeze', [x0(node, ctx), ...(axes.length ? [ctx.b.int64s(axes)] : [])])]
  }),
  ExpandDims: withParams(
    (node, ctx) => constant(node, ctx, 1, 'an axis')[0] ?? 0,
    (node, ctx, axis) => [ctx.b.op('Unsqueeze', [x0(node, ctx), ctx.b.int64s([axis])])],
  ),
  ConcatV2: withParams(
    (node, ctx) => constant(node, ctx, node.inputs.length - 1, 'an axis')[0] ?? 0,
    (node, ctx, axis) => [ctx.b.op('Concat', node.inputs.slice(0, -1).map((i) => ctx.input(i)), { axis: int(axis) })],
  ),
  Pack: always((node, ctx) => {
    const axis = intAttr(opNode(node), 'axis', 0)
    const parts = node.inputs.map((i) => ctx.b.op('Unsqueeze', [ctx.input(i), ctx.b.int64s([axis])]))
    return [ctx.b.op('Concat', parts, { axis: int(axis) })]
  }),
  Transpose: withParams(
    (node, ctx) => constant(node, ctx, 1, 'a permutation'),
    (node, ctx, perm) => [ctx.b.op('Transpose', [x0(node, ctx)], { perm: ints(perm) })],
  ),
  Pad: withParams(pads, (node, ctx, p) => [ctx.b.op('Pad', [x0(node, ctx), ctx.b.int64s(p)])]),
  PadV2: withParams(
    (node, ctx) => ({ pads: pads(node, ctx), value: constant(node, ctx, 2, 'a value')[0] ?? 0 }),
    (node, ctx, p) => [ctx.b.op('Pad', [x0(node, ctx), ctx.b.int64s(p.pads), ctx.b.scalar(p.value)])],
  ),
  // REFLECT leaves the edge out, as ONNX's reflect; SYMMETRIC (edge repeated) has no ONNX mode.
  MirrorPad: withParams(
    (node, ctx) => {
      const mode = stringAttr(opNode(node), 'mode', 'REFLECT').toUpperCase()
      if (mode !== 'REFLECT') throw new UnsupportedOpError(`mode ${mode}`)
      return pads(node, ctx)
    },
    (node, ctx, p) => [ctx.b.op('Pad', [x0(node, ctx), ctx.b.int64s(p)], { mode: str('reflect') })],
  ),
  Shape: always((node, ctx) => [ctx.b.op('Shape', [x0(node, ctx)])]),
  StridedSlice: stridedSlice,
  Cast: withParams(
    (node) => {
      const to = stringAttr(opNode(node), 'DstT', 'DT_FLOAT')
      const t = TO_ONNX_TYPE[to]
      if (t === undefined) throw new UnsupportedOpError(`a cast to ${to}`)
      return t
    },
    (node, ctx, to) => [ctx.b.op('Cast', [x0(node, ctx)], { to: int(to) })],
  ),
  Slice: withParams(
    (node, ctx) => {
      const begin = constant(node, ctx, 1, 'begin')
      const size = constant(node, ctx, 2, 'size')
      return { begin, ends: size.map((s, i) => (s === -1 ? END : begin[i]! + s)) }
    },
    (node, ctx, p) => [ctx.b.op('Slice', [x0(node, ctx), ctx.b.int64s(p.begin), ctx.b.int64s(p.ends), ctx.b.int64s(p.begin.map((_, i) => i))])],
  ),
  // Split: the axis first, then the tensor, num_split equal parts.
  Split: withParams(
    (node, ctx) => ({ axis: constant(node, ctx, 0, 'an axis')[0] ?? 0, n: intAttr(opNode(node), 'num_split', 1) }),
    (node, ctx, p) => ctx.b.node('Split', [ctx.input(node.inputs[1]!)], { axis: int(p.axis) }, p.n),
  ),
  // SplitV as one Slice per part (a -1 part runs to where the parts after it begin, counted from the end).
  SplitV: withParams(
    (node, ctx) => {
      const sizes = constant(node, ctx, 1, 'sizes')
      if (sizes.filter((s) => s === -1).length > 1) throw new UnsupportedOpError(`sizes [${sizes.join(', ')}]`)
      return { sizes, axis: constant(node, ctx, 2, 'an axis')[0] ?? 0 }
    },
    (node, ctx, p) => {
      const b = ctx.b
      const free = p.sizes.indexOf(-1)
      const after = (i: number) => p.sizes.slice(i + 1).reduce((s, v) => s + v, 0)
      const before = (i: number) => p.sizes.slice(0, i).reduce((s, v) => s + v, 0)
      return p.sizes.map((s, i) => {
        // Parts from the free one on are placed from the end.
        const fromEnd = free >= 0 && i >= free
        const start = fromEnd && i > free ? -(after(i) + s) : before(i)
        const end = fromEnd ? (after(i) ? -after(i) : END) : before(i) + s
        return b.op('Slice', [x0(node, ctx), b.int64s([start]), b.int64s([end]), b.int64s([p.axis])])
      })
    },
  ),
  Unpack: withParams(
    (node) => ({ axis: intAttr(opNode(node), 'axis', 0), n: node.outputs.length }),
    (node, ctx, p) => ctx.b.node('Split', [x0(node, ctx)], { axis: int(p.axis) }, p.n).map((part) => ctx.b.op('Squeeze', [part, ctx.b.int64s([p.axis])])),
  ),
  Tile: always((node, ctx) => [ctx.b.op('Tile', [x0(node, ctx), ctx.input(node.inputs[1]!)])]),
  GatherV2: withParams(
    (node, ctx) => {
      if (intAttr(opNode(node), 'batch_dims', 0) !== 0) throw new UnsupportedOpError(`batch_dims ${intAttr(opNode(node), 'batch_dims', 0)}`)
      return constant(node, ctx, 2, 'an axis')[0] ?? 0
    },
    (node, ctx, axis) => [ctx.b.op('Gather', [x0(node, ctx), ctx.input(node.inputs[1]!)], { axis: int(axis) })],
  ),
  ZerosLike: fill(0),
  OnesLike: fill(1),
}

/** ZerosLike / OnesLike of a float tensor: ConstantOfShape of its shape. */
function fill(value: number): Translator {
  return withParams(
    (node) => {
      const t = stringAttr(opNode(node), 'T', 'DT_FLOAT')
      if (t !== 'DT_FLOAT') throw new UnsupportedOpError(`T ${t}`)
    },
    (node, ctx) => [ctx.b.op('ConstantOfShape', [ctx.b.op('Shape', [x0(node, ctx)])], { value: { t: { dtype: 'float32', dims: [1], values: [value] } } })],
  )
}
