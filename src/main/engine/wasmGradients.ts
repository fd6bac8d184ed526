/**
 * Gradients on the wasm backend (tfjs-backend-wasm 4.22): the kernels it lacks, the ones it gets wrong or
 * runs needlessly slowly, built from kernels it has.
 *
 * Missing (found by asking the kernel registry and by running the gradients; see the tests):
 *   Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter, DepthwiseConv2dNativeBackpropInput, and
 *   UnsortedSegmentSum (the gradient of gather, e.g. of picking one class score).
 * Replaced:
 *   MaxPoolGrad (wrong where a window's maximum is negative), Conv2DBackpropInput (a scalar loop, ~7x
 *   slower than the same work as an XNNPACK Conv2D), Tile (~30x slower than a broadcast for the
 *   per-channel tiles of the batch-norm gradient).
 * Fixed separately (fixWasmSamePadding): forward convolutions with 'same' padding where a filter is
 *   shorter than its stride, which XNNPACK's TF-SAME mode gets wrong.
 * The rest that the gradients of conv, depthwise and fused conv, batch norm, pooling and the ReLU family
 * use is present and right (checked against cpu in test/unit/wasmGradients.test.ts).
 *
 * Each kernel composes the wasm backend's own kernel functions on TensorInfos, never tf ops: a kernel runs
 * inside the engine, where ops would be tracked by the current scope and tape. Intermediates are freed
 * with backend.disposeData, on error too. The cpu backend is never used (~40x slower).
 *
 * Layout is NHWC. Strides, dilations, 'same' (TF's asymmetric padding), 'valid' and explicit padding all
 * follow backend_util.computeConv2DInfo, the geometry the forward kernels use.
 */
import * as tf from '@tensorflow/tfjs'
import type {
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  DepthwiseConv2dNativeBackpropFilterAttrs,
  DepthwiseConv2dNativeBackpropInputAttrs,
  KernelBackend,
  KernelFunc,
  MaxPoolGradAttrs,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
  TileAttrs,
  UnsortedSegmentSumAttrs,
} from '@tensorflow/tfjs'

const BACKEND = 'wasm'

type Conv2DInfo = tf.backend_util.Conv2DInfo
type Pair = [number, number]

// ---------------------------------------------------------------------------------------------------
// Running wasm kernels on TensorInfos
// ---------------------------------------------------------------------------------------------------

/** Runs wasm kernels and remembers every output, so that all but the result can be freed at the end. */
class Scratch {
  private readonly made: TensorInfo[] = []
  constructor(private readonly backend: KernelBackend) {}

  run(kernelName: string, inputs: NamedTensorInfoMap | TensorInfo[], attrs: NamedAttrMap = {}): TensorInfo {
    const kernel = tf.getKernel(kernelName, BACKEND)
    if (kernel == null) throw new Error(`wasm gradient kernels need the wasm kernel ${kernelName}`)
    // Concat takes its inputs as an array; the KernelFunc type only knows the named form.
    const out = kernel.kernelFunc({ inputs: inputs as NamedTensorInfoMap, backend: this.backend, attrs })
    const info = Array.isArray(out) ? out[0]! : out
    this.made.push(info)
    return info
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape })
  }

  /** Free every intermediate except `result` (reshapes share data by reference count, so this is exact). */
  finish(result: TensorInfo): TensorInfo {
    for (const t of this.made) if (t !== result) this.backend.disposeData(t.dataId)
    this.made.length = 0
    return result
  }

  /** Free everything made so far (on error). */
  abandon(): void {
    for (const t of this.made) this.backend.disposeData(t.dataId)
    this.made.length = 0
  }

  /** Free one intermediate early, to keep peak memory low inside loops. */
  free(t: TensorInfo): void {
    const i = this.made.indexOf(t)
    if (i >= 0) this.made.splice(i, 1)
    this.backend.disposeData(t.dataId)
  }
}

/** Wrap a composite kernel so that its intermediates are freed on success and on error. */
function composite<A>(body: (s: Scratch, inputs: NamedTensorInfoMap, attrs: A) => TensorInfo): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const s = new Scratch(backend as KernelBackend)
    try {
      return s.finish(body(s, inputs, attrs as unknown as A))
    } catch (err) {
      s.abandon()
      throw err
    }
  }
}

function pair(v: number | number[] | undefined): Pair {
  if (v == null) return [1, 1]
  return typeof v === 'number' ? [v, v] : [v[0]!, v[1]!]
}

function assertNHWC(dataFormat: string | undefined, kernel: string): void {
  if (dataFormat != null && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`wasm ${kernel} supports only NHWC, got ${dataFormat}`)
  }
}

// ---------------------------------------------------------------------------------------------------
// Filter gradients
//
// dW[i, j, ci, co] = sum over n, y, x of xpad[n, y*s + i*d, x*s + j*d, ci] * dy[n, y, x, co], with s the
// stride and d the dilation of the forward pass. Read as a correlation of the padded input with dy, this
// is itself a convolution with dy as the filter, stride d and dilation s: XNNPACK runs it well, except a
// regular conv at stride 1, where per-tap matMuls are 2-5x faster (and strided slices, their alternative
// at stride > 1, are slow on wasm).
// ---------------------------------------------------------------------------------------------------

/**
 * The input cut to the rows and columns the forward taps read, with the zero padding (explicit, for a
 * conv) that the forward pass added before them: the span a filter-gradient convolution slides over.
 */
function tapSpan(s: Scratch, x: TensorInfo, c: Conv2DInfo): { span: TensorInfo; pad: number[][] } {
  const [n, h, w, ch] = x.shape as [number, number, number, number]
  const { top, left } = c.padInfo
  const needH = (c.outHeight - 1) * c.strideHeight + (c.filterHeight - 1) * c.dilationHeight + 1
  const needW = (c.outWidth - 1) * c.strideWidth + (c.filterWidth - 1) * c.dilationWidth + 1
  const bottom = needH - top - h
  const right = needW - left - w
  // Rows or columns past the last tap (valid padding, stride > 1) are cut, not padded.
  const span = bottom < 0 || right < 0 ? s.run('Slice', { x }, { begin: [0, 0, 0, 0], size: [n, h + Math.min(0, bottom), w + Math.min(0, right), ch] }) : x
  return { span, pad: [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]] }
}

/** Conv2DBackpropFilter: by taps at stride 1, else as one convolution with batch and channels swapped. */
function conv2DBackpropFilter(s: Scratch, x: TensorInfo, dy: TensorInfo, c: Conv2DInfo): TensorInfo {
  return c.strideHeight === 1 && c.strideWidth === 1 ? filterGradientByTaps(s, x, dy, c) : filterGradientBySwap(s, x, dy, c)
}

/**
 * Input channels as the batch ([Ci, H, W, N]) and dy as the filter ([Ho, Wo, N, Co]): one Conv2D with
 * stride d and dilation s gives [Ci, kh, kw, Co], the filter gradient with its first axis moved.
 */
function filterGradientBySwap(s: Scratch, x: TensorInfo, dy: TensorInfo, c: Conv2DInfo): TensorInfo {
  const { span, pad } = tapSpan(s, x, c)
  const xT = s.run('Transpose', { x: span }, { perm: [3, 1, 2, 0] })
  const dyT = s.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] })
  const g = s.run('Conv2D', { x: xT, filter: dyT }, {
    strides: [c.dilationHeight, c.dilationWidth], dilations: [c.strideHeight, c.strideWidth], pad, dataFormat: 'NHWC',
  })
  return s.run('Transpose', { x: g }, { perm: [1, 2, 0, 3] })
}

/**
 * Per tap (i, j): the input window the tap saw, as a [Ci, N*Ho*Wo] matrix, times dy as [N*Ho*Wo, Co].
 * Channels-first windows make that a plain (untransposed) matMul, the only form wasm runs on XNNPACK.
 */
function filterGradientByTaps(s: Scratch, x: TensorInfo, dy: TensorInfo, c: Conv2DInfo): TensorInfo {
  const { span, pad } = tapSpan(s, x, c)
  const padded = pad.some(([a, b]) => a! > 0 || b! > 0) ? s.run('PadV2', { x: span }, { paddings: pad, constantValue: 0 }) : span
  const xT = s.run('Transpose', { x: padded }, { perm: [3, 0, 1, 2] })
  const [ci, n] = xT.shape as [number, number]
  const dy2 = s.reshape(dy, [-1, c.outChannels])
  const perTap: TensorInfo[] = []
  for (let i = 0; i < c.filterHeight; i++) {
    for (let j = 0; j < c.filterWidth; j++) {
      const [y0, x0] = [i * c.dilationHeight, j * c.dilationWidth]
      const win = s.run('Slice', { x: xT }, { begin: [0, 0, y0, x0], size: [ci, n, c.outHeight, c.outWidth] })
      perTap.push(s.run('BatchMatMul', { a: s.reshape(win, [ci, -1]), b: dy2 }, { transposeA: false, transposeB: false }))
      s.free(win)
    }
  }
  const stacked = perTap.length === 1 ? perTap[0]! : s.run('Concat', perTap, { axis: 0 })
  return s.reshape(stacked, [c.filterHeight, c.filterWidth, c.inChannels, c.outChannels])
}

/**
 * DepthwiseConv2dNativeBackpropFilter: per image, a depthwise convolution of the input span with that
 * image's dy as the filter ([Ho, Wo, C, m]), stride d and dilation s, gives [kh, kw, C*m] directly.
 */
function depthwiseBackpropFilter(s: Scratch, x: TensorInfo, dy: TensorInfo, c: Conv2DInfo): TensorInfo {
  const { span, pad } = tapSpan(s, x, c)
  const [n, oh, ow, cm] = dy.shape as [number, number, number, number]
  const ch = c.inChannels
  let sum: TensorInfo | null = null
  for (let b = 0; b < n; b++) {
    const image = n === 1 ? span : s.run('Slice', { x: span }, { begin: [b, 0, 0, 0], size: [1, ...span.shape.slice(1)] })
    const dyImage = n === 1 ? dy : s.run('Slice', { x: dy }, { begin: [b, 0, 0, 0], size: [1, oh, ow, cm] })
    const g = s.run('DepthwiseConv2dNative', { x: image, filter: s.reshape(dyImage, [oh, ow, ch, cm / ch]) }, {
      strides: [c.dilationHeight, c.dilationWidth], dilations: [c.strideHeight, c.strideWidth], pad,
    })
    sum = sum == null ? g : s.run('Add', { a: sum, b: g })
  }
  return s.reshape(sum!, [c.filterHeight, c.filterWidth, ch, cm / ch])
}

// ---------------------------------------------------------------------------------------------------
// Input gradients: a stride-1 convolution of the zero-upsampled dy with the flipped filter
// ---------------------------------------------------------------------------------------------------

/**
 * dy spread out by the stride (stride-1 zeros after each value) and cropped where it overhangs, with the
 * explicit padding that makes a stride-1 correlation with the flipped filter (dilated like the forward
 * pass) produce exactly the input's height and width: the transposed convolution, in forward-conv form.
 */
function transposedConvInput(s: Scratch, dy: TensorInfo, c: Conv2DInfo): { up: TensorInfo; pad: number[][] } {
  const [n, , , ch] = dy.shape as [number, number, number, number]
  let up = spread(s, dy, [c.strideHeight, c.strideWidth], [0, 0], [c.outHeight * c.strideHeight, c.outWidth * c.strideWidth])
  // Padding of the transposed convolution; negative amounts (trailing zeros, rows never reached) are cropped.
  const [beginH, sizeH, padH] = fitAxis(up.shape[1]!, c.effectiveFilterHeight - 1 - c.padInfo.top, c.inHeight, c.effectiveFilterHeight)
  const [beginW, sizeW, padW] = fitAxis(up.shape[2]!, c.effectiveFilterWidth - 1 - c.padInfo.left, c.inWidth, c.effectiveFilterWidth)
  if (beginH > 0 || beginW > 0 || sizeH < up.shape[1]! || sizeW < up.shape[2]!) {
    up = s.run('Slice', { x: up }, { begin: [0, beginH, beginW, 0], size: [n, sizeH, sizeW, ch] })
  }
  return { up, pad: [[0, 0], padH, padW, [0, 0]] }
}

/**
 * dx[n, p, q, ci] = (upsampled dy correlated with filter[::-1, ::-1, ci, :]) summed over co: a forward
 * Conv2D with the flipped filter transposed to [kh, kw, Co, Ci], which XNNPACK runs ~7x faster than
 * wasm's own (scalar) Conv2DBackpropInput.
 */
function conv2DBackpropInput(s: Scratch, dy: TensorInfo, filter: TensorInfo, c: Conv2DInfo): TensorInfo {
  const { up, pad } = transposedConvInput(s, dy, c)
  const flipped = s.run('Reverse', { x: filter }, { dims: [0, 1] })
  const swapped = s.run('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] })
  return s.run('Conv2D', { x: up, filter: swapped }, { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [c.dilationHeight, c.dilationWidth] })
}

/**
 * dx[n, p, q, c] = sum over k of (upsampled dy[..., c*m + k] correlated with filter[::-1, ::-1, c, k]):
 * one depthwise convolution over the C*m channels of dy, then a sum over each channel's m outputs.
 */
function depthwiseBackpropInput(s: Scratch, dy: TensorInfo, filter: TensorInfo, c: Conv2DInfo): TensorInfo {
  const [kh, kw, ch, m] = filter.shape as [number, number, number, number]
  const { up, pad } = transposedConvInput(s, dy, c)
  const flipped = s.reshape(s.run('Reverse', { x: filter }, { dims: [0, 1] }), [kh, kw, ch * m, 1])
  const conv = s.run('DepthwiseConv2dNative', { x: up, filter: flipped }, { strides: [1, 1], pad, dilations: [c.dilationHeight, c.dilationWidth] })
  if (m === 1) return conv
  return s.run('Sum', { x: s.reshape(conv, [c.batchSize, c.inHeight, c.inWidth, ch, m]) }, { axis: [4], keepDims: false })
}

/**
 * Along one axis of length `len`, place `before` zeros (negative: crop) and as many after as make a
 * stride-1 correlation with a filter of effective size `eff` produce `out` values.
 * Returns [crop begin, kept length, [pad before, pad after]].
 */
function fitAxis(len: number, before: number, out: number, eff: number): [number, number, Pair] {
  const begin = Math.max(0, -before)
  const padBefore = Math.max(0, before)
  let kept = len - begin
  let after = out + eff - 1 - padBefore - kept
  if (after < 0) {
    kept += after
    after = 0
  }
  return [begin, kept, [padBefore, after]]
}

// ---------------------------------------------------------------------------------------------------
// Max-pool gradient: wasm's own MaxPoolGrad is wrong where a window's maximum is negative
// ---------------------------------------------------------------------------------------------------

/**
 * dx = sum over window taps of dy routed to the tap that holds the window's maximum (the first such tap
 * in row-major order, as TF and the cpu backend break ties). Per tap: compare the strided window of x
 * (padded with -inf) with y, keep dy where it matches first, spread it back by the stride, add.
 */
function maxPoolBackprop(s: Scratch, dy: TensorInfo, x: TensorInfo, y: TensorInfo, c: Conv2DInfo): TensorInfo {
  const [n, h, w, ch] = x.shape as [number, number, number, number]
  const { top, left } = c.padInfo
  const [oh, ow, sh, sw, kh, kw] = [c.outHeight, c.outWidth, c.strideHeight, c.strideWidth, c.filterHeight, c.filterWidth]
  // One frame holds the padded input and every tap's spread-out dy: as tall as the last tap reaches.
  const frameH = Math.max(top + h, kh - 1 + oh * sh)
  const frameW = Math.max(left + w, kw - 1 + ow * sw)
  const paddings = [[0, 0], [top, frameH - top - h], [left, frameW - left - w], [0, 0]]
  const xp = s.run('PadV2', { x }, { paddings, constantValue: -Infinity })
  const zeros = s.run('ZerosLike', { x: dy })
  let taken: TensorInfo | null = null
  let sum: TensorInfo | null = null
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const win = s.run('StridedSlice', { x: xp }, {
        begin: [0, i, j, 0], end: [n, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, ch], strides: [1, sh, sw, 1],
        beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
      })
      const isMax = s.run('Equal', { a: win, b: y })
      s.free(win)
      let first = isMax
      if (taken != null) {
        const notTaken = s.run('LogicalNot', { x: taken })
        first = s.run('LogicalAnd', { a: isMax, b: notTaken })
        s.free(notTaken)
        const before = taken
        taken = s.run('LogicalOr', { a: before, b: isMax })
        s.free(before)
        s.free(isMax)
      } else {
        taken = isMax
      }
      const routed = s.run('Select', { condition: first, t: dy, e: zeros })
      if (first !== taken) s.free(first)
      const placed = spread(s, routed, [sh, sw], [i, j], [frameH, frameW])
      if (placed !== routed) s.free(routed)
      if (sum == null) {
        sum = placed
      } else {
        const before = sum
        sum = s.run('Add', { a: before, b: placed })
        s.free(before)
        s.free(placed)
      }
    }
  }
  return s.run('Slice', { x: sum! }, { begin: [0, top, left, 0], size: [n, h, w, ch] })
}

/** Put t[n, y, x, c] at [n, offset + y * stride, ...] of a zero frame of the given height and width (t itself if it already is that). */
function spread(s: Scratch, t: TensorInfo, stride: Pair, offset: Pair, frame: Pair): TensorInfo {
  const [n, th, tw, ch] = t.shape as [number, number, number, number]
  let up = t
  if (stride[0] > 1 || stride[1] > 1) {
    const split = s.reshape(t, [n, th, 1, tw, 1, ch])
    const paddings = [[0, 0], [0, 0], [0, stride[0] - 1], [0, 0], [0, stride[1] - 1], [0, 0]]
    up = s.reshape(s.run('PadV2', { x: split }, { paddings, constantValue: 0 }), [n, th * stride[0], tw * stride[1], ch])
  }
  const after = [frame[0] - offset[0] - up.shape[1]!, frame[1] - offset[1] - up.shape[2]!]
  if (offset[0] === 0 && offset[1] === 0 && after[0] === 0 && after[1] === 0) return up
  const paddings = [[0, 0], [offset[0], after[0]], [offset[1], after[1]], [0, 0]]
  return s.run('PadV2', { x: up }, { paddings, constantValue: 0 })
}

// ---------------------------------------------------------------------------------------------------
// Segment sum (the gradient of gather): one-hot of the segment ids, transposed, times x
// ---------------------------------------------------------------------------------------------------

/** out[s, ...] = sum of x[i, ...] over the i whose segment id is s (ids out of range are dropped). */
function segmentSum(s: Scratch, x: TensorInfo, segmentIds: TensorInfo, numSegments: number): TensorInfo {
  const ids = segmentIds.shape.reduce((a, b) => a * b, 1)
  // wasm's OneHot writes int32 whatever dtype it is asked for, hence the cast.
  const oneHot = s.run('OneHot', { indices: segmentIds }, { dtype: 'int32', depth: numSegments, onValue: 1, offValue: 0 })
  const weights = s.run('Cast', { x: s.reshape(oneHot, [ids, numSegments]) }, { dtype: 'float32' })
  const byId = s.run('Transpose', { x: weights }, { perm: [1, 0] })
  const sums = s.run('BatchMatMul', { a: byId, b: s.reshape(x, [ids, -1]) }, { transposeA: false, transposeB: false })
  return s.reshape(sums, [numSegments, ...x.shape.slice(segmentIds.shape.length)])
}

// ---------------------------------------------------------------------------------------------------
// Tile
// ---------------------------------------------------------------------------------------------------

/**
 * Tile where every repeated axis has size 1 (how broadcastTo and the batch-norm gradient use it) is a
 * broadcast: x + zeros, ~30x faster than wasm's own Tile. Other tiles go to the original kernel.
 */
function tileByBroadcast(original: KernelFunc): KernelFunc {
  return (args) => {
    const x = args.inputs.x!
    const reps = (args.attrs as unknown as TileAttrs).reps
    if (x.dtype !== 'float32' || reps.some((r, i) => r !== 1 && x.shape[i] !== 1)) return original(args)
    return composite((s) => {
      const zeros = s.run('Fill', {}, { shape: x.shape.map((d, i) => d * reps[i]!), value: 0, dtype: 'float32' })
      return s.run('Add', { a: x, b: zeros })
    })(args) as TensorInfo
  }
}

// ---------------------------------------------------------------------------------------------------
// Opting out of filter gradients
// ---------------------------------------------------------------------------------------------------

let filterGradientsDisabled = false

/**
 * Run `fn` (a synchronous gradient computation) without computing filter gradients on wasm.
 *
 * tfjs' fused conv2d / depthwise conv (used by every conv layer without activation, e.g. conv -> batch-norm)
 * computes its filter gradient eagerly, even when only the input gradient is asked for; tfjs offers no
 * per-backend gradient override for those ops (their gradient is a customGrad closure, not a registered
 * gradient). Inside `fn` the two filter-gradient kernels return NaN (so any use of them is loud) instead
 * of computing; input gradients are unaffected. Saves ~10-25% of an input gradient through a MobileNet
 * (bench/wasm-gradients.ts); the filter-gradient kernels here are already cheap.
 */
export function withoutFilterGradients<T>(fn: () => T): T {
  const before = filterGradientsDisabled
  filterGradientsDisabled = true
  try {
    return fn()
  } finally {
    filterGradientsDisabled = before
  }
}

/** What the filter-gradient kernels return inside withoutFilterGradients. */
function notComputed(s: Scratch, filterShape: number[]): TensorInfo {
  return s.run('Fill', {}, { shape: filterShape, value: NaN, dtype: 'float32' })
}

// ---------------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------------

const kernels: Record<string, KernelFunc> = {
  Conv2DBackpropFilter: composite<Conv2DBackpropFilterAttrs & { dilations?: number | Pair }>((s, { x, dy }, a) => {
    assertNHWC(a.dataFormat, 'Conv2DBackpropFilter')
    // tfjs passes no dilations to this kernel (its conv gradients refuse dilation > 1); honour them if given.
    const c = tf.backend_util.computeConv2DInfo(x!.shape as Shape4, a.filterShape, a.strides, pair(a.dilations), a.pad, a.dimRoundingMode)
    if (filterGradientsDisabled) return notComputed(s, a.filterShape)
    return conv2DBackpropFilter(s, x!, dy!, c)
  }),
  DepthwiseConv2dNativeBackpropFilter: composite<DepthwiseConv2dNativeBackpropFilterAttrs>((s, { x, dy }, a) => {
    const c = tf.backend_util.computeConv2DInfo(x!.shape as Shape4, a.filterShape, a.strides, pair(a.dilations), a.pad, a.dimRoundingMode, true)
    if (filterGradientsDisabled) return notComputed(s, a.filterShape)
    return depthwiseBackpropFilter(s, x!, dy!, c)
  }),
  DepthwiseConv2dNativeBackpropInput: composite<DepthwiseConv2dNativeBackpropInputAttrs>((s, { dy, filter }, a) => {
    const c = tf.backend_util.computeConv2DInfo(a.inputShape, filter!.shape as Shape4, a.strides, pair(a.dilations), a.pad, a.dimRoundingMode, true)
    return depthwiseBackpropInput(s, dy!, filter!, c)
  }),
  /** What the gradient of gather (e.g. picking one class score) scatters with. */
  UnsortedSegmentSum: composite<UnsortedSegmentSumAttrs>((s, { x, segmentIds }, a) => segmentSum(s, x!, segmentIds!, a.numSegments)),
}

/** Kernels wasm has but gets wrong, or runs far slower than it could; each maker gets the original. */
const replacements: Record<string, (original: KernelFunc) => KernelFunc> = {
  // wasm's own is wrong where a pooling window's maximum is negative.
  MaxPoolGrad: () =>
    composite<MaxPoolGradAttrs>((s, { dy, input, output }, a) => {
      const c = tf.backend_util.computePool2DInfo(input!.shape as Shape4, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode)
      return maxPoolBackprop(s, dy!, input!, output!, c)
    }),
  // wasm's own is a scalar loop; as a forward Conv2D it runs on XNNPACK.
  Conv2DBackpropInput: () =>
    composite<Conv2DBackpropInputAttrs>((s, { dy, filter }, a) => {
      assertNHWC(a.dataFormat, 'Conv2DBackpropInput')
      const c = tf.backend_util.computeConv2DInfo(a.inputShape, filter!.shape as Shape4, a.strides, 1, a.pad, a.dimRoundingMode)
      return conv2DBackpropInput(s, dy!, filter!, c)
    }),
  // The batch-norm gradient tiles per-channel factors over the whole activation.
  Tile: tileByBroadcast,
}
type Shape4 = [number, number, number, number]

/** Names of the kernels this module adds to wasm, for tests and diagnostics. */
export const wasmGradientKernelNames = Object.keys(kernels)
/** Names of the wasm kernels this module replaces. */
export const wasmReplacedKernelNames = Object.keys(replacements)

let registered = false

/**
 * Register, for the wasm backend, each missing kernel above that tfjs does not already provide, and the
 * replacements for the wrong or slow ones. Idempotent.
 */
export function registerWasmGradientKernels(): void {
  if (registered) return
  registered = true
  for (const [kernelName, kernelFunc] of Object.entries(kernels)) {
    if (tf.getKernel(kernelName, BACKEND) != null) continue // a later tfjs may ship its own
    tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc })
  }
  for (const [kernelName, make] of Object.entries(replacements)) replaceKernel(kernelName, make)
}

/** Swap the wasm kernel `kernelName` for `make(original)`, keeping its setup and dispose hooks. */
function replaceKernel(kernelName: string, make: (original: KernelFunc) => KernelFunc): void {
  const original = tf.getKernel(kernelName, BACKEND)
  if (original != null) tf.unregisterKernel(kernelName, BACKEND)
  tf.registerKernel({ ...original, kernelName, backendName: BACKEND, kernelFunc: make(original?.kernelFunc ?? missing(kernelName)) })
}

function missing(kernelName: string): KernelFunc {
  return () => {
    throw new Error(`wasm kernel ${kernelName} is not registered`)
  }
}

// ---------------------------------------------------------------------------------------------------
// Forward convolutions with TF 'same' padding
// ---------------------------------------------------------------------------------------------------

/**
 * wasm's Conv2D, DepthwiseConv2dNative and their fused forms hand 'same' to XNNPACK as its TF-SAME flag,
 * which gives wrong outputs (often zeros) when a stride exceeds what the filter covers, e.g. a 1x3 filter
 * with stride 2 (tensorflow/tfjs#6629, #8405). Passing the same padding as explicit amounts is exact.
 */
const SAME_PADDING_KERNELS: Record<string, boolean> = {
  Conv2D: false,
  FusedConv2D: false,
  DepthwiseConv2dNative: true,
  FusedDepthwiseConv2D: true,
}

let samePaddingFixed = false

/** Make the wasm forward convolutions compute 'same' padding exactly. Idempotent. */
export function fixWasmSamePadding(): void {
  if (samePaddingFixed) return
  samePaddingFixed = true
  for (const [kernelName, depthwise] of Object.entries(SAME_PADDING_KERNELS)) {
    replaceKernel(kernelName, (original) => (args) => {
      const attrs = args.attrs as unknown as ConvAttrs
      if (attrs.pad !== 'same') return original(args)
      const { x, filter } = args.inputs
      const c = tf.backend_util.computeConv2DInfo(x!.shape as Shape4, filter!.shape as Shape4, attrs.strides, attrs.dilations ?? 1, 'same', attrs.dimRoundingMode, depthwise)
      const { top, bottom, left, right } = c.padInfo
      const explicit = [[0, 0], [top, bottom], [left, right], [0, 0]]
      return original({ ...args, attrs: { ...args.attrs, pad: explicit } as unknown as NamedAttrMap })
    })
  }
}

interface ConvAttrs {
  strides: number | Pair
  pad: string | number | number[][]
  dilations?: number | Pair
  dimRoundingMode?: 'floor' | 'round' | 'ceil'
}
