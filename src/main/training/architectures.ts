/**
 * The demo networks: one convolutional trunk, three heads.
 *
 *   gap  trunk → conv_last → GlobalAveragePooling2D `gap` → Dense `predictions` (linear logits) → Softmax `probs`
 *   gmp  the same with GlobalMaxPooling2D `gmp`
 *   fc   trunk → conv_last → MaxPooling `pool_last` (to 4×4) → Flatten → Dense `fc6` (ReLU) → Dropout
 *        → Dense `fc7` (ReLU) → Dense `predictions` (logits) → Softmax `probs`
 *
 * gap is the network of Zhou et al. 2016 ("Learning Deep Features for Discriminative Localization",
 * section 2): one linear layer after global average pooling, so a class's logit is the bias plus the mean
 * over space of (last-conv features · that class's weights), and that product is its class activation map.
 * The logits stay a layer of their own (the softmax is a separate layer) so CAM can read them directly.
 * gmp is the paper's GAP-vs-GMP comparison; fc is a classic flatten + fc6/fc7 head, for fc7 codes and Grad-CAM.
 *
 * Every initializer gets its own seed, numbered in layer order from the network's seed, so the same seed
 * gives the same initial weights.
 */
import * as tf from '@tensorflow/tfjs'

export type DemoNetKind = 'gap' | 'gmp' | 'fc'
export const DEMO_NET_KINDS: readonly DemoNetKind[] = ['gap', 'gmp', 'fc']

export interface DemoNetSpec {
  kind: DemoNetKind
  /** Square input side in pixels. */
  inputSize: number
  classes: number
  /**
   * Filters of the conv blocks; each block is `convsPerBlock` 3×3 convs then a 2×2 max pool, except the last
   * entry, which is the single conv `conv_last` (no pool after it). Its map is inputSize / 2^(blocks) wide.
   */
  widths: readonly number[]
  /** Convs per block (one number for all blocks, or one per block). */
  convsPerBlock: number | readonly number[]
  /** Downsampling between blocks. */
  pooling: 'max' | 'avg'
  /** Batch normalization after every trunk conv (not after conv_last, whose ReLU output CAM reads). */
  batchNorm: boolean
  /** fc head: units of fc6 and fc7, the map side before Flatten, and fc6's dropout rate. */
  fcUnits: number
  fcPoolTo: number
  dropout: number
  seed: number
}

/** The trained demo networks' settings (see docs/training.md for why these). */
export const DEFAULT_SPEC: Omit<DemoNetSpec, 'kind' | 'classes' | 'seed'> = {
  inputSize: 64,
  widths: [16, 32, 96, 192],
  convsPerBlock: [1, 1, 2],
  pooling: 'avg',
  batchNorm: true,
  fcUnits: 256,
  fcPoolTo: 4,
  dropout: 0.5,
}

/** Layer names the workbench and the tests rely on. */
export const LAYER = {
  convLast: 'conv_last',
  gap: 'gap',
  gmp: 'gmp',
  poolLast: 'pool_last',
  flatten: 'flatten',
  fc6: 'fc6',
  fc6Dropout: 'fc6_dropout',
  fc7: 'fc7',
  logits: 'predictions',
  probs: 'probs',
} as const

export interface DemoNet {
  /** The whole network, input → probs: what is saved and what the workbench opens. */
  model: tf.LayersModel
  /** The same layers up to the logits, for a numerically stable training loss. */
  logitsModel: tf.LayersModel
  /** Dropout layers, whose seeds the training loop sets per step (a fixed seed would repeat one mask). */
  dropouts: tf.layers.Layer[]
  spec: DemoNetSpec
}

export function buildDemoNet(spec: DemoNetSpec): DemoNet {
  let k = 0
  // Never 0: tfjs takes a seed of 0 as "no seed" and draws from Math.random (tfjs-core MPRandGauss, UniformRandom).
  const nextSeed = () => spec.seed * 1000 + ++k
  const heNormal = () => tf.initializers.heNormal({ seed: nextSeed() })
  const glorot = () => tf.initializers.glorotUniform({ seed: nextSeed() })
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor) => layer.apply(x) as tf.SymbolicTensor

  const blocks = spec.widths.length - 1
  const lastSide = spec.inputSize / 2 ** blocks
  if (!Number.isInteger(lastSide)) throw new RangeError(`inputSize ${spec.inputSize} is not divisible by 2^${blocks}`)

  const input = tf.input({ shape: [spec.inputSize, spec.inputSize, 3], name: 'input' })
  let x = input
  for (let b = 0; b < blocks; b++) {
    const convs = typeof spec.convsPerBlock === 'number' ? spec.convsPerBlock : spec.convsPerBlock[b]!
    for (let c = 0; c < convs; c++) {
      const name = `conv${b + 1}_${c + 1}`
      if (spec.batchNorm) {
        // conv → BN → ReLU: the conv's bias would only be cancelled by BN's mean.
        x = apply(tf.layers.conv2d({ name, filters: spec.widths[b]!, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: heNormal() }), x)
        x = apply(tf.layers.batchNormalization({ name: `${name}_bn`, momentum: 0.9 }), x)
        x = apply(tf.layers.reLU({ name: `${name}_relu` }), x)
      } else {
        x = apply(tf.layers.conv2d({ name, filters: spec.widths[b]!, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: heNormal() }), x)
      }
    }
    const pool = spec.pooling === 'max' ? tf.layers.maxPooling2d : tf.layers.averagePooling2d
    x = apply(pool({ name: `pool${b + 1}`, poolSize: 2, strides: 2 }), x)
  }
  // conv_last keeps its own ReLU (no BN after it): its output is the feature map CAM weights.
  x = apply(
    tf.layers.conv2d({ name: LAYER.convLast, filters: spec.widths[blocks]!, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: heNormal() }),
    x,
  )

  const dropouts: tf.layers.Layer[] = []
  if (spec.kind === 'gap') {
    x = apply(tf.layers.globalAveragePooling2d({ name: LAYER.gap }), x)
  } else if (spec.kind === 'gmp') {
    x = apply(tf.layers.globalMaxPooling2d({ name: LAYER.gmp }), x)
  } else {
    const pool = lastSide / spec.fcPoolTo
    if (!Number.isInteger(pool) || pool < 1) throw new RangeError(`conv_last is ${lastSide}×${lastSide}; cannot pool it to ${spec.fcPoolTo}×${spec.fcPoolTo}`)
    if (pool > 1) x = apply(tf.layers.maxPooling2d({ name: LAYER.poolLast, poolSize: pool, strides: pool }), x)
    x = apply(tf.layers.flatten({ name: LAYER.flatten }), x)
    x = apply(tf.layers.dense({ name: LAYER.fc6, units: spec.fcUnits, activation: 'relu', kernelInitializer: heNormal() }), x)
    const dropout = tf.layers.dropout({ name: LAYER.fc6Dropout, rate: spec.dropout })
    dropouts.push(dropout)
    x = apply(dropout, x)
    x = apply(tf.layers.dense({ name: LAYER.fc7, units: spec.fcUnits, activation: 'relu', kernelInitializer: heNormal() }), x)
  }
  const logits = apply(tf.layers.dense({ name: LAYER.logits, units: spec.classes, activation: 'linear', kernelInitializer: glorot() }), x)
  const probs = apply(tf.layers.softmax({ name: LAYER.probs }), logits)
  const model = tf.model({ inputs: input, outputs: probs, name: `convscope_demo_${spec.kind}` })
  const logitsModel = tf.model({ inputs: input, outputs: logits, name: `convscope_demo_${spec.kind}_logits` })
  return { model, logitsModel, dropouts, spec }
}

/** The pooling layer right after conv_last in each network. */
export function poolingLayerOf(kind: DemoNetKind): string {
  return kind === 'gap' ? LAYER.gap : kind === 'gmp' ? LAYER.gmp : LAYER.flatten
}

/**
 * Names of the layers below conv_last that hold weights (convolutions and batch norms): the part of the
 * trunk one demo network can hand to another.
 */
export function lowerTrunkLayerNames(model: tf.LayersModel): string[] {
  const names = model.layers.map((l) => l.name)
  const last = names.indexOf(LAYER.convLast)
  if (last < 0) throw new Error(`${model.name} has no ${LAYER.convLast} layer`)
  return names.slice(0, last).filter((n) => model.getLayer(n).weights.length > 0)
}

/**
 * Start a network from another one's lower trunk: copy every weighted layer below conv_last (convolutions
 * and batch-norm statistics); conv_last and the head keep their fresh initialisation. This is how the
 * paper builds its GAP and GMP networks: remove the layers after conv5 of a trained network, add a conv
 * layer, global pooling and a softmax layer, and fine-tune (Zhou et al. 2016, section 2). Returns the
 * names copied.
 */
export function copyLowerTrunk(from: tf.LayersModel, to: tf.LayersModel): string[] {
  const names = lowerTrunkLayerNames(to)
  for (const name of names) {
    const source = from.getLayer(name)
    const target = to.getLayer(name)
    const weights = source.getWeights()
    const shapes = (ws: tf.Tensor[]) => JSON.stringify(ws.map((w) => w.shape))
    if (shapes(weights) !== shapes(target.getWeights())) throw new Error(`layer ${name}: weights ${shapes(weights)} do not fit ${shapes(target.getWeights())}`)
    // Clones: the two networks must not share buffers (freeing one would free the other's weights).
    tf.tidy(() => target.setWeights(weights.map((w) => w.clone())))
  }
  return names
}
