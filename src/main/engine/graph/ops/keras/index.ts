/**
 * Kernels of TF.js layers models (domain 'keras'): one per Keras layer class, op type = the class name,
 * attributes = the layer's config, weights as the node's last inputs (config.ts). Each follows what
 * tfjs-layers' call() computes at inference, with the same tfjs ops.
 */
import type { OpKernel } from '../types'
import * as act from './activations'
import { conv2D, conv2DTranspose, depthwiseConv2D, separableConv2D } from './conv'
import * as core from './core'
import * as geometry from './geometry'
import * as merge from './merge'
import { batchNormalization } from './normalization'
import * as pool from './pooling'

export const KERAS_DOMAIN = 'keras'

const KERNELS: Readonly<Record<string, OpKernel>> = {
  Conv2D: conv2D,
  DepthwiseConv2D: depthwiseConv2D,
  SeparableConv2D: separableConv2D,
  Conv2DTranspose: conv2DTranspose,
  Dense: core.dense,
  Flatten: core.flatten,
  Reshape: core.reshape,
  Permute: core.permute,
  Rescaling: core.rescaling,
  Dropout: core.inferenceIdentity,
  SpatialDropout1D: core.inferenceIdentity,
  SpatialDropout2D: core.inferenceIdentity,
  GaussianNoise: core.inferenceIdentity,
  GaussianDropout: core.inferenceIdentity,
  AlphaDropout: core.inferenceIdentity,
  Activation: act.activation,
  ReLU: act.reLU,
  LeakyReLU: act.leakyReLU,
  ELU: act.eLU,
  ThresholdedReLU: act.thresholdedReLU,
  Softmax: act.softmax,
  PReLU: act.pReLU,
  MaxPooling2D: pool.maxPooling2D,
  AveragePooling2D: pool.averagePooling2D,
  GlobalAveragePooling2D: pool.globalAveragePooling2D,
  GlobalMaxPooling2D: pool.globalMaxPooling2D,
  BatchNormalization: batchNormalization,
  Add: merge.add,
  Subtract: merge.subtract,
  Multiply: merge.multiply,
  Average: merge.average,
  Maximum: merge.maximum,
  Minimum: merge.minimum,
  Concatenate: merge.concatenate,
  ZeroPadding2D: geometry.zeroPadding2D,
  Cropping2D: geometry.cropping2D,
  UpSampling2D: geometry.upSampling2D,
}

/** The Keras layer classes that have a kernel, sorted. */
export const SUPPORTED_KERAS_LAYERS: readonly string[] = Object.keys(KERNELS).sort()

export function kerasKernelFor(className: string): OpKernel | undefined {
  return Object.hasOwn(KERNELS, className) ? KERNELS[className] : undefined
}
