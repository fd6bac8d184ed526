/**
 * Convolutions and pools of NHWC tensors as ONNX's NCHW ops, shared by the Keras and TF translators: the input is
 * transposed to NCHW and the result back, so every written tensor stays NHWC (layer outputs need no transpose);
 * onnxruntime's optimizer cancels the adjacent Transpose pairs between consecutive layers.
 *
 * TensorFlow's 'same' padding puts the odd pixel at the end. With stride 1 it pads (k − 1)·d whatever the input
 * size: explicit pads (onnxruntime refuses auto_pad with dilation); with a stride, ONNX's auto_pad SAME_UPPER (TF
 * has no strided dilated windows). Either keeps height and width free (fully-convolutional inputs of any size). An
 * average pool counts only real pixels, as count_include_pad 0 does.
 */
import * as tf from '@tensorflow/tfjs'
import { type Attr, int, ints, type OnnxBuilder, str } from './builder'
import { floatValues } from './translator'

export type Pair = [number, number]
/** 'same', 'valid', or explicit [top, bottom, left, right]. */
export type WindowPadding = 'same' | 'valid' | [number, number, number, number]

export interface Window {
  strides: Pair
  dilations: Pair
  pad: WindowPadding
}

function padAttrs(pad: WindowPadding, size: Pair, strides: Pair, dilations: Pair): Record<string, Attr> {
  if (pad === 'same' && strides[0] === 1 && strides[1] === 1) {
    const [th, tw] = [(size[0] - 1) * dilations[0], (size[1] - 1) * dilations[1]]
    return padAttrs([Math.floor(th / 2), th - Math.floor(th / 2), Math.floor(tw / 2), tw - Math.floor(tw / 2)], size, strides, dilations)
  }
  if (pad === 'same') return { auto_pad: str('SAME_UPPER') }
  if (pad === 'valid') return { auto_pad: str('VALID') }
  const [t, bottom, l, r] = pad
  return { pads: ints([t, l, bottom, r]) }
}

/** The spatial size [kh, kw] of a [kh, kw, ...] filter. */
export const hw = (filter: tf.Tensor): Pair => [filter.shape[0]!, filter.shape[1]!]

/** A 4-D float weight, rearranged by `f` (tf ops), as an initializer. */
export function weightInitializer(b: OnnxBuilder, base: string, w: tf.Tensor, f: (w: tf.Tensor) => tf.Tensor = (t) => t): string {
  const t = tf.tidy(() => f(w))
  try {
    return b.floats(base, floatValues(t), t.shape)
  } finally {
    if (t !== w) t.dispose()
  }
}

/** A Conv kernel [kh, kw, in, out] (the graph tensor `name`) as ONNX's [out, in, kh, kw], once per weight. */
export const convKernel = (b: OnnxBuilder, name: string, k: tf.Tensor): string =>
  b.memoized(`oihw:${name}`, () => weightInitializer(b, name, k, (t) => tf.transpose(t, [3, 2, 0, 1])))

/** A depthwise kernel [kh, kw, C, M] as a grouped Conv's [C·M, 1, kh, kw] (output channel c·M + m, as tfjs orders it). */
export const depthwiseKernel = (b: OnnxBuilder, name: string, k: tf.Tensor): string =>
  b.memoized(`depthwise:${name}`, () =>
    weightInitializer(b, name, k, (t) => {
      const [kh, kw, c, m] = t.shape as [number, number, number, number]
      return tf.reshape(tf.transpose(t, [2, 3, 0, 1]), [c * m, 1, kh, kw])
    }),
  )

/** Conv of an NHWC tensor with an [out, in/group, kh, kw] kernel of spatial `size` and optional bias; NHWC out. */
export function conv(b: OnnxBuilder, x: string, kernel: string, size: Pair, bias: string | null, w: Window, group = 1): string {
  const attrs: Record<string, Attr> = { strides: ints(w.strides), dilations: ints(w.dilations), ...padAttrs(w.pad, size, w.strides, w.dilations) }
  if (group !== 1) attrs.group = int(group)
  return b.toNhwc(b.op('Conv', [b.toNchw(x), kernel, ...(bias ? [bias] : [])], attrs))
}

/** MaxPool / AveragePool of an NHWC tensor; NHWC out. */
export function pool(b: OnnxBuilder, op: 'MaxPool' | 'AveragePool', x: string, size: Pair, strides: Pair, pad: 'same' | 'valid'): string {
  return b.toNhwc(b.op(op, [b.toNchw(x)], { kernel_shape: ints(size), strides: ints(strides), ...padAttrs(pad, size, strides, [1, 1]) }))
}
