/**
 * The training loop for the demo networks: Adam with a linear warm-up then cosine decay, seeded shuffling,
 * seeded flips and shifts, and an evaluation on the held-out split after every epoch.
 *
 * Everything random is drawn from one seeded stream (shuffles, augmentation, dropout seeds), and the
 * initial weights come from seeded initializers, so a run is repeatable on one backend. Backends differ
 * in the order of floating-point sums, so wasm and cpu runs drift apart slowly (see docs/training.md).
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type Preprocessing } from '../../shared/api'
import { Rng } from '../engine/rng'
import type { DemoNet } from './architectures'
import { batchInput, type AugmentDraw, type Augmentation, type InMemorySplit } from './dataset'

export interface TrainOptions {
  epochs: number
  batchSize: number
  /** Peak learning rate (after warm-up). */
  learningRate: number
  /** Warm-up length in epochs (linear from 0 to the peak); then cosine decay to 0 at the end. */
  warmupEpochs: number
  augmentation: Augmentation
  seed: number
  /** Called after each epoch's evaluation. */
  onEpoch?: (record: EpochRecord) => void
  /** Called after every step. */
  onStep?: (step: number, steps: number, loss: number) => void
  signal?: AbortSignal
}

export interface EpochRecord {
  epoch: number
  /** Learning rate at the epoch's last step. */
  learningRate: number
  /** Mean over the epoch's steps, with augmentation and dropout on (as trained). */
  trainLoss: number
  trainTop1: number
  valLoss: number
  valTop1: number
  valTop5: number
  /** Wall time of the epoch's training steps (without the evaluation). */
  trainSeconds: number
  /** Wall time of the epoch including evaluation. */
  seconds: number
}

export interface Evaluation {
  loss: number
  top1: number
  top5: number
  images: number
}

/** Learning rate at `step` of `steps`: linear warm-up, then half a cosine down to zero. */
export function learningRateAt(step: number, steps: number, peak: number, warmupSteps: number): number {
  if (step < warmupSteps) return (peak * (step + 1)) / warmupSteps
  const t = (step - warmupSteps) / Math.max(1, steps - warmupSteps)
  return peak * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, t)))
}

/** Loss and top-1/top-5 accuracy of the network's logits on a split, in inference mode. */
export function evaluate(net: DemoNet, split: InMemorySplit, pre: Preprocessing, batchSize = 64): Evaluation {
  const classes = net.spec.classes
  const k = Math.min(5, classes)
  let loss = 0
  let top1 = 0
  let top5 = 0
  for (let start = 0; start < split.count; start += batchSize) {
    const n = Math.min(batchSize, split.count - start)
    const indices = Int32Array.from({ length: n }, (_, i) => start + i)
    const [l, c1, c5] = tf.tidy(() => {
      const x = tf.tensor4d(batchInput(split, indices, pre), [n, split.side, split.side, 3])
      const labels = tf.tensor1d(split.labels.subarray(start, start + n), 'int32')
      const logits = net.logitsModel.apply(x, { training: false }) as tf.Tensor2D
      const sum = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, classes), logits, undefined, undefined, tf.Reduction.SUM)
      const { indices: top } = tf.topk(logits, k)
      const hits = top.equal(labels.expandDims(1)).cast('float32')
      return [sum, hits.slice([0, 0], [n, 1]).sum(), hits.sum()].map((t) => t.dataSync()[0]!)
    })
    loss += l!
    top1 += c1!
    top5 += c5!
  }
  return { loss: loss / split.count, top1: top1 / split.count, top5: top5 / split.count, images: split.count }
}

/** Train `net` in place; returns the per-epoch history. */
export function trainNet(net: DemoNet, train: InMemorySplit, val: InMemorySplit, pre: Preprocessing, options: TrainOptions): EpochRecord[] {
  const rng = Rng.from('convscope-train', net.spec.kind, options.seed)
  const stepsPerEpoch = Math.floor(train.count / options.batchSize) // drop the ragged last batch: one shape, steady speed
  if (stepsPerEpoch < 1) throw new RangeError(`the training split has ${train.count} images, fewer than one batch of ${options.batchSize}`)
  const steps = stepsPerEpoch * options.epochs
  const warmupSteps = Math.round(options.warmupEpochs * stepsPerEpoch)
  const optimizer = tf.train.adam(options.learningRate)
  // tfjs reads the optimizer's learning rate at every step; it has no public setter.
  const setLearningRate = (lr: number) => ((optimizer as unknown as { learningRate: number }).learningRate = lr)
  const variables = net.logitsModel.trainableWeights.map((w) => w.read() as tf.Variable)
  const { side } = train
  const classes = net.spec.classes
  const history: EpochRecord[] = []
  let step = 0
  try {
    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      const started = performance.now()
      const order = rng.permutation(train.count)
      let lossSum = 0
      let correct = 0
      let lr = 0
      for (let b = 0; b < stepsPerEpoch; b++, step++) {
        if (options.signal?.aborted) throw new ConvscopeError('CANCELLED', 'training was cancelled')
        const indices = order.subarray(b * options.batchSize, (b + 1) * options.batchSize)
        const draws = Array.from(indices, (): AugmentDraw => {
          const { shift, flip } = options.augmentation
          return { flip: flip && rng.chance(0.5), dx: shift ? rng.intIn(-shift, shift) : 0, dy: shift ? rng.intIn(-shift, shift) : 0 }
        })
        // A fixed dropout seed would repeat one mask at every step: give each step its own.
        // (Never 0: tfjs takes 0 as "no seed".)
        for (const d of net.dropouts) (d as unknown as { seed?: number }).seed = rng.u32() || 1
        lr = learningRateAt(step, steps, options.learningRate, warmupSteps)
        setLearningRate(lr)
        const [loss, hits] = tf.tidy(() => {
          const n = indices.length
          const x = tf.tensor4d(batchInput(train, indices, pre, draws), [n, side, side, 3])
          const labels = tf.tensor1d(Int32Array.from(indices, (i) => train.labels[i]!), 'int32')
          const y = tf.oneHot(labels, classes)
          let hitCount: tf.Scalar | null = null
          const cost = optimizer.minimize(
            () => {
              const logits = net.logitsModel.apply(x, { training: true }) as tf.Tensor2D
              hitCount = tf.keep(logits.argMax(1).equal(labels).sum() as tf.Scalar)
              return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar
            },
            true,
            variables,
          )!
          const kept = hitCount as tf.Scalar | null
          const hitValue = kept!.dataSync()[0]!
          kept!.dispose() // kept out of minimize's own tidy: ours to free
          return [cost.dataSync()[0]!, hitValue]
        })
        if (!Number.isFinite(loss)) throw new Error(`training of ${net.spec.kind} diverged at step ${step} (loss ${loss})`)
        lossSum += loss!
        correct += hits!
        options.onStep?.(step + 1, steps, loss!)
      }
      const trainSeconds = (performance.now() - started) / 1000
      const v = evaluate(net, val, pre)
      const record: EpochRecord = {
        epoch,
        learningRate: lr,
        trainLoss: lossSum / stepsPerEpoch,
        trainTop1: correct / (stepsPerEpoch * options.batchSize),
        valLoss: v.loss,
        valTop1: v.top1,
        valTop5: v.top5,
        trainSeconds,
        seconds: (performance.now() - started) / 1000,
      }
      history.push(record)
      options.onEpoch?.(record)
    }
  } finally {
    for (const d of net.dropouts) (d as unknown as { seed?: number }).seed = undefined
    optimizer.dispose()
  }
  return history
}
