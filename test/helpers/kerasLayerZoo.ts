/**
 * A functional TF.js layers model that calls every supported Keras layer class the CNN tests need (shared layer,
 * nested Sequential, merges, geometry, activations), with seeded non-trivial weights (biases, batch-norm
 * statistics). The tfjs executor's parity test (kerasLayersExecutor.test.ts) and the ONNX writer's
 * (toOnnx.test.ts) both run it.
 */
import * as tf from '@tensorflow/tfjs'

export interface LayerZooOptions {
  /** Input height and width (default 16 × 16). */
  size?: [number, number]
  /** Add a Conv2DTranspose on the side branch (the ONNX writer has no form for it). Default true. */
  transposedConv?: boolean
  /** The SeparableConv2D's depth multiplier (default 2; tfjs-layers cannot load a saved one with 2: shape mismatch). */
  separableDepthMultiplier?: number
}

/**
 * The zoo: the logits' path ends in probs → log_probs (first output); a side branch off it (a dilated conv, a
 * ThresholdedReLU: tfjs has no gradient for the one, tfjs-layers none for the other) is the second output.
 * Returns the model and the layer classes it calls.
 */
export function kerasLayerZoo(options: LayerZooOptions = {}): { model: tf.LayersModel; classes: Set<string> } {
  const [height, width] = options.size ?? [16, 16]
  let k = 0
  const u = (minval: number, maxval: number) => tf.initializers.randomUniform({ minval, maxval, seed: 100 + k++ })
  const w = () => ({ kernelInitializer: u(-0.5, 0.5), biasInitializer: u(-0.3, 0.3) })
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor
  const input = tf.input({ shape: [height, width, 3], name: 'image' })
  let x = apply(tf.layers.rescaling({ name: 'rescale', scale: 2, offset: -1 }), input)
  x = apply(tf.layers.conv2d({ name: 'c_selu', filters: 4, kernelSize: 3, padding: 'same', activation: 'selu', ...w() }), x)
  x = apply(tf.layers.zeroPadding2d({ name: 'zpad', padding: [[1, 2], [0, 1]] }), x)
  x = apply(
    tf.layers.separableConv2d({ name: 'sep', filters: 6, kernelSize: 3, depthMultiplier: options.separableDepthMultiplier ?? 2, activation: 'tanh', depthwiseInitializer: u(-0.5, 0.5), pointwiseInitializer: u(-0.5, 0.5), biasInitializer: u(-0.3, 0.3) }),
    x,
  )
  x = apply(tf.layers.cropping2D({ name: 'crop', cropping: [[1, 0], [0, 2]] }), x)
  x = apply(tf.layers.upSampling2d({ name: 'up_bilinear', size: [2, 1], interpolation: 'bilinear' }), x)
  x = apply(tf.layers.upSampling2d({ name: 'up_nearest', size: [1, 2] }), x)
  x = apply(tf.layers.averagePooling2d({ name: 'avg_same', poolSize: 3, strides: 2, padding: 'same' }), x)
  x = apply(tf.layers.maxPooling2d({ name: 'max_same', poolSize: 2, strides: 1, padding: 'same' }), x)
  x = apply(tf.layers.leakyReLU({ name: 'lrelu', alpha: 0.2 }), x)
  x = apply(tf.layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 2, activation: 'sigmoid', depthwiseInitializer: u(-0.5, 0.5), biasInitializer: u(-0.3, 0.3) }), x)
  const a = apply(tf.layers.conv2d({ name: 'c_hard', filters: 12, kernelSize: 1, activation: 'hardSigmoid', ...w() }), x)
  const b = apply(tf.layers.conv2d({ name: 'c_softplus', filters: 12, kernelSize: 1, activation: 'softplus', ...w() }), x)
  const mul = apply(tf.layers.multiply({ name: 'mul' }), [a, b])
  const avg = apply(tf.layers.average({ name: 'avg' }), [a, b])
  const max = apply(tf.layers.maximum({ name: 'max' }), [a, b])
  const min = apply(tf.layers.minimum({ name: 'min' }), [a, b, mul])
  const sum = apply(tf.layers.add({ name: 'sum' }), [a, b, max])
  // One layer called twice: two nodes over the same weights.
  const shared = tf.layers.conv2d({ name: 'shared', filters: 12, kernelSize: 3, padding: 'same', activation: 'relu6', ...w() })
  const s1 = apply(shared, mul)
  const s2 = apply(shared, avg)
  x = apply(tf.layers.concatenate({ name: 'cat', axis: -1 }), [s1, s2, sum, min])
  x = apply(
    tf.layers.batchNormalization({ name: 'bn', gammaInitializer: u(0.5, 1.5), betaInitializer: u(-0.2, 0.2), movingMeanInitializer: u(-0.2, 0.2), movingVarianceInitializer: u(0.5, 1.5) }),
    x,
  )
  x = apply(tf.layers.reLU({ name: 'relu_max', maxValue: 0.8 }), x)
  x = apply(tf.layers.elu({ name: 'elu' }), x)
  x = apply(tf.layers.prelu({ name: 'prelu', alphaInitializer: u(0, 0.5) }), x)
  let side = apply(tf.layers.conv2d({ name: 'c_dilated', filters: 3, kernelSize: 2, dilationRate: 2, ...w() }), x)
  side = apply(tf.layers.thresholdedReLU({ name: 'thr', theta: 0.1 }), side)
  if (options.transposedConv ?? true) side = apply(tf.layers.conv2dTranspose({ name: 'deconv', filters: 2, kernelSize: 3, strides: 2, activation: 'sigmoid', ...w() }), side)
  side = apply(tf.layers.permute({ name: 'permute', dims: [2, 1, 3] }), side)
  x = apply(tf.layers.conv2d({ name: 'c_swish', filters: 8, kernelSize: 2, activation: 'swish', ...w() }), x)
  const pooled = apply(tf.layers.maxPooling2d({ name: 'max_valid', poolSize: [2, 1], strides: [1, 1] }), x)
  const inner = tf.sequential({
    name: 'nested',
    layers: [
      tf.layers.conv2d({ name: 'inner_conv', inputShape: pooled.shape.slice(1) as number[], filters: 5, kernelSize: 1, activation: 'mish', ...w() }),
      tf.layers.globalMaxPooling2d({ name: 'inner_gmp' }),
    ],
  })
  const nested = apply(inner, pooled)
  const gap = apply(tf.layers.globalAveragePooling2d({ name: 'gap' }), pooled)
  x = apply(tf.layers.concatenate({ name: 'vec' }), [nested, gap])
  x = apply(tf.layers.dense({ name: 'd_gelu', units: 20, activation: 'gelu', ...w() }), x)
  x = apply(tf.layers.batchNormalization({ name: 'bn_vec', movingMeanInitializer: u(-0.2, 0.2), movingVarianceInitializer: u(0.5, 1.5) }), x)
  x = apply(tf.layers.dropout({ name: 'drop', rate: 0.5 }), x)
  x = apply(tf.layers.reshape({ name: 'reshape', targetShape: [4, 5] }), x)
  x = apply(tf.layers.dense({ name: 'd_3d', units: 6, activation: 'elu', ...w() }), x)
  x = apply(tf.layers.activation({ name: 'act_softsign', activation: 'softsign' }), x)
  x = apply(tf.layers.flatten({ name: 'flat' }), x)
  const logits = apply(tf.layers.dense({ name: 'logits', units: 5, ...w() }), x)
  const probs = apply(tf.layers.softmax({ name: 'probs', axis: -1 }), logits)
  // logSoftmax is registered in tfjs-layers but missing from its ActivationIdentifier type.
  const out = apply(tf.layers.activation({ name: 'log_probs', activation: 'logSoftmax' as 'softmax' }), probs)
  const model = tf.model({ inputs: input, outputs: [out, side], name: 'zoo' })
  return { model, classes: new Set([...model.layers, ...inner.layers].map((l) => l.getClassName())) }
}
