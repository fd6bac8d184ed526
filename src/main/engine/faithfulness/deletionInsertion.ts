/**
 * Deletion and insertion curves (Petsiuk, Das & Saenko, "RISE: Randomized Input Sampling for Explanation of
 * Black-box Models", BMVC 2018, section 4.1): how faithful a class map is to the network it explains.
 *
 * The map (upsampled bilinearly to the input grid) orders the input pixels, most important first.
 * - Deletion: starting from the image, replace the first n pixels of that order by a baseline, for
 *   n = 0 … all; a faithful map makes the class probability fall fast: low area under the curve is good.
 * - Insertion: starting from the baseline, put the first n pixels of the image back; a faithful map makes
 *   the probability rise fast: high area is good.
 * Baselines (RISE's choice, in the model's normalised input space): deletion replaces pixels by 0 there,
 * i.e. by the normalisation mean (black for the demo networks, whose mean is 0 and std 1); insertion starts
 * from the image blurred with a Gaussian (σ = 5 px as in RISE's code, reflected at the borders, so the blur
 * keeps the colours and removes shapes and textures). Both are options ('zero' | 'mean' | 'blur').
 *
 * The score is the softmax probability of the class computed from the logits (maps/classScores.ts), or the
 * logit itself with `score: 'logit'`. Steps: `points` evenly spaced fractions 0, 1/(points−1), …, 1 of the
 * pixels (default 51: 2 % of the pixels per step); n = round(fraction × pixels). All steps of both curves go
 * through the network in batches of `batchSize` images, so one image costs ceil(2 × points / batchSize)
 * forward passes. AUC is the trapezoid rule over the fractions (an x-axis of [0, 1]).
 * Pixels with equal map values are ordered by a seeded random permutation (so ties do not favour the top
 * rows); the "random" baseline method orders all pixels that way.
 */
import { basename } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ImageEntry } from '../../../shared/api'
import { throwIfCancelled, type JobContext } from '../context'
import { datasetImages } from '../datasets/datasetImages'
import { runDatasetLoop } from '../datasets/datasetLoop'
import { decodeImage } from '../datasets/decodeImage'
import { hashParts, Rng } from '../rng'
import { type ModelInput, toInputTensor } from '../images/preprocess'
import { classLogits } from '../maps/classScores'
import type { ClassMap, MapMethod, MapOptions } from '../maps/types'
import type { LoadedModel } from '../model'

export type Baseline = 'zero' | 'mean' | 'blur'

export interface CurveOptions {
  /** Points on each curve, fractions 0 … 1 evenly spaced; default 51 (2 % of the pixels per step). */
  points?: number
  /** Images per forward pass; default 32. */
  batchSize?: number
  /** What deleted pixels become; default 'zero' (0 in the normalised input space). */
  deletion?: Baseline
  /** What insertion starts from; default 'blur'. */
  insertion?: Baseline
  /** σ of the Gaussian blur in input pixels; default 5 (RISE). */
  blurSigma?: number
  /** The score on the curves: the class's softmax probability (default) or its logit. */
  score?: 'probability' | 'logit'
}

export interface Curve {
  /** Fraction of the pixels deleted (or inserted) at each point, 0 → 1. */
  fractions: number[]
  scores: number[]
  /** Trapezoid rule over `fractions`. */
  auc: number
}

export interface CurvesResult {
  classIndex: number
  deletion: Curve
  insertion: Curve
  /** Forward passes the two curves took. */
  forwardPasses: number
}

export const DEFAULT_POINTS = 51
export const DEFAULT_BATCH = 32
export const DEFAULT_BLUR_SIGMA = 5

/** Area under y(x) by the trapezoid rule. */
export function trapezoidAuc(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new Error(`trapezoidAuc: ${x.length} x values but ${y.length} y values`)
  let area = 0
  for (let i = 1; i < x.length; i++) area += ((y[i]! + y[i - 1]!) / 2) * (x[i]! - x[i - 1]!)
  return area
}

/** The map on a height × width grid: bilinear with half-pixel centres (as tf.image.resizeBilinear with halfPixelCenters), edges clamped. */
export function upsampleMap(map: Pick<ClassMap, 'height' | 'width' | 'values'>, height: number, width: number): Float32Array {
  if (map.height === height && map.width === width) return Float32Array.from(map.values)
  const out = new Float32Array(height * width)
  const axis = (n: number, from: number) =>
    Array.from({ length: n }, (_, i) => {
      const s = Math.min(Math.max(((i + 0.5) * from) / n - 0.5, 0), from - 1)
      const lo = Math.floor(s)
      return { lo, hi: Math.min(lo + 1, from - 1), t: s - lo }
    })
  const ys = axis(height, map.height)
  const xs = axis(width, map.width)
  const v = map.values
  for (let y = 0; y < height; y++) {
    const { lo: y0, hi: y1, t: ty } = ys[y]!
    for (let x = 0; x < width; x++) {
      const { lo: x0, hi: x1, t: tx } = xs[x]!
      const top = v[y0 * map.width + x0]! * (1 - tx) + v[y0 * map.width + x1]! * tx
      const bottom = v[y1 * map.width + x0]! * (1 - tx) + v[y1 * map.width + x1]! * tx
      out[y * width + x] = top * (1 - ty) + bottom * ty
    }
  }
  return out
}

/** A seeded random permutation of 0 … n−1. */
export function randomOrder(n: number, seed: number | string): Int32Array {
  return new Rng(hashParts(['faithfulness', seed])).permutation(n)
}

/** Pixel indices by decreasing value; equal values in the seeded random order. */
export function pixelOrder(values: Float32Array, seed: number | string = 0): Int32Array {
  const tieRank = new Int32Array(values.length)
  randomOrder(values.length, seed).forEach((pixel, rank) => (tieRank[pixel] = rank))
  const order = Int32Array.from({ length: values.length }, (_, i) => i)
  return order.sort((a, b) => values[b]! - values[a]! || tieRank[a]! - tieRank[b]!)
}

/** The baseline image [1, h, w, c] for `input` [1, h, w, c]. */
export function baselineImage(input: tf.Tensor4D, kind: Baseline, blurSigma = DEFAULT_BLUR_SIGMA): tf.Tensor4D {
  return tf.tidy(() => {
    switch (kind) {
      case 'zero':
        return tf.zerosLike(input)
      case 'mean':
        return tf.onesLike(input).mul(input.mean([1, 2], true)) as tf.Tensor4D
      case 'blur':
        return gaussianBlur(input, blurSigma)
    }
  })
}

/** Separable Gaussian blur, radius ceil(3σ) limited by the image, borders reflected. */
export function gaussianBlur(input: tf.Tensor4D, sigma: number): tf.Tensor4D {
  if (!(sigma > 0)) throw new ConvscopeError('BAD_REQUEST', `The blur σ must be positive, got ${sigma}`)
  const [, h, w, c] = input.shape
  return tf.tidy(() => {
    let x = input
    for (const axis of [1, 2] as const) {
      const radius = Math.min(Math.ceil(3 * sigma), (axis === 1 ? h : w) - 1)
      if (radius < 1) continue
      const taps = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)))
      const sum = taps.reduce((a, b) => a + b, 0)
      const kernel = tf.tensor1d(taps.map((t) => t / sum))
      const shape: [number, number, number, number] = axis === 1 ? [2 * radius + 1, 1, 1, 1] : [1, 2 * radius + 1, 1, 1]
      const filter = tf.tile(kernel.reshape(shape), [1, 1, c, 1]) as tf.Tensor4D
      const pad: [number, number][] = axis === 1 ? [[0, 0], [radius, radius], [0, 0], [0, 0]] : [[0, 0], [0, 0], [radius, radius], [0, 0]]
      x = tf.depthwiseConv2d(tf.mirrorPad(x, pad, 'reflect'), filter, 1, 'valid')
    }
    return x
  })
}

/**
 * The deletion and insertion curves of `classIndex` for one input [1, h, w, c] and a pixel order (most
 * important first, every pixel once). The caller keeps `input`.
 */
export async function deletionInsertionCurves(model: LoadedModel, input: tf.Tensor4D, classIndex: number, order: Int32Array, options: CurveOptions = {}): Promise<CurvesResult> {
  const [n, h, w] = input.shape
  if (n !== 1) throw new ConvscopeError('BAD_REQUEST', `Faithfulness curves take one image [1, h, w, c]; got shape [${input.shape.join(', ')}]`)
  const pixels = h * w
  if (order.length !== pixels) throw new ConvscopeError('BAD_REQUEST', `The pixel order has ${order.length} entries but the input has ${h}×${w} = ${pixels} pixels`)
  const points = options.points ?? DEFAULT_POINTS
  const batchSize = options.batchSize ?? DEFAULT_BATCH
  if (!Number.isInteger(points) || points < 2) throw new ConvscopeError('BAD_REQUEST', `A curve needs at least 2 points, got ${points}`)
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConvscopeError('BAD_REQUEST', `The batch size must be a positive integer, got ${batchSize}`)

  const fractions = Array.from({ length: points }, (_, k) => k / (points - 1))
  const counts = fractions.map((f) => Math.round(f * pixels))
  // rank[p] = where pixel p comes in the order: "the first m pixels" is rank < m.
  const rankValues = new Float32Array(pixels).fill(-1)
  order.forEach((p, r) => (rankValues[p] = r))
  if (rankValues.some((r) => r < 0)) throw new ConvscopeError('BAD_REQUEST', 'The pixel order does not list every pixel exactly once')
  const rank = tf.tensor4d(rankValues, [1, h, w, 1])
  const deleted = baselineImage(input, options.deletion ?? 'zero', options.blurSigma)
  const start = baselineImage(input, options.insertion ?? 'blur', options.blurSigma)

  // Steps 0 … points−1 are deletion, points … 2·points−1 insertion: image i shows `image` where mask is 0 and `other` where it is 1.
  const jobs = [...counts.map((m) => ({ m, deletion: true })), ...counts.map((m) => ({ m, deletion: false }))]
  const scores: number[] = []
  let forwardPasses = 0
  try {
    for (let b = 0; b < jobs.length; b += batchSize) {
      const chunk = jobs.slice(b, b + batchSize)
      const picked = tf.tidy(() => {
        const firstM = tf.less(rank, tf.tensor4d(chunk.map((j) => j.m), [chunk.length, 1, 1, 1])).toFloat() // [b, h, w, 1]: 1 for the first m pixels
        const isDeletion = tf.tensor4d(chunk.map((j) => (j.deletion ? 1 : 0)), [chunk.length, 1, 1, 1])
        // Deletion: first m pixels from the baseline. Insertion: first m pixels from the image, the rest from the blur.
        const fromImage = isDeletion.mul(tf.scalar(1).sub(firstM)).add(tf.scalar(1).sub(isDeletion).mul(firstM))
        const other = isDeletion.mul(deleted).add(tf.scalar(1).sub(isDeletion).mul(start))
        const batch = fromImage.mul(input).add(tf.scalar(1).sub(fromImage).mul(other)) as tf.Tensor4D
        const logits = classLogits(model, batch)
        const s = options.score === 'logit' ? logits : tf.softmax(logits)
        return s.gather([classIndex], 1).reshape([chunk.length])
      })
      forwardPasses++
      scores.push(...(await picked.data()))
      picked.dispose()
    }
  } finally {
    tf.dispose([rank, deleted, start])
  }
  const curve = (ys: number[]): Curve => ({ fractions, scores: ys, auc: trapezoidAuc(fractions, ys) })
  return { classIndex, deletion: curve(scores.slice(0, points)), insertion: curve(scores.slice(points)), forwardPasses }
}

// ---------------------------------------------------------------------------------------------------
// With a map method, for one image and over a folder
// ---------------------------------------------------------------------------------------------------

/** A map method, or the random ordering (the baseline every method should beat). */
export type OrderingMethod = MapMethod | 'random'

export const methodName = (m: OrderingMethod) => (m === 'random' ? 'random' : m.name)
export const methodLabel = (m: OrderingMethod) => (m === 'random' ? 'Random order' : m.label)

export interface ImageFaithfulness extends CurvesResult {
  method: string
  /** The map the order came from (null for random). */
  map: ClassMap | null
  /** Milliseconds computing the map and the curves. */
  mapMilliseconds: number
  curveMilliseconds: number
}

/** The top-1 class of one input. */
async function topClass(model: LoadedModel, input: tf.Tensor4D): Promise<number> {
  const best = tf.tidy(() => classLogits(model, input).argMax(1))
  const [c] = await best.data()
  best.dispose()
  return c!
}

/**
 * The seed of an image's random order (and tie-breaking): its file name, so one image gets the same random
 * baseline wherever its folder lies and whether it is measured alone or in a folder.
 */
export function randomOrderSeed(imagePath: string): string {
  return basename(imagePath)
}

/** The curves of one input [1, h, w, c] for `classIndex` (default: the top-1 class), ordered by `method`'s map. */
export async function imageFaithfulness(
  model: LoadedModel,
  input: tf.Tensor4D,
  method: OrderingMethod,
  options: CurveOptions & { classIndex?: number; mapOptions?: MapOptions; seed?: number | string } = {},
): Promise<ImageFaithfulness> {
  const [, h, w] = input.shape
  const classIndex = options.classIndex ?? (await topClass(model, input))
  const seed = options.seed ?? 0
  const t0 = performance.now()
  let map: ClassMap | null = null
  let order: Int32Array
  if (method === 'random') {
    order = randomOrder(h * w, `${seed}/order`)
  } else {
    const why = method.unsupported(model)
    if (why) throw new ConvscopeError('UNSUPPORTED_OP', `${method.label} cannot run on ${model.info.name}: ${why}`)
    const result = await method.compute(model, input, [classIndex], options.mapOptions)
    map = result.maps[0] ?? null
    if (!map) throw new Error(`${method.label} returned no map for class ${classIndex}`)
    order = pixelOrder(upsampleMap(map, h, w), `${seed}/ties`)
  }
  const t1 = performance.now()
  const curves = await deletionInsertionCurves(model, input, classIndex, order, options)
  const t2 = performance.now()
  return { ...curves, method: methodName(method), map, mapMilliseconds: t1 - t0, curveMilliseconds: t2 - t1 }
}

export interface MethodSummary {
  method: string
  label: string
  images: number
  /** Mean over the images (also the AUC of the mean curve: the fractions are the same for every image). */
  deletionAuc: number
  insertionAuc: number
  deletion: Curve
  insertion: Curve
  /** Mean milliseconds per image for the map and for the two curves. */
  mapMilliseconds: number
  curveMilliseconds: number
}

export interface FolderFaithfulness {
  root: string
  /** Images listed (after `limit`). */
  images: number
  methods: MethodSummary[]
  skipped: { path: string; reason: string }[]
  seconds: number
}

/**
 * Mean deletion and insertion curves of each method over the images under `root` (every image explained for
 * its top-1 class), streamed one image at a time with progress and cancellation. `limit` takes that many
 * images spread evenly over the sorted list (so every class of a class tree).
 */
export async function folderFaithfulness(
  model: LoadedModel,
  root: string,
  methods: OrderingMethod[],
  options: CurveOptions & { limit?: number; mapOptions?: MapOptions },
  ctx: JobContext,
): Promise<FolderFaithfulness> {
  const started = performance.now()
  if (methods.length === 0) throw new ConvscopeError('BAD_REQUEST', 'No map method to evaluate')
  for (const m of methods) {
    const why = m === 'random' ? null : m.unsupported(model)
    if (why) throw new ConvscopeError('UNSUPPORTED_OP', `${methodLabel(m)} cannot run on ${model.info.name}: ${why}`)
  }
  const { folder, entries } = await datasetImages(root, options.limit)
  const sums = methods.map(() => ({ images: 0, deletion: [] as number[], insertion: [] as number[], mapMs: 0, curveMs: 0 }))
  const skipped = await runDatasetLoop({
    items: entries,
    load: (entry) => decodeImage(entry.path, model.info.preprocessing),
    compute: async ({ loaded }) => {
      for (const { item, loaded: image } of loaded) await imageCurves(item, image.input)
    },
    pathOf: (entry) => entry.path,
    signal: ctx.signal,
    onProgress: (p) => ctx.progress(p),
  })

  /** Every method's curves of one image, added to the sums. */
  async function imageCurves(entry: ImageEntry, input: ModelInput): Promise<void> {
    const x = toInputTensor(input)
    try {
      const classIndex = await topClass(model, x)
      for (const [j, method] of methods.entries()) {
        const r = await imageFaithfulness(model, x, method, { ...options, classIndex, seed: randomOrderSeed(entry.path) })
        const s = sums[j]!
        s.images++
        s.mapMs += r.mapMilliseconds
        s.curveMs += r.curveMilliseconds
        r.deletion.scores.forEach((v, k) => (s.deletion[k] = (s.deletion[k] ?? 0) + v))
        r.insertion.scores.forEach((v, k) => (s.insertion[k] = (s.insertion[k] ?? 0) + v))
        throwIfCancelled(ctx)
      }
    } finally {
      x.dispose()
    }
  }

  const points = options.points ?? DEFAULT_POINTS
  const fractions = Array.from({ length: points }, (_, k) => k / (points - 1))
  const mean = (sum: number[], count: number): Curve => {
    const scores = fractions.map((_, k) => (count ? sum[k]! / count : NaN))
    return { fractions, scores, auc: trapezoidAuc(fractions, scores) }
  }
  return {
    root: folder.root,
    images: entries.length,
    methods: methods.map((m, j) => {
      const s = sums[j]!
      const deletion = mean(s.deletion, s.images)
      const insertion = mean(s.insertion, s.images)
      return {
        method: methodName(m),
        label: methodLabel(m),
        images: s.images,
        deletionAuc: deletion.auc,
        insertionAuc: insertion.auc,
        deletion,
        insertion,
        mapMilliseconds: s.images ? s.mapMs / s.images : NaN,
        curveMilliseconds: s.images ? s.curveMs / s.images : NaN,
      }
    }),
    skipped,
    seconds: (performance.now() - started) / 1000,
  }
}
