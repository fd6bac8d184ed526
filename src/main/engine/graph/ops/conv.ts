/**
 * Conv and ConvTranspose (1-D and 2-D) on tfjs's NHWC convolutions: the input is transposed in and out,
 * the ONNX weight [M, C/group, kh, kw] becomes tfjs's [kh, kw, C/group, M]. group 1 runs conv2d, a
 * depthwise group (group = C, M a multiple of C) depthwiseConv2d, any other group one conv per group. The
 * prepared filters of constant weights are made once (weightCache.ts).
 */
import * as tf from '@tensorflow/tfjs'
import { input, intAttr, numbersAttr, stringAttr } from './attributes'
import { fromNHWC, hw, pairOf, span, spatialRank, toNHWC, windowGeometry, type Pair } from './geometry'
import { UnsupportedOpError, type OpKernel } from './types'
import { preparedWeight } from './weightCache'

type Padding = [[0, 0], Pair, Pair, [0, 0]]

function explicitPadding(begin: Pair, end: Pair): Padding {
  return [[0, 0], [begin[0], end[0]], [begin[1], end[1]], [0, 0]]
}

/** The ONNX weight of a 1-D op as 2-D (a kernel height of 1). */
function weight2d(w: tf.Tensor): tf.Tensor4D {
  if (w.rank === 3) return w.expandDims(2) as tf.Tensor4D
  if (w.rank === 4) return w as tf.Tensor4D
  throw new UnsupportedOpError(`a weight of rank ${w.rank}`)
}

/** A [kh, kw, a, b] kernel with `dilations` − 1 zeros between its taps (differentiable). */
function dilateKernel(f: tf.Tensor4D, dilations: Pair): tf.Tensor4D {
  if (dilations[0] === 1 && dilations[1] === 1) return f
  const [kh, kw, a, b] = f.shape
  const spread = tf.pad(tf.reshape(f, [kh, 1, kw, 1, a, b]), [[0, 0], [0, dilations[0] - 1], [0, 0], [0, dilations[1] - 1], [0, 0], [0, 0]])
  const full = tf.reshape(spread, [kh * dilations[0], kw * dilations[1], a, b])
  return tf.slice(full, [0, 0, 0, 0], [span(kh, dilations[0]), span(kw, dilations[1]), a, b]) as tf.Tensor4D
}

/**
 * One NHWC convolution of a single group. Its filter is already dilated: a dilated kernel runs as the undilated
 * one with zeros between its taps, since tfjs's conv gradients refuse dilations above 1 (and its forward refuses
 * them with strides above 1).
 */
function convGroup(x: tf.Tensor4D, filter: tf.Tensor4D, depthwise: boolean, strides: Pair, pad: Padding): tf.Tensor4D {
  return depthwise ? tf.depthwiseConv2d(x, filter, strides, pad) : tf.conv2d(x, filter, strides, pad)
}

export const conv: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'X')
  const spatial = spatialRank(x)
  const w = weight2d(input(inputs, 1, 'W'))
  const bias = inputs[2] ?? null
  const group = intAttr(node, 'group', 1)
  const [m, cPerGroup] = [w.shape[0], w.shape[1]]
  const c = x.shape[1]!
  if (cPerGroup * group !== c || m % group !== 0) throw new UnsupportedOpError(`group ${group} with ${c} input channels and a weight of shape [${w.shape.join(', ')}]`)
  const xh = toNHWC(x)
  const kernelShape = numbersAttr(node, 'kernel_shape') ?? (spatial === 1 ? [w.shape[3]] : [w.shape[2], w.shape[3]])
  const g = windowGeometry(node, spatial, hw(xh), kernelShape)
  if (g.kernel[0] !== w.shape[2] || g.kernel[1] !== w.shape[3]) throw new UnsupportedOpError(`kernel_shape [${kernelShape.join(', ')}] that differs from the weight's`)
  const pad = explicitPadding(g.padBegin, g.padEnd)
  const depthwise = group > 1 && group === c && cPerGroup === 1
  const filters = preparedWeight<tf.Tensor4D>(inputs[1]!, `conv ${group} ${g.dilations}`, () => {
    const filter = dilateKernel(tf.transpose(w, [2, 3, 1, 0]) as tf.Tensor4D, g.dilations) // [kh', kw', C/group, M]
    // depthwise: output channel o = input channel (o / mult) · mult + (o % mult), as tfjs orders them
    if (depthwise) return [tf.reshape(filter, [filter.shape[0], filter.shape[1], c, m / c])]
    return group === 1 ? [filter] : tf.split(filter, group, 3)
  })
  let y: tf.Tensor4D
  if (group === 1 || depthwise) {
    y = convGroup(xh, filters[0]!, depthwise, g.strides, pad)
  } else {
    const xs = tf.split(xh, group, 3) as tf.Tensor4D[]
    y = tf.concat(xs.map((xg, i) => convGroup(xg, filters[i]!, false, g.strides, pad)), 3)
  }
  if (bias != null) y = tf.add(y, bias)
  return [fromNHWC(y, spatial)]
}

/**
 * ConvTranspose: the full transposed convolution (size stride·(in − 1) + span), then ONNX's pads cropped and
 * output_padding added at the end. output_shape / auto_pad SAME_* set the pads as the ONNX spec says.
 */
export const convTranspose: OpKernel = (inputs, node) => {
  const x = input(inputs, 0, 'X')
  const spatial = spatialRank(x)
  const w = weight2d(input(inputs, 1, 'W')) // [C, M/group, kh, kw]
  const bias = inputs[2] ?? null
  const group = intAttr(node, 'group', 1)
  const c = x.shape[1]!
  if (w.shape[0] !== c || c % group !== 0) throw new UnsupportedOpError(`group ${group} with ${c} input channels and a weight of shape [${w.shape.join(', ')}]`)
  const xh = toNHWC(x)
  const inSize = hw(xh)
  const kernel: Pair = [w.shape[2], w.shape[3]]
  const strides = pairOf(numbersAttr(node, 'strides'), spatial, 1, 'strides')
  const dilations = pairOf(numbersAttr(node, 'dilations'), spatial, 1, 'dilations')
  const outputPadding = pairOf(numbersAttr(node, 'output_padding'), spatial, 0, 'output_padding')
  const full: Pair = [0, 1].map((i) => strides[i]! * (inSize[i]! - 1) + span(kernel[i]!, dilations[i]!)) as Pair
  const { begin, end } = transposePads(node, spatial, inSize, full, strides, outputPadding)
  const filters = preparedWeight<tf.Tensor4D>(inputs[1]!, `convTranspose ${group} ${dilations}`, () => {
    const filter = dilateKernel(tf.transpose(w, [2, 3, 1, 0]) as tf.Tensor4D, dilations) // [kh', kw', M/group, C]
    return group === 1 ? [filter] : tf.split(filter, group, 3)
  })
  const [n] = xh.shape
  const mPerGroup = w.shape[1]
  const run = (xg: tf.Tensor4D, fg: tf.Tensor4D): tf.Tensor4D => tf.conv2dTranspose(xg, fg, [n, full[0], full[1], mPerGroup], strides, 'valid')
  let y: tf.Tensor4D
  if (group === 1) y = run(xh, filters[0]!)
  else {
    const xs = tf.split(xh, group, 3) as tf.Tensor4D[]
    y = tf.concat(xs.map((xg, i) => run(xg, filters[i]!)), 3)
  }
  // output_padding (< stride) reaches past the full output, where nothing was written: zeros.
  const grow: Pair = [Math.max(0, outputPadding[0] - end[0]), Math.max(0, outputPadding[1] - end[1])]
  if (grow[0] > 0 || grow[1] > 0) y = tf.pad(y, [[0, 0], [0, grow[0]], [0, grow[1]], [0, 0]])
  const out: Pair = [full[0] - begin[0] - end[0] + outputPadding[0], full[1] - begin[1] - end[1] + outputPadding[1]]
  y = tf.slice(y, [0, begin[0], begin[1], 0], [n, out[0], out[1], y.shape[3]])
  if (bias != null) y = tf.add(y, bias)
  return [fromNHWC(y, spatial)]
}

/**
 * ConvTranspose's begin / end pads: the pads attribute, or from output_shape / auto_pad SAME_*: the odd pixel
 * cropped at the end for SAME_UPPER, at the start otherwise (as onnxruntime does).
 */
function transposePads(node: Parameters<OpKernel>[1], spatial: 1 | 2, inSize: Pair, full: Pair, strides: Pair, outputPadding: Pair): { begin: Pair; end: Pair } {
  const autoPad = stringAttr(node, 'auto_pad', 'NOTSET')
  const outputShape = numbersAttr(node, 'output_shape')
  if (outputShape == null && (autoPad === 'NOTSET' || autoPad === 'VALID')) {
    const pads = autoPad === 'VALID' ? undefined : numbersAttr(node, 'pads')
    if (pads == null) return { begin: [0, 0], end: [0, 0] }
    if (pads.length !== 2 * spatial || pads.some((p) => p < 0)) throw new UnsupportedOpError(`pads [${pads.join(', ')}]`)
    return spatial === 1 ? { begin: [0, pads[0]!], end: [0, pads[1]!] } : { begin: [pads[0]!, pads[1]!], end: [pads[2]!, pads[3]!] }
  }
  if (autoPad !== 'NOTSET' && autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') throw new UnsupportedOpError(`auto_pad "${autoPad}"`)
  const target: Pair = outputShape != null ? pairOf(outputShape.slice(-spatial), spatial, 1, 'output_shape') : [inSize[0] * strides[0], inSize[1] * strides[1]]
  const begin: Pair = [0, 0]
  const end: Pair = [0, 0]
  for (const i of [0, 1] as const) {
    const total = full[i] + outputPadding[i] - target[i]
    if (total < 0) throw new UnsupportedOpError(`output_shape larger than the transposed convolution's output`)
    const small = Math.floor(total / 2)
    begin[i] = autoPad === 'SAME_UPPER' ? small : total - small
    end[i] = total - begin[i]
  }
  return { begin, end }
}
