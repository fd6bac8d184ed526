/**
 * Shape and data-movement ops: Flatten, Reshape, Concat, Transpose, Pad, Shape, Size, Gather, Unsqueeze,
 * Squeeze, Slice, Split, Range, Tile, Expand, Cast, Constant, ConstantOfShape, Identity, Dropout — including the
 * Shape → Gather → Unsqueeze → Concat → Reshape chains exporters write for a flatten. Shape-like inputs
 * (shape, pads, axes, starts, ...) are read synchronously; data inputs only meet differentiable tfjs ops.
 */
import * as tf from '@tensorflow/tfjs'
import { DATA_TYPES } from '../../models/onnx/reader'
import { attributeTensor, floatAttr, input, int32Values, intAttr, normalizeAxis, numbersAttr, readInts, readScalar, stringAttr, tensorAttr, tfDtype } from './attributes'
import { UnsupportedOpError, type OpKernel, type OpNode } from './types'

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1)

/** An integer list from the attribute (older opsets) or the input (newer): `sinceOpset` is where it became an input. */
function intsFrom(inputs: readonly (tf.Tensor | null)[], index: number, node: OpNode, name: string, sinceOpset: number): number[] | undefined {
  return node.opset >= sinceOpset ? readInts(inputs[index]) : numbersAttr(node, name)
}

export const identity: OpKernel = (inputs) => [tf.clone(input(inputs, 0, 'input'))]

/**
 * Inference: the input unchanged, and the mask if the node asks for it: ones since opset 12; before, zeros as
 * onnxruntime writes them (its identity kernel of Dropout-7 / 10), bool since opset 10, the data's type before.
 */
export const dropout: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'data')
  if (node.outputCount < 2) return [tf.clone(x)]
  const dtype = node.opset >= 10 ? 'bool' : x.dtype
  return [tf.clone(x), node.opset >= 12 ? tf.ones(x.shape, dtype) : tf.zeros(x.shape, dtype)]
}

export const flatten: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'input')
  const axis = intAttr(node, 'axis', 1)
  const a = axis < 0 ? axis + x.rank : axis
  if (a < 0 || a > x.rank) throw new UnsupportedOpError(`axis ${axis} for a tensor of rank ${x.rank}`)
  return [tf.reshape(x, [product(x.shape.slice(0, a)), product(x.shape.slice(a))])]
}

/** Reshape: 0 copies the input's dimension (unless allowzero), −1 is inferred. */
export const reshape: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'data')
  const shape = intsFrom(inputs, 1, node, 'shape', 5)
  if (shape == null) throw new UnsupportedOpError('Reshape without a shape')
  const allowZero = intAttr(node, 'allowzero', 0) === 1
  const dims = shape.map((d, i) => (d === 0 && !allowZero ? x.shape[i]! : d))
  return [tf.reshape(x, dims)]
}

export const concat: OpKernel = (inputs, node) => {
  const present = inputs.filter((t): t is tf.Tensor => t != null)
  if (present.length === 0) throw new UnsupportedOpError('Concat without inputs')
  const axis = normalizeAxis(intAttr(node, 'axis', 0), present[0]!.rank)
  const nonEmpty = present.filter((t) => t.size > 0)
  if (nonEmpty.length === 1) return [tf.clone(nonEmpty[0]!)]
  return [tf.concat(nonEmpty.length > 0 ? nonEmpty : present, axis)]
}

export const transpose: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'data')
  return [tf.transpose(x, numbersAttr(node, 'perm') ?? x.shape.map((_, i) => x.rank - 1 - i))]
}

/** Pads of every axis ([begin, end]) from ONNX's [x1_begin, x2_begin, ..., x1_end, x2_end, ...] over `axes`. */
function padPairs(rank: number, pads: readonly number[], axes: readonly number[]): [number, number][] {
  if (pads.length !== 2 * axes.length) throw new UnsupportedOpError(`pads [${pads.join(', ')}] for ${axes.length} axes`)
  const pairs = Array.from({ length: rank }, (): [number, number] => [0, 0])
  axes.forEach((axis, i) => (pairs[normalizeAxis(axis, rank)] = [pads[i]!, pads[i + axes.length]!]))
  return pairs
}

/**
 * Reflect or edge padding, one axis at a time, as a concat of slices (reversed for reflect, tiled for edge):
 * differentiable, where tfjs's mirrorPad gradient drops the reflected part.
 */
function sidePad(x: tf.Tensor, pairs: readonly [number, number][], mode: 'reflect' | 'edge'): tf.Tensor {
  let y = x
  pairs.forEach(([before, after], axis) => {
    if (before === 0 && after === 0) return
    const dim = y.shape[axis]!
    if (mode === 'reflect' ? Math.max(before, after) >= dim : dim === 0) throw new UnsupportedOpError(`${mode} padding of ${Math.max(before, after)} on an axis of ${dim}`)
    const part = (start: number, count: number): tf.Tensor => tf.slice(y, y.shape.map((_, i) => (i === axis ? start : 0)), y.shape.map((d, i) => (i === axis ? count : d)))
    const side = (start: number, count: number): tf.Tensor =>
      mode === 'reflect' ? tf.reverse(part(start, count), axis) : tf.tile(part(start, 1), y.shape.map((_, i) => (i === axis ? count : 1)))
    const parts = [...(before > 0 ? [side(mode === 'reflect' ? 1 : 0, before)] : []), y, ...(after > 0 ? [side(mode === 'reflect' ? dim - 1 - after : dim - 1, after)] : [])]
    y = tf.concat(parts, axis)
  })
  return y
}

/** Pad: constant / reflect / edge; attribute form before opset 11, inputs (pads, constant_value, axes ≥ 18) since. Negative pads crop. */
export const pad: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'data')
  const mode = stringAttr(node, 'mode', 'constant')
  const pads = node.opset >= 11 ? readInts(inputs[1]) : (numbersAttr(node, 'pads') ?? numbersAttr(node, 'paddings'))
  if (pads == null) throw new UnsupportedOpError('Pad without pads')
  const value = node.opset >= 11 ? (readScalar(inputs[2]) ?? 0) : floatAttr(node, 'value', 0)
  const axes = (node.opset >= 18 ? readInts(inputs[3]) : undefined) ?? x.shape.map((_, i) => i)
  const pairs = padPairs(x.rank, pads, axes)
  const grow = pairs.map(([b, e]): [number, number] => [Math.max(0, b), Math.max(0, e)])
  let y: tf.Tensor
  if (mode === 'constant') y = tf.pad(x, grow, value)
  else if (mode === 'reflect' || mode === 'edge') y = sidePad(x, grow, mode)
  else throw new UnsupportedOpError(`mode "${mode}"`)
  if (pairs.every(([b, e]) => b >= 0 && e >= 0)) return [y]
  const begin = pairs.map(([b]) => Math.max(0, -b))
  return [tf.slice(y, begin, y.shape.map((d, i) => d - begin[i]! - Math.max(0, -pairs[i]![1])))]
}

/** `index` clamped to [0, size] after negative indices count from the end (Shape's start / end). */
function clampIndex(index: number, size: number): number {
  return Math.min(size, Math.max(0, index < 0 ? index + size : index))
}

export const shape: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'data')
  const start = clampIndex(intAttr(node, 'start', 0), x.rank)
  const end = clampIndex(intAttr(node, 'end', x.rank), x.rank)
  return [tf.tensor1d(x.shape.slice(start, Math.max(start, end)), 'int32')]
}

export const size: OpKernel = (inputs) => [tf.scalar(input(inputs, 0, 'data').size, 'int32')]

/** Gather along one axis; negative indices count from the end. */
export const gather: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'data')
  const indices = input(inputs, 1, 'indices')
  const axis = normalizeAxis(intAttr(node, 'axis', 0), x.rank)
  const n = x.shape[axis]!
  const idx = readInts(indices)!.map((i) => {
    if (i < -n || i >= n) throw new UnsupportedOpError(`index ${i} out of range for an axis of ${n}`)
    return i < 0 ? i + n : i
  })
  const flat = tf.gather(x, tf.tensor1d(idx, 'int32'), axis)
  return [tf.reshape(flat, [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)])]
}

export const unsqueeze: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'data')
  const axes = intsFrom(inputs, 1, node, 'axes', 13)
  if (axes == null) throw new UnsupportedOpError('Unsqueeze without axes')
  const rank = x.rank + axes.length
  const inserted = new Set(axes.map((a) => normalizeAxis(a, rank)))
  const dims: number[] = []
  let next = 0
  for (let i = 0; i < rank; i++) dims.push(inserted.has(i) ? 1 : x.shape[next++]!)
  return [tf.reshape(x, dims)]
}

export const squeeze: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'data')
  const axes = intsFrom(inputs, 1, node, 'axes', 13)
  const drop = new Set(axes != null ? axes.map((a) => normalizeAxis(a, x.rank)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : [])))
  for (const a of drop) if (x.shape[a] !== 1) throw new UnsupportedOpError(`squeezing axis ${a} of size ${x.shape[a]}`)
  return [tf.reshape(x, x.shape.filter((_, i) => !drop.has(i)))]
}

/**
 * Slice: starts / ends / axes as attributes before opset 10, inputs (with steps) since. Bounds are clamped as
 * ONNX says (to [0, dim] for positive steps, [−1, dim − 1] for negative ones). Step 1 is a tf.slice; other
 * steps gather the picked indices (differentiable, unlike tfjs's stridedSlice).
 */
export const slice: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'data')
  const starts = intsFrom(inputs, 1, node, 'starts', 10)
  const ends = intsFrom(inputs, 2, node, 'ends', 10)
  if (starts == null || ends == null || starts.length !== ends.length) throw new UnsupportedOpError('Slice without matching starts and ends')
  const axes = (node.opset >= 10 ? readInts(inputs[3]) : numbersAttr(node, 'axes')) ?? starts.map((_, i) => i)
  const steps = (node.opset >= 10 ? readInts(inputs[4]) : undefined) ?? starts.map(() => 1)
  const begin = x.shape.map(() => 0)
  const sizes = [...x.shape]
  const picks: { axis: number; indices: number[] }[] = []
  axes.forEach((rawAxis, i) => {
    const axis = normalizeAxis(rawAxis, x.rank)
    const dim = x.shape[axis]!
    const step = steps[i]!
    if (step === 0) throw new UnsupportedOpError('Slice step 0')
    const rel = (v: number): number => (v < 0 ? v + dim : v)
    const [lo, hi] = step > 0 ? [0, dim] : [-1, dim - 1]
    const first = Math.min(hi, Math.max(lo, rel(starts[i]!)))
    const end = Math.min(hi, Math.max(lo, rel(ends[i]!)))
    const count = Math.max(0, Math.ceil((end - first) / step))
    if (step === 1) {
      begin[axis] = first
      sizes[axis] = count
    } else picks.push({ axis, indices: Array.from({ length: count }, (_, j) => first + j * step) })
  })
  return [picks.reduce((y, { axis, indices }) => tf.gather(y, tf.tensor1d(indices, 'int32'), axis), tf.slice(x, begin, sizes))]
}

/** Split: sizes from the attribute (< 13) or input (≥ 13), else num_outputs (≥ 18) or the node's output count, equal parts (the last smaller). */
export const split: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'input')
  const axis = normalizeAxis(intAttr(node, 'axis', 0), x.rank)
  const dim = x.shape[axis]!
  let sizes = intsFrom(inputs, 1, node, 'split', 13)
  if (sizes == null || sizes.length === 0) {
    const parts = intAttr(node, 'num_outputs', node.outputCount)
    const each = Math.ceil(dim / parts)
    sizes = Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(each, dim - i * each)))
  }
  return tf.split(x, sizes, axis)
}

/** Range: start, start + delta, … below limit (above it for a negative delta), in the inputs' type. */
export const range: OpKernel = (inputs) => {
  const [start, limit, delta] = [0, 1, 2].map((i) => input(inputs, i, 'start, limit, delta'))
  const [s, l, d] = [start!, limit!, delta!].map(readScalar) as [number, number, number]
  if (d === 0) throw new UnsupportedOpError('Range delta 0')
  const count = Math.max(0, Math.ceil((l - s) / d))
  return [tf.tensor1d(Array.from({ length: count }, (_, i) => s + i * d), start!.dtype === 'int32' ? 'int32' : 'float32')]
}

export const tile: OpKernel = (inputs) => [tf.tile(input(inputs, 0, 'input'), readInts(input(inputs, 1, 'repeats'))!)]

/** The numpy broadcast of two shapes. */
function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length)
  return Array.from({ length: rank }, (_, i) => {
    const x = a[i - rank + a.length] ?? 1
    const y = b[i - rank + b.length] ?? 1
    if (x !== y && x !== 1 && y !== 1) throw new UnsupportedOpError(`Expand of [${a.join(', ')}] to [${b.join(', ')}]`)
    return x === 1 ? y : x
  })
}

/** Expand: bidirectional broadcast to `shape` (an add of zeros: tfjs's broadcastTo has no wasm kernel). */
export const expand: OpKernel = (inputs) => {
  const x = input(inputs, 0, 'input')
  const target = broadcastShape(x.shape, readInts(input(inputs, 1, 'shape'))!)
  if (target.length === x.rank && target.every((d, i) => d === x.shape[i])) return [tf.clone(x)]
  if (x.dtype === 'bool') return [tf.cast(tf.add(tf.cast(x, 'int32'), tf.zeros(target, 'int32')), 'bool')]
  return [tf.add(x, tf.zeros(target, x.dtype))]
}

export const cast: OpKernel = (inputs, node) => {
  const to = DATA_TYPES[intAttr(node, 'to', 1)] ?? `type ${intAttr(node, 'to', 1)}`
  const x = input(inputs, 0, 'input')
  const dtype = tfDtype(to)
  if (dtype === x.dtype) return [tf.clone(x)]
  // wasm's Cast to bool wraps the value to a byte (0.5 → false, −2 → 254): compare with zero instead
  return [dtype === 'bool' ? tf.notEqual(x, tf.scalar(0, x.dtype)) : tf.cast(x, dtype)]
}

/** Constant: value (a tensor), value_float(s), value_int(s). */
export const constant: OpKernel = (_inputs, node) => {
  const t = tensorAttr(node, 'value')
  if (t != null) return [attributeTensor(t)]
  const a = node.attributes
  if (typeof a.value_float === 'number') return [tf.scalar(a.value_float, 'float32')]
  if (typeof a.value_int === 'number') return [tf.tensor(int32Values([a.value_int]), [], 'int32')]
  const fs = numbersAttr(node, 'value_floats')
  if (fs != null) return [tf.tensor1d(fs, 'float32')]
  const is = numbersAttr(node, 'value_ints')
  if (is != null) return [tf.tensor1d(int32Values(is), 'int32')]
  throw new UnsupportedOpError(`Constant with attributes ${Object.keys(a).join(', ') || '(none)'}`)
}

/** ConstantOfShape: `value` (one element, default float 0) filled into the shape input. */
export const constantOfShape: OpKernel = (inputs, node) => {
  const dims = readInts(input(inputs, 0, 'input'))!
  const t = tensorAttr(node, 'value')
  if (t == null) return [tf.zeros(dims, 'float32')]
  if (t.values.length !== 1) throw new UnsupportedOpError('ConstantOfShape value of more than one element')
  return [tf.fill(dims, Number(t.values[0]), tfDtype(t.dtype))]
}
