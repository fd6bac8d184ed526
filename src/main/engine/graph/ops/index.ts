/**
 * The registry of ONNX ops implemented in tfjs: kernelFor(opType, domain) and the sorted list of supported op
 * types (the executor names the unsupported ones of a model before running it; the README lists these).
 * One file per op family; every kernel follows types.ts.
 */
import * as activation from './activation'
import { conv, convTranspose } from './conv'
import * as elementwise from './elementwise'
import { KERAS_DOMAIN, kerasKernelFor } from './keras'
import { gemm, matMul } from './linear'
import { batchNormalization, instanceNormalization, layerNormalization, lrn } from './normalization'
import { averagePool, globalAveragePool, globalMaxPool, maxPool } from './pool'
import * as reduce from './reduce'
import { resize, upsample } from './resize'
import * as shape from './shape'
import { tfKernelFor } from './tf'
import type { OpKernel } from './types'

export { UnsupportedOpError, type OpKernel, type OpNode } from './types'
export { int32Values } from './attributes'
export { holdPreparedWeights, releasePreparedWeights } from './weightCache'

const KERNELS: Readonly<Record<string, OpKernel>> = {
  // convolution, pooling, normalization
  Conv: conv,
  ConvTranspose: convTranspose,
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalAveragePool,
  GlobalMaxPool: globalMaxPool,
  BatchNormalization: batchNormalization,
  LRN: lrn,
  InstanceNormalization: instanceNormalization,
  LayerNormalization: layerNormalization,
  // activations
  Relu: activation.relu,
  LeakyRelu: activation.leakyRelu,
  PRelu: activation.prelu,
  Clip: activation.clip,
  Sigmoid: activation.sigmoid,
  HardSigmoid: activation.hardSigmoid,
  HardSwish: activation.hardSwish,
  Tanh: activation.tanh,
  Erf: activation.erf,
  Gelu: activation.gelu,
  Elu: activation.elu,
  Softplus: activation.softplus,
  Softmax: activation.softmax,
  LogSoftmax: activation.logSoftmax,
  // elementwise
  Add: elementwise.add,
  Sub: elementwise.sub,
  Mul: elementwise.mul,
  Div: elementwise.div,
  Pow: elementwise.pow,
  Max: elementwise.max,
  Min: elementwise.min,
  Sum: elementwise.sum,
  Mean: elementwise.mean,
  Sqrt: elementwise.sqrt,
  Neg: elementwise.neg,
  Abs: elementwise.abs,
  Exp: elementwise.exp,
  Log: elementwise.log,
  Reciprocal: elementwise.reciprocal,
  Floor: elementwise.floor,
  Ceil: elementwise.ceil,
  Equal: elementwise.equal,
  Greater: elementwise.greater,
  Less: elementwise.less,
  GreaterOrEqual: elementwise.greaterOrEqual,
  LessOrEqual: elementwise.lessOrEqual,
  And: elementwise.and,
  Or: elementwise.or,
  Not: elementwise.not,
  Where: elementwise.where,
  // linear
  Gemm: gemm,
  MatMul: matMul,
  // reductions
  ReduceMean: reduce.reduceMean,
  ReduceMax: reduce.reduceMax,
  ReduceMin: reduce.reduceMin,
  ReduceSum: reduce.reduceSum,
  ReduceProd: reduce.reduceProd,
  ReduceSumSquare: reduce.reduceSumSquare,
  ReduceL1: reduce.reduceL1,
  ReduceL2: reduce.reduceL2,
  ReduceLogSumExp: reduce.reduceLogSumExp,
  ArgMax: reduce.argMax,
  ArgMin: reduce.argMin,
  // shape and data movement
  Flatten: shape.flatten,
  Reshape: shape.reshape,
  Concat: shape.concat,
  Transpose: shape.transpose,
  Pad: shape.pad,
  Shape: shape.shape,
  Size: shape.size,
  Gather: shape.gather,
  Unsqueeze: shape.unsqueeze,
  Squeeze: shape.squeeze,
  Slice: shape.slice,
  Split: shape.split,
  Tile: shape.tile,
  Resize: resize,
  Upsample: upsample,
  Range: shape.range,
  Expand: shape.expand,
  Cast: shape.cast,
  Constant: shape.constant,
  ConstantOfShape: shape.constantOfShape,
  Identity: shape.identity,
  Dropout: shape.dropout,
}

/** The op types of the default ONNX domain that have a kernel, sorted. */
export const SUPPORTED_OPS: readonly string[] = Object.keys(KERNELS).sort()

/** The kernel of an op of the default domain ('' or 'ai.onnx'); undefined for any other op or domain. */
export function kernelFor(opType: string, domain: string): OpKernel | undefined {
  if (domain === KERAS_DOMAIN) return kerasKernelFor(opType) // Keras layer classes of TF.js layers models (graph/fromKerasLayers.ts)
  if (domain === 'tf') return tfKernelFor(opType) // TensorFlow ops of TF.js graph models (graph/fromTfGraph.ts)
  if (domain !== '' && domain !== 'ai.onnx') return undefined
  return Object.hasOwn(KERNELS, opType) ? KERNELS[opType] : undefined
}
