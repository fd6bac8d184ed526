/**
 * Activations as ONNX nodes, shared by the Keras and TF translators (the same functions graph/ops/keras/activations.ts
 * and graph/ops/tf/math.ts apply): each takes the ONNX tensor and returns the activated one.
 */
import { float, int, type OnnxBuilder } from './builder'

export type OnnxActivation = (b: OnnxBuilder, x: string) => string

const unary =
  (op: string): OnnxActivation =>
  (b, x) =>
    b.op(op, [x])

export const clip = (b: OnnxBuilder, x: string, lo: number, hi: number): string => b.op('Clip', [x, b.scalar(lo), b.scalar(hi)])

/** By Keras activation name (tfjs-layers' activations.ts); gelu_new (tanh approximation) is not written. */
export const KERAS_ACTIVATIONS: Readonly<Record<string, OnnxActivation>> = {
  linear: (_, x) => x,
  relu: unary('Relu'),
  relu6: (b, x) => clip(b, x, 0, 6),
  elu: unary('Elu'),
  // ONNX's Selu defaults are TensorFlow's constants.
  selu: unary('Selu'),
  sigmoid: unary('Sigmoid'),
  hardSigmoid: (b, x) => b.op('HardSigmoid', [x], { alpha: float(0.2), beta: float(0.5) }),
  softplus: unary('Softplus'),
  softsign: unary('Softsign'),
  tanh: unary('Tanh'),
  softmax: (b, x) => b.op('Softmax', [x], { axis: int(-1) }),
  logSoftmax: (b, x) => b.op('LogSoftmax', [x], { axis: int(-1) }),
  swish: (b, x) => b.op('Mul', [b.op('Sigmoid', [x]), x]),
  mish: (b, x) => b.op('Mul', [x, b.op('Tanh', [b.op('Softplus', [x])])]),
  gelu: (b, x) => b.op('Mul', [x, b.op('Mul', [b.scalar(0.5), b.op('Add', [b.scalar(1), b.op('Erf', [b.op('Div', [x, b.scalar(Math.SQRT2)])])])])]),
}

/** The fused activations of TF's _Fused* ops (graph/ops/tf/conv.ts's fusedTail), lower-cased; prelu takes its alpha tensor. */
export function tfFusedActivation(b: OnnxBuilder, x: string, name: string, leakyAlpha: number, preluAlpha: string | null): string {
  switch (name) {
    case 'linear':
      return x
    case 'relu':
      return b.op('Relu', [x])
    case 'relu6':
      return clip(b, x, 0, 6)
    case 'elu':
      return b.op('Elu', [x])
    case 'leakyrelu':
      return b.op('LeakyRelu', [x], { alpha: float(leakyAlpha) })
    case 'sigmoid':
      return b.op('Sigmoid', [x])
    case 'prelu':
      return b.op('PRelu', [x, preluAlpha!])
    default:
      throw new Error(`fused activation ${name}`)
  }
}
