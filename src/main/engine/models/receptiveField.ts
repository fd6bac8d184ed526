/**
 * Receptive fields, computed layer by layer along the graph (Araujo, Norris & Sim, "Computing receptive
 * fields of convolutional neural networks", Distill 2019).
 *
 * Per axis a field is {size, jump, start}: unit i of a layer sees input pixels
 * `start + i*jump ± (size-1)/2` (pixel centres at integers 0..W-1; the field may reach outside the image,
 * where the network saw padding). Pure functions, no tfjs.
 *
 * Conventions decided here:
 * - Elementwise layers (activations, normalization, dropout, dense on a vector, bias) pass the field on.
 * - Merges (add, multiply, concatenate, ...) of equal fields pass it on; of different fields they give the
 *   smallest field of this form that encloses every branch at every unit, with `exact: false`.
 * - Global pooling, flatten and reshape-to-vector give ONE field: the union of the fields of all positions
 *   of the incoming map (usually the whole image and some padding), centred on that union, with jump 0
 *   (there is only one position, so "unit i" is always the same field). Dense layers after it pass it on.
 * - Nearest / bilinear upsampling is not an affine map of unit indices; we give the enclosing field with
 *   `exact: false`.
 * - Ops we cannot model (transposed conv, permutes, unknown custom layers) give `null`, and so does
 *   every layer downstream of them.
 */
import type { ReceptiveField } from '../../../shared/api'

export type Size2 = [number, number]

/** How a window op pads: TF 'same' / 'valid', or explicit pixels per axis [h, w] (graph 'EXPLICIT'). */
export type Padding = 'same' | 'valid' | { before: Size2; after: Size2 }

/** What a layer does to spatial geometry, as far as receptive fields care. */
export type SpatialOp =
  | { op: 'pass' }
  | { op: 'window'; kernel: Size2; stride: Size2; dilation: Size2; padding: Padding }
  | { op: 'pad'; before: Size2 }
  | { op: 'crop'; before: Size2 }
  | { op: 'upsample'; factor: Size2; interpolation: 'nearest' | 'bilinear' }
  | { op: 'merge' }
  | { op: 'global' }
  | { op: 'unknown' }

interface AxisField {
  size: number
  jump: number
  start: number
}

/** The field of the input layer: each unit is one pixel. */
export function inputField(): ReceptiveField {
  return { size: [1, 1], jump: [1, 1], start: [0, 0], exact: true }
}

/** Kernel extent with dilation: taps span (k-1)*d+1 pixels. */
export function effectiveKernel(kernel: number, dilation: number): number {
  return (kernel - 1) * dilation + 1
}

/**
 * TF's 'SAME' padding (tensorflow/core/framework/kernel_shape_util.cc, GetWindowedOutputSizeVerbose):
 * out = ceil(in/stride), pad_total = max((out-1)*stride + k_eff - in, 0), pad_before = floor(pad_total/2);
 * the odd pixel goes after (bottom/right). It depends on the input size of that layer.
 */
export function samePadding(inSize: number, kernel: number, stride: number, dilation = 1): { before: number; after: number; out: number } {
  const out = Math.ceil(inSize / stride)
  const total = Math.max((out - 1) * stride + effectiveKernel(kernel, dilation) - inSize, 0)
  const before = Math.floor(total / 2)
  return { before, after: total - before, out }
}

function axisOf(rf: ReceptiveField, a: 0 | 1): AxisField {
  return { size: rf.size[a], jump: rf.jump[a], start: rf.start[a] }
}

function fromAxes(h: AxisField, w: AxisField, exact: boolean): ReceptiveField {
  return { size: [h.size, w.size], jump: [h.jump, w.jump], start: [h.start, w.start], exact }
}

/** One conv / pool along one axis: r' = r + (k_eff-1)*j, j' = j*s, start' = start + ((k_eff-1)/2 - pad_before)*j. */
function windowAxis(f: AxisField, kernel: number, stride: number, dilation: number, padBefore: number): AxisField {
  const k = effectiveKernel(kernel, dilation)
  return { size: f.size + (k - 1) * f.jump, jump: f.jump * stride, start: f.start + ((k - 1) / 2 - padBefore) * f.jump }
}

/** Smallest {size, jump, start} that encloses every branch's field at every one of `n` units. */
function encloseAxis(fields: AxisField[], n: number): AxisField {
  const lo = (f: AxisField, i: number) => f.start + i * f.jump - (f.size - 1) / 2
  const hi = (f: AxisField, i: number) => f.start + i * f.jump + (f.size - 1) / 2
  const last = Math.max(n - 1, 0)
  const jump = Math.max(...fields.map((f) => f.jump))
  const lo0 = Math.min(...fields.map((f) => lo(f, 0)))
  const hi0 = Math.max(...fields.map((f) => hi(f, 0)))
  const start = (lo0 + hi0) / 2
  // Branch bounds are linear in the unit index, so the widest need is at the first or last unit.
  let half = 0
  for (const i of [0, last]) {
    const centre = start + i * jump
    for (const f of fields) half = Math.max(half, centre - lo(f, i), hi(f, i) - centre)
  }
  return { size: 2 * half + 1, jump, start }
}

function sameFields(a: ReceptiveField, b: ReceptiveField): boolean {
  return [0, 1].every((i) => a.size[i] === b.size[i] && a.jump[i] === b.jump[i] && a.start[i] === b.start[i])
}

/**
 * The field of a layer from the fields of its inputs.
 * `inSize` is the [height, width] of the (first) input map, `outSize` that of the output; null when not spatial.
 */
export function propagateField(op: SpatialOp, inputs: (ReceptiveField | null)[], inSize: Size2 | null, outSize: Size2 | null): ReceptiveField | null {
  if (inputs.length === 0 || inputs.some((f) => f === null)) return null
  const fields = inputs as ReceptiveField[]
  const rf = fields[0]!
  const isGlobal = rf.jump[0] === 0 && rf.jump[1] === 0
  switch (op.op) {
    case 'pass':
      return { ...rf, size: [...rf.size], jump: [...rf.jump], start: [...rf.start] }
    case 'window': {
      if (isGlobal || !inSize) return null
      const axes = ([0, 1] as const).map((a) => {
        const before =
          op.padding === 'valid' ? 0 : op.padding === 'same' ? samePadding(inSize[a], op.kernel[a], op.stride[a], op.dilation[a]).before : op.padding.before[a]
        return windowAxis(axisOf(rf, a), op.kernel[a], op.stride[a], op.dilation[a], before)
      })
      return fromAxes(axes[0]!, axes[1]!, rf.exact)
    }
    case 'pad':
      // Output unit i is input unit i - before.
      if (isGlobal) return null
      return { ...rf, start: [rf.start[0] - op.before[0] * rf.jump[0], rf.start[1] - op.before[1] * rf.jump[1]] }
    case 'crop':
      if (isGlobal) return null
      return { ...rf, start: [rf.start[0] + op.before[0] * rf.jump[0], rf.start[1] + op.before[1] * rf.jump[1]] }
    case 'upsample': {
      if (isGlobal) return null
      const axes = ([0, 1] as const).map((a) => {
        const u = op.factor[a]
        const f = axisOf(rf, a)
        if (u === 1) return f
        // Output unit i reads input unit floor(i/u) (nearest) or its neighbours (bilinear); enclose that linearly.
        const wobble = ((u - 1) * f.jump) / u
        const extra = op.interpolation === 'bilinear' ? 2 * f.jump : 0
        return { size: f.size + wobble + extra, jump: f.jump / u, start: f.start - wobble / 2 }
      })
      const changed = op.factor[0] !== 1 || op.factor[1] !== 1
      return fromAxes(axes[0]!, axes[1]!, rf.exact && !changed)
    }
    case 'merge': {
      if (fields.every((f) => sameFields(f, rf))) return { ...rf, exact: fields.every((f) => f.exact) }
      const n: Size2 = outSize ?? [1, 1]
      const axes = ([0, 1] as const).map((a) => encloseAxis(fields.map((f) => axisOf(f, a)), n[a]))
      return fromAxes(axes[0]!, axes[1]!, false)
    }
    case 'global': {
      if (isGlobal) return { ...rf }
      if (!inSize) return null
      // Union of the fields of all positions: from the first unit's low edge to the last unit's high edge.
      const axes = ([0, 1] as const).map((a) => {
        const f = axisOf(rf, a)
        const lo = f.start - (f.size - 1) / 2
        const hi = f.start + (inSize[a] - 1) * f.jump + (f.size - 1) / 2
        return { size: hi - lo + 1, jump: 0, start: (lo + hi) / 2 }
      })
      return fromAxes(axes[0]!, axes[1]!, rf.exact)
    }
    case 'unknown':
      return null
  }
}

/** Inclusive pixel bounds of the field of unit (y, x); clipped to an image of `imageSize` [h, w] when given (null if nothing is left). */
export function fieldBox(
  rf: ReceptiveField,
  y: number,
  x: number,
  imageSize?: Size2,
): { top: number; bottom: number; left: number; right: number } | null {
  const half0 = (rf.size[0] - 1) / 2
  const half1 = (rf.size[1] - 1) / 2
  const cy = rf.start[0] + y * rf.jump[0]
  const cx = rf.start[1] + x * rf.jump[1]
  let box = { top: cy - half0, bottom: cy + half0, left: cx - half1, right: cx + half1 }
  if (imageSize) {
    // Fields of enclosing (inexact) fields may have fractional edges: round outward to whole pixels.
    box = {
      top: Math.max(0, Math.floor(box.top)),
      bottom: Math.min(imageSize[0] - 1, Math.ceil(box.bottom)),
      left: Math.max(0, Math.floor(box.left)),
      right: Math.min(imageSize[1] - 1, Math.ceil(box.right)),
    }
    if (box.top > box.bottom || box.left > box.right) return null
  }
  return box
}
