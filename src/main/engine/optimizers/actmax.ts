/**
 * Activation maximization ("visualizing arbitrary neurons"): images optimised with Adam so that the target of
 * engine/targets.ts is as large as it gets. Each step: the parameterization makes the images in RGB [0, 1]
 * (index.ts), each image is seen through its own random jitter / scale / rotation (transforms.ts), the model's
 * preprocessing is applied (so the optimised image is the picture itself), and the objective is the mean of the
 * target over the images (a unit at 'max': each image's own spatial max) minus `diversity` × Lucid's diversity
 * term (pairwise cosine similarity of the images' Gram matrices at a layer), differentiated with Lucid's redirected
 * ReLUs (graph/ops/reluRule.ts: a dead unit's image still moves); then the regularizers
 * (regularizers.ts). All randomness comes from one seeded stream: the same seed and settings give the same images.
 */
import { setImmediate } from 'node:timers/promises'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ActmaxSettings, type Preprocessing } from '../../../shared/api'
import { withReluRule } from '../graph/ops/reluRule'
import { defaultMapLayer } from '../maps'
import type { LoadedModel } from '../model'
import { Rng } from '../rng'
import { targetScores, type TargetPlan } from '../targets'
import { parameterization } from './index'
import { checkRegularizers, regularize } from './regularizers'
import { IDENTITY, randomAffines, transformImages } from './transforms'

export interface OptimizedImage {
  /** size × size × 3, RGB in [0, 1], row-major. */
  rgb: Float32Array
  /** The target on the image as it is (no transform). */
  value: number
}

export interface OptimizedImages {
  size: number
  images: OptimizedImage[]
  /** Per step: the mean target over the transformed images, before the diversity term and the regularizers. */
  objective: number[]
  stepMilliseconds: number
}

export interface MaximizeHooks {
  /** After each step (`done` counts from 1); `preview` holds the images when one is due (every previewEvery steps, and the last); awaited. */
  onStep?(done: number, total: number, preview: { images: Float32Array[]; size: number } | null): void | Promise<void>
  /** Checked between steps: CANCELLED once aborted. */
  signal?: AbortSignal
}

/** BAD_REQUEST for settings that cannot run on `model` (the zod schema checked each field alone). */
export function checkSettings(model: LoadedModel, plan: TargetPlan, s: ActmaxSettings): void {
  checkRegularizers(s)
  if (s.scales.length === 0) throw new ConvscopeError('BAD_REQUEST', 'scales needs at least one scale (1 for none)')
  if (s.diversity > 0 && s.images < 2) throw new ConvscopeError('BAD_REQUEST', `diversity pushes several images apart: set images ≥ 2 (got ${s.images})`)
  if (s.diversity > 0 && !diversityLayer(model, plan)) throw new ConvscopeError('BAD_REQUEST', `Model ${model.info.name} has no spatial layer for the diversity term`)
}

/** Where the diversity term compares the images: the target's layer when it is spatial, else the last spatial layer before the head. */
function diversityLayer(model: LoadedModel, plan: TargetPlan): string | null {
  return plan.layer && plan.grid ? plan.layer : defaultMapLayer(model)
}

/** Optimise `settings.images` images for `plan`'s target. */
export async function maximize(model: LoadedModel, plan: TargetPlan, settings: ActmaxSettings, hooks: MaximizeHooks = {}): Promise<OptimizedImages> {
  checkSettings(model, plan, settings)
  const divLayer = settings.diversity > 0 ? diversityLayer(model, plan) : null
  return maximizeScores(model, (input) => targetScores(model, input, plan), settings, hooks, divLayer)
}

/**
 * The loop itself, for any per-image objective: `scores(input [n, h, w, c])` → [n], differentiable (e.g. a different
 * unit per image, as bench/actmaxQuality.ts runs all units of a layer in one batch: Adam is elementwise, so the
 * images of a batch optimise independently). `divLayer`: where the diversity term reads, null for none.
 */
export async function maximizeScores(
  model: LoadedModel,
  scores: (input: tf.Tensor4D) => tf.Tensor1D,
  settings: ActmaxSettings,
  hooks: MaximizeHooks = {},
  divLayer: string | null = null,
): Promise<OptimizedImages> {
  checkRegularizers(settings)
  const [height, width] = model.info.inputShape as [number, number, number]
  const size = settings.size ?? Math.max(height, width)
  const n = settings.images
  const rng = Rng.from('actmax', settings.seed)
  const image = parameterization(settings.parameterization).create(n, size, rng)
  const optimizer = tf.train.adam(settings.learningRate)
  const toInput = preprocessing(model.info.preprocessing)
  const objective: number[] = []
  const started = performance.now()
  try {
    for (let step = 0; step < settings.steps; step++) {
      if (hooks.signal?.aborted) throw new ConvscopeError('CANCELLED', 'Cancelled by the user')
      const affines = randomAffines(rng, n, settings)
      const kept: { mean?: tf.Scalar } = {}
      // The objective's gradient (R in reluRule.ts's sense, which the redirected ReLUs read: a unit dead on the grey
      // start still gets a gradient to leave it); Adam minimises, so it gets the negated gradient.
      const { value, grads } = withReluRule('redirected', () => tf.variableGrads(() => {
        const input = toInput(transformImages(image.rgb(), affines, height, width))
        const mean = tf.keep(tf.mean(scores(input)) as tf.Scalar)
        kept.mean = mean
        return (divLayer && settings.diversity > 0 ? tf.sub(mean, tf.mul(settings.diversity, diversity(model, input, divLayer))) : mean) as tf.Scalar
      }, image.variables))
      const descent = Object.entries(grads).map(([name, g]) => ({ name, tensor: tf.neg(g) }))
      optimizer.applyGradients(descent)
      tf.dispose(descent.map((d) => d.tensor))
      // Contribution clipping reads ∂objective/∂pixels.
      const pixelGradient = image.pixels && settings.clipContributionsPercentile > 0 ? (grads[image.pixels.name] as tf.Tensor4D) : null
      image.project()
      regularize(image, settings, step, pixelGradient)
      objective.push((await kept.mean!.data())[0]!)
      tf.dispose([value, kept.mean!, ...Object.values(grads)])
      const previewDue = settings.previewEvery > 0 && ((step + 1) % settings.previewEvery === 0 || step + 1 === settings.steps)
      await hooks.onStep?.(step + 1, settings.steps, previewDue ? { images: await pixelsOf(image.rgb(), n), size } : null)
      await setImmediate() // a turn of the event loop, so a cancel message can arrive
    }
    const stepMilliseconds = (performance.now() - started) / settings.steps
    const rgb = image.rgb()
    const final = tf.tidy(() => scores(toInput(transformImages(rgb, Array(n).fill(IDENTITY), height, width))))
    const values = Array.from(await final.data())
    final.dispose()
    const pixels = await pixelsOf(rgb, n)
    return { size, images: pixels.map((p, i) => ({ rgb: p, value: values[i]! })), objective, stepMilliseconds }
  } finally {
    optimizer.dispose()
    image.dispose()
  }
}

/** The model's preprocessing of RGB [0, 1] images, as tensor ops (images/preprocess.ts normalize: range, channel order, mean, std). */
export function preprocessing(pre: Pick<Preprocessing, 'channelOrder' | 'range' | 'mean' | 'std'>): (rgb: tf.Tensor4D) => tf.Tensor4D {
  const [lo, hi] = pre.range
  const identity = lo === 0 && hi === 1 && pre.channelOrder === 'RGB' && pre.mean.every((m) => m === 0) && pre.std.every((s) => s === 1)
  return (rgb) => {
    if (identity) return rgb
    const ordered = pre.channelOrder === 'BGR' ? tf.reverse(rgb, 3) : rgb
    const mean = tf.tensor1d(pre.mean)
    const std = tf.tensor1d(pre.std)
    return tf.div(tf.sub(tf.add(tf.mul(ordered, hi - lo), lo), mean), std) as tf.Tensor4D
  }
}

/** Lucid's diversity: Σ_{i≠j} cos(G_i, G_j) / n over the images' Gram matrices at `layer`. */
function diversity(model: LoadedModel, input: tf.Tensor4D, layer: string): tf.Scalar {
  const [out] = model.forward(input, [layer])
  const n = input.shape[0]
  const channels = out!.shape[out!.rank - 1]!
  const flat = out!.reshape([n, -1, channels])
  const grams = tf.matMul(flat, flat, true, false).reshape([n, channels * channels])
  const unit = tf.div(grams, tf.maximum(tf.norm(grams, 'euclidean', 1, true), 1e-10))
  const similarity = tf.matMul(unit, unit, false, true)
  return tf.div(tf.sub(tf.sum(similarity), tf.sum(tf.mul(similarity, tf.eye(n)))), n) as tf.Scalar
}

/** Each image of [n, s, s, 3] as its own array; disposes `rgb`. */
async function pixelsOf(rgb: tf.Tensor4D, n: number): Promise<Float32Array[]> {
  const data = (await rgb.data()) as Float32Array
  rgb.dispose()
  const each = data.length / n
  return Array.from({ length: n }, (_, i) => data.slice(i * each, (i + 1) * each))
}
