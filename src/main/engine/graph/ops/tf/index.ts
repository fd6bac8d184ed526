/**
 * The registry of TensorFlow ops (domain 'tf', from TF.js graph models; fromTfGraph.ts) implemented in tfjs:
 * the ops the TF.js converter writes for image classifiers. Const and Placeholder are not here: the reader makes
 * them weights and the input.
 */
import type { OpKernel } from '../types'
import * as conv from './conv'
import * as image from './image'
import * as math from './math'
import * as shape from './shape'

const TF_KERNELS: Readonly<Record<string, OpKernel>> = {
  // convolution and pooling
  Conv2D: conv.conv2D,
  _FusedConv2D: conv.fusedConv2D,
  DepthwiseConv2dNative: conv.depthwiseConv2dNative,
  FusedDepthwiseConv2dNative: conv.fusedDepthwiseConv2dNative,
  MaxPool: conv.maxPool,
  AvgPool: conv.avgPool,
  // products and normalization
  MatMul: math.matMul,
  BatchMatMul: math.batchMatMul,
  BatchMatMulV2: math.batchMatMul,
  _FusedMatMul: math.fusedMatMul,
  BiasAdd: math.biasAdd,
  FusedBatchNorm: math.fusedBatchNorm,
  FusedBatchNormV2: math.fusedBatchNorm,
  FusedBatchNormV3: math.fusedBatchNorm,
  // arithmetic
  Add: math.add,
  AddV2: math.add,
  AddN: math.addN,
  Sub: math.sub,
  Mul: math.mul,
  RealDiv: math.div,
  Div: math.div,
  Maximum: math.maximum,
  Minimum: math.minimum,
  Pow: math.pow,
  SquaredDifference: math.squaredDifference,
  Sqrt: math.sqrt,
  Rsqrt: math.rsqrt,
  Square: math.square,
  Neg: math.neg,
  Exp: math.exp,
  Log: math.log,
  Abs: math.abs,
  // activations
  Relu: math.relu,
  Relu6: math.relu6,
  ClipByValue: math.clipByValue,
  LeakyRelu: math.leakyRelu,
  Prelu: math.prelu,
  Elu: math.elu,
  Selu: math.selu,
  Sigmoid: math.sigmoid,
  Tanh: math.tanh,
  Softplus: math.softplus,
  Softmax: math.softmax,
  LogSoftmax: math.logSoftmax,
  // reductions
  Mean: math.mean,
  Max: math.max,
  Min: math.min,
  Sum: math.sum,
  Prod: math.prod,
  // shape and data movement
  Reshape: shape.reshape,
  Squeeze: shape.squeeze,
  ExpandDims: shape.expandDims,
  ConcatV2: shape.concatV2,
  Pack: shape.pack,
  Transpose: shape.transpose,
  Pad: shape.pad,
  PadV2: shape.padV2,
  MirrorPad: shape.mirrorPad,
  Shape: shape.shape,
  StridedSlice: shape.stridedSlice,
  Cast: shape.cast,
  Identity: shape.identity,
  IdentityN: shape.identityN,
  StopGradient: shape.stopGradient,
  NoOp: shape.noOp,
  Slice: shape.slice,
  Split: shape.split,
  SplitV: shape.splitV,
  Unpack: shape.unpack,
  Tile: shape.tile,
  GatherV2: shape.gatherV2,
  ZerosLike: shape.zerosLike,
  OnesLike: shape.onesLike,
  Snapshot: shape.identity,
  // image resizing
  ResizeBilinear: image.resizeBilinear,
  ResizeNearestNeighbor: image.resizeNearestNeighbor,
}

/** The TensorFlow op types that have a kernel, sorted. */
export const SUPPORTED_TF_OPS: readonly string[] = Object.keys(TF_KERNELS).sort()

/** The kernel of a TensorFlow op, or undefined. */
export function tfKernelFor(opType: string): OpKernel | undefined {
  return Object.hasOwn(TF_KERNELS, opType) ? TF_KERNELS[opType] : undefined
}
