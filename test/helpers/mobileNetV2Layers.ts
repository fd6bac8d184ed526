/**
 * A third-party-style MobileNetV2 as a TF.js layers model folder (Keras' layer names and structure: ReLU6,
 * DepthwiseConv2D, BatchNormalization, inverted residual Add, GlobalAveragePooling2D, Dense softmax), with seeded
 * weights (test/fixtures' seededRandom) and non-trivial batch-norm statistics, for the toOnnx tests and benches.
 *
 * `alpha` scales the widths and `blocks` cuts the 17 inverted residual blocks short (tests use a small one; the
 * full one at 224² is MobileNetV2-size: ≈ 3.5 M parameters at α = 1).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { fsIOHandler } from '../../src/main/engine/models/fsIOHandler'
import { seededRandom } from '../fixtures/models'

export interface MobileNetV2Options {
  /** Input side; default 224. */
  size?: number
  /** Width multiplier; default 1. */
  alpha?: number
  /** How many of the 17 inverted residual blocks; default all. */
  blocks?: number
  classes?: number
  seed?: number
}

/** [expansion t, output channels c, stride s] of each inverted residual block (the paper's table 2, expanded). */
const BLOCKS: readonly [number, number, number][] = [
  [1, 16, 1],
  [6, 24, 2], [6, 24, 1],
  [6, 32, 2], [6, 32, 1], [6, 32, 1],
  [6, 64, 2], [6, 64, 1], [6, 64, 1], [6, 64, 1],
  [6, 96, 1], [6, 96, 1], [6, 96, 1],
  [6, 160, 2], [6, 160, 1], [6, 160, 1],
  [6, 320, 1],
]

/** Keras' _make_divisible: channels rounded to a multiple of 8, never more than 10 % below. */
function divisible(v: number): number {
  const rounded = Math.max(8, Math.floor((v + 4) / 8) * 8)
  return rounded < 0.9 * v ? rounded + 8 : rounded
}

/** Build the model (weights seeded), save it to `dir`, dispose it; returns `dir`. */
export async function mobileNetV2Layers(dir: string, options: MobileNetV2Options = {}): Promise<string> {
  const size = options.size ?? 224
  const alpha = options.alpha ?? 1
  const classes = options.classes ?? 1000
  const rand = seededRandom(options.seed ?? 5)
  // Seeded initial values: a fresh random stream per weight.
  const init = () => tf.initializers.glorotUniform({ seed: Math.floor(rand() * 1e6) })
  const between = (lo: number, hi: number) => tf.initializers.randomUniform({ minval: lo, maxval: hi, seed: Math.floor(rand() * 1e6) })
  let n = 0
  const bn = (x: tf.SymbolicTensor, name: string) =>
    tf.layers
      .batchNormalization({
        name,
        epsilon: 1e-3,
        momentum: 0.999,
        gammaInitializer: between(0.6, 1.4),
        betaInitializer: between(-0.2, 0.2),
        movingMeanInitializer: between(-0.3, 0.3),
        movingVarianceInitializer: between(0.4, 1.6),
      })
      .apply(x) as tf.SymbolicTensor
  const relu6 = (x: tf.SymbolicTensor, name: string) => tf.layers.reLU({ name, maxValue: 6 }).apply(x) as tf.SymbolicTensor
  const conv = (x: tf.SymbolicTensor, name: string, filters: number, kernelSize: number, strides: number) =>
    tf.layers.conv2d({ name, filters, kernelSize, strides, padding: 'same', useBias: false, kernelInitializer: init() }).apply(x) as tf.SymbolicTensor

  const input = tf.input({ shape: [size, size, 3], name: 'input_1' })
  let x = relu6(bn(conv(input, 'Conv1', divisible(32 * alpha), 3, 2), 'bn_Conv1'), 'Conv1_relu')
  let channels = divisible(32 * alpha)
  const blocks = BLOCKS.slice(0, options.blocks ?? BLOCKS.length)
  for (const [i, [t, c, s]] of blocks.entries()) {
    const out = divisible(c * alpha)
    const prefix = i === 0 ? 'expanded_conv_' : `block_${i}_`
    const shortcut = x
    let y = x
    if (t !== 1) y = relu6(bn(conv(y, `${prefix}expand`, channels * t, 1, 1), `${prefix}expand_BN`), `${prefix}expand_relu`)
    y = tf.layers
      .depthwiseConv2d({ name: `${prefix}depthwise`, kernelSize: 3, strides: s, padding: 'same', useBias: false, depthwiseInitializer: init() })
      .apply(y) as tf.SymbolicTensor
    y = relu6(bn(y, `${prefix}depthwise_BN`), `${prefix}depthwise_relu`)
    y = bn(conv(y, `${prefix}project`, out, 1, 1), `${prefix}project_BN`)
    if (s === 1 && channels === out) y = tf.layers.add({ name: `${prefix}add` }).apply([shortcut, y]) as tf.SymbolicTensor
    x = y
    channels = out
    n++
  }
  const last = alpha > 1 ? divisible(1280 * alpha) : 1280
  x = relu6(bn(conv(x, 'Conv_1', n === BLOCKS.length ? last : Math.max(64, channels * 2), 1, 1), 'Conv_1_bn'), 'out_relu')
  x = tf.layers.globalAveragePooling2d({ name: 'global_average_pooling2d' }).apply(x) as tf.SymbolicTensor
  x = tf.layers.dense({ name: 'predictions', units: classes, activation: 'softmax', kernelInitializer: init(), biasInitializer: between(-0.1, 0.1) }).apply(x) as tf.SymbolicTensor
  const model = tf.model({ inputs: input, outputs: x, name: `mobilenetv2_${alpha}_${size}` })
  await mkdir(dir, { recursive: true })
  await model.save(fsIOHandler(dir))
  model.dispose()
  return dir
}

/**
 * The model of mobileNetV2Layers as a folder the window opens (model.json + weights + convscope.json): the
 * ImageNet-style sidecar of Keras' MobileNetV2 (inputs scaled to [-1, 1], stretched to the input size) and a
 * labels.txt of `labels` (one class each). Returns `dir`.
 */
export async function mobileNetV2Folder(dir: string, labels: readonly string[], options: Omit<MobileNetV2Options, 'classes'> = {}): Promise<string> {
  const size = options.size ?? 224
  await mobileNetV2Layers(dir, { ...options, classes: labels.length })
  await writeFile(join(dir, 'labels.txt'), labels.join('\n') + '\n')
  const sidecar = { inputSize: [size, size], channelOrder: 'RGB', range: [-1, 1], mean: [0, 0, 0], std: [1, 1, 1], resize: 'stretch', labels: 'labels.txt' }
  await writeFile(join(dir, 'convscope.json'), JSON.stringify(sidecar, null, 2) + '\n')
  return dir
}
