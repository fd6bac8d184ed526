/**
 * Resize (opset 10+) and Upsample (opset 9) of the two spatial axes of NCHW, modes nearest and linear, as ONNX
 * defines them: each output coordinate maps back to the input by coordinate_transformation_mode, then
 * nearest_mode picks a pixel or linear weighs two. Both are separable, so each axis is a [out, in]
 * interpolation matrix built here and the resize is two 2-D matMuls: exact for every mode, any scale, and
 * differentiable (tfjs's resize gradients are missing on wasm).
 */
import * as tf from '@tensorflow/tfjs'
import { input, intAttr, numbersAttr, readInts, stringAttr } from './attributes'
import { UnsupportedOpError, type OpKernel, type OpNode } from './types'

interface AxisResize {
  inSize: number
  outSize: number
  /** The scale the coordinate transform divides by: the given one, or out / in when sizes are given. */
  scale: number
}

/** The input coordinate of output coordinate `x`. */
function sourceCoordinate(mode: string, x: number, a: AxisResize): number {
  switch (mode) {
    case 'half_pixel':
      return (x + 0.5) / a.scale - 0.5
    case 'pytorch_half_pixel':
      return a.outSize > 1 ? (x + 0.5) / a.scale - 0.5 : 0
    case 'align_corners':
      return a.outSize === 1 ? 0 : (x * (a.inSize - 1)) / (a.outSize - 1)
    case 'asymmetric':
      return x / a.scale
    case 'tf_half_pixel_for_nn':
      return (x + 0.5) / a.scale
    default:
      throw new UnsupportedOpError(`coordinate_transformation_mode "${mode}"`)
  }
}

function nearestIndex(mode: string, v: number): number {
  switch (mode) {
    case 'round_prefer_floor':
      return v - Math.floor(v) === 0.5 ? Math.floor(v) : Math.round(v)
    case 'round_prefer_ceil':
      return Math.round(v)
    case 'floor':
      return Math.floor(v)
    case 'ceil':
      return Math.ceil(v)
    default:
      throw new UnsupportedOpError(`nearest_mode "${mode}"`)
  }
}

/** The [out, in] matrix of one axis: row i holds the weights of the input pixels that output pixel i reads. */
function interpolationMatrix(a: AxisResize, mode: 'nearest' | 'linear', coordinateMode: string, nearestMode: string): tf.Tensor2D {
  const m = new Float32Array(a.outSize * a.inSize)
  for (let i = 0; i < a.outSize; i++) {
    const x = sourceCoordinate(coordinateMode, i, a)
    if (mode === 'nearest') {
      const j = Math.min(a.inSize - 1, Math.max(0, nearestIndex(nearestMode, x)))
      m[i * a.inSize + j] = 1
    } else {
      const c = Math.min(a.inSize - 1, Math.max(0, x))
      const j0 = Math.floor(c)
      const j1 = Math.min(a.inSize - 1, j0 + 1)
      const t = c - j0
      m[i * a.inSize + j0] += 1 - t
      m[i * a.inSize + j1] += t
    }
  }
  return tf.tensor2d(m, [a.outSize, a.inSize])
}

/** Output sizes and scales of H and W from sizes or scales (whose N and C entries must be 1). */
function axes(x: tf.Tensor, scales: number[] | undefined, sizes: number[] | undefined): [AxisResize, AxisResize] {
  const [h, w] = [x.shape[2]!, x.shape[3]!]
  if (sizes != null && sizes.length > 0) {
    if (sizes.length !== 4 || sizes[0] !== x.shape[0] || sizes[1] !== x.shape[1]) throw new UnsupportedOpError(`sizes [${sizes.join(', ')}] that resize more than height and width`)
    return [
      { inSize: h, outSize: sizes[2]!, scale: sizes[2]! / h },
      { inSize: w, outSize: sizes[3]!, scale: sizes[3]! / w },
    ]
  }
  if (scales == null || scales.length !== 4 || scales[0] !== 1 || scales[1] !== 1) throw new UnsupportedOpError(`scales [${scales?.join(', ') ?? ''}] that resize more than height and width`)
  return [
    { inSize: h, outSize: Math.floor(h * scales[2]!), scale: scales[2]! },
    { inSize: w, outSize: Math.floor(w * scales[3]!), scale: scales[3]! },
  ]
}

/** y = A_h · x · A_wᵀ over every (n, c) plane, as 2-D matMuls. */
function resize2d(x: tf.Tensor, [ah, aw]: [AxisResize, AxisResize], mode: 'nearest' | 'linear', coordinateMode: string, nearestMode: string): tf.Tensor {
  const [n, c] = [x.shape[0]!, x.shape[1]!]
  const mh = interpolationMatrix(ah, mode, coordinateMode, nearestMode)
  const mw = interpolationMatrix(aw, mode, coordinateMode, nearestMode)
  const alongW = tf.matMul(tf.reshape(x, [n * c * ah.inSize, aw.inSize]), mw, false, true) // [n·c·h, ow]
  const planes = tf.transpose(tf.reshape(alongW, [n * c, ah.inSize, aw.outSize]), [0, 2, 1]) // [n·c, ow, h]
  const alongH = tf.matMul(tf.reshape(planes, [n * c * aw.outSize, ah.inSize]), mh, false, true) // [n·c·ow, oh]
  return tf.reshape(tf.transpose(tf.reshape(alongH, [n * c, aw.outSize, ah.outSize]), [0, 2, 1]), [n, c, ah.outSize, aw.outSize])
}

function modeOf(node: OpNode): 'nearest' | 'linear' {
  const mode = stringAttr(node, 'mode', 'nearest')
  if (mode === 'nearest' || mode === 'linear') return mode
  throw new UnsupportedOpError(`mode "${mode}"`)
}

function checkInput(x: tf.Tensor): void {
  if (x.rank !== 4) throw new UnsupportedOpError(`a resize of a tensor of rank ${x.rank} (NCHW only)`)
  if (x.dtype !== 'float32') throw new UnsupportedOpError(`a resize of ${x.dtype}`)
}

/**
 * Resize. Opset 10: inputs (X, scales), asymmetric coordinates, nearest rounds down. Opset ≥ 11: inputs
 * (X, roi, scales, sizes) and the coordinate / nearest modes; roi (tf_crop_and_resize), cubic, antialias,
 * axes and keep_aspect_ratio_policy are not implemented.
 */
export const resize: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'X')
  checkInput(x)
  const mode = modeOf(node)
  if (node.opset < 11) return [resize2d(x, axes(x, readFloats(inputs[1]), undefined), mode, 'asymmetric', 'floor')]
  if (intAttr(node, 'antialias', 0) !== 0) throw new UnsupportedOpError('antialias 1')
  if (numbersAttr(node, 'axes') != null) throw new UnsupportedOpError('axes')
  const policy = stringAttr(node, 'keep_aspect_ratio_policy', 'stretch')
  if (policy !== 'stretch') throw new UnsupportedOpError(`keep_aspect_ratio_policy "${policy}"`)
  const coordinateMode = stringAttr(node, 'coordinate_transformation_mode', 'half_pixel')
  const nearestMode = stringAttr(node, 'nearest_mode', 'round_prefer_floor')
  return [resize2d(x, axes(x, readFloats(inputs[2]), readInts(inputs[3])), mode, coordinateMode, nearestMode)]
}

/** Upsample (opset 9, deprecated since 10): scales as an input, asymmetric coordinates, nearest rounds down. */
export const upsample: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'X')
  checkInput(x)
  const scales = node.opset >= 9 ? readFloats(inputs[1]) : numbersAttr(node, 'scales')
  return [resize2d(x, axes(x, scales, undefined), modeOf(node), 'asymmetric', 'floor')]
}

function readFloats(t: tf.Tensor | null | undefined): number[] | undefined {
  if (t == null || t.size === 0) return undefined
  return Array.from(t.dataSync() as ArrayLike<number>)
}
