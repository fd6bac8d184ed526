/**
 * Deletion and insertion curves (src/main/engine/faithfulness/deletionInsertion.ts) on models whose score is
 * a known function of the pixels: input → Flatten → Dense(2, linear) with hand-set weights, so the class-0
 * logit is Σ w_i x_i + b and its probability is sigmoid of that (class 1's logit is 0). Every expected
 * curve below is computed in plain JS from that formula, not through the code under test.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import * as tf from '@tensorflow/tfjs'
import sharp from 'sharp'
import { initBackend } from '../../src/main/engine/backend'
import {
  deletionInsertionCurves,
  folderFaithfulness,
  gaussianBlur,
  imageFaithfulness,
  pixelOrder,
  randomOrder,
  randomOrderSeed,
  trapezoidAuc,
  upsampleMap,
} from '../../src/main/engine/faithfulness/deletionInsertion'
import { toInputTensor, toModelInput } from '../../src/main/engine/images/preprocess'
import { readImage } from '../../src/main/engine/images/readImage'
import type { MapMethod } from '../../src/main/engine/maps/types'
import type { LoadedModel } from '../../src/main/engine/model'
import { fsIOHandler } from '../../src/main/engine/models/fsIOHandler'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { noopContext } from '../../src/main/engine/context'
import { handMadeMapMethod } from '../fixtures/mapMethods'

let scratch: string

before(async () => {
  await initBackend({ forced: 'cpu' })
  scratch = await mkdtemp(join(tmpdir(), 'convscope-faithfulness-'))
})
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

/** Save input [h, w, c] → Flatten → Dense(2) (class 0: kernel `weights`, bias `bias`; class 1: all 0) and open it. */
async function linearModel(name: string, h: number, w: number, c: number, weights: number[], bias = 0): Promise<LoadedModel> {
  const dir = join(scratch, name)
  const net = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [h, w, c], name: 'flat' }), tf.layers.dense({ units: 2, name: 'logits' })] })
  const kernel = tf.tensor2d(weights.flatMap((v) => [v, 0]), [h * w * c, 2])
  net.getLayer('logits').setWeights([kernel, tf.tensor1d([bias, 0])])
  await net.save(fsIOHandler(dir))
  await writeFile(join(dir, 'convscope.json'), JSON.stringify({ inputSize: [h, w], mean: [0, 0, 0], std: [1, 1, 1], range: [0, 1] }))
  net.dispose()
  return loadModel(dir)
}

/** Count forward passes and the batch sizes they saw. */
function counted(model: LoadedModel): { model: LoadedModel; batches: number[] } {
  const batches: number[] = []
  const wrapped: LoadedModel = Object.create(model) as LoadedModel
  wrapped.forward = (input, layers, options) => {
    batches.push(input.shape[0])
    return model.forward(input, layers, options)
  }
  return { model: wrapped, batches }
}

const sigmoid = (s: number) => 1 / (1 + Math.exp(-s))

test('hand-computed curves: 2×2 pixels, weights 4, 3, 2, 1 on an all-ones image, logit score', async () => {
  const model = await linearModel('hand', 2, 2, 1, [4, 3, 2, 1])
  try {
    const x = tf.ones([1, 2, 2, 1]) as tf.Tensor4D
    // Ideal order 0, 1, 2, 3; 5 points = one pixel per step. Deletion (to 0): 10, 6, 3, 1, 0. Insertion from 0 ('zero'): 0, 4, 7, 9, 10.
    const r = await deletionInsertionCurves(model, x, 0, Int32Array.from([0, 1, 2, 3]), { points: 5, score: 'logit', deletion: 'zero', insertion: 'zero' })
    assert.deepEqual(r.deletion.fractions, [0, 0.25, 0.5, 0.75, 1])
    r.deletion.scores.forEach((s, i) => assert.ok(Math.abs(s - [10, 6, 3, 1, 0][i]!) < 1e-5, `deletion step ${i}: ${s}`))
    r.insertion.scores.forEach((s, i) => assert.ok(Math.abs(s - [0, 4, 7, 9, 10][i]!) < 1e-5, `insertion step ${i}: ${s}`))
    // Trapezoids of width 1/4: (8 + 4.5 + 2 + 0.5) / 4 and (2 + 5.5 + 8 + 9.5) / 4.
    assert.ok(Math.abs(r.deletion.auc - 3.75) < 1e-5)
    assert.ok(Math.abs(r.insertion.auc - 6.25) < 1e-5)
    // The reversed order deletes the small weights first: (9.5 + 8 + 5.5 + 2) / 4.
    const rev = await deletionInsertionCurves(model, x, 0, Int32Array.from([3, 2, 1, 0]), { points: 5, score: 'logit', deletion: 'zero', insertion: 'zero' })
    assert.ok(Math.abs(rev.deletion.auc - 6.25) < 1e-5)
    x.dispose()
  } finally {
    model.dispose()
  }
})

test('probability curves match sigmoid(Σ w x + b) step by step; the ideal order beats the reversed one; passes are batched', async () => {
  // 4×4×3 image, weights of both signs, a bias; deletion to 0, insertion from the per-channel mean.
  const h = 4
  const w = 4
  const n = h * w * 3
  const weights = Array.from({ length: n }, (_, i) => ((i * 7) % 11) / 5 - 0.8)
  const pixels = Array.from({ length: n }, (_, i) => ((i * 5) % 9) / 8)
  const bias = -0.3
  const loaded = await linearModel('signed', h, w, 3, weights, bias)
  const { model, batches } = counted(loaded)
  try {
    const x = tf.tensor4d(pixels, [1, h, w, 3])
    const mean = [0, 1, 2].map((c) => pixels.filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0) / (h * w))
    const contribution = Array.from({ length: h * w }, (_, p) => [0, 1, 2].reduce((a, c) => a + weights[p * 3 + c]! * pixels[p * 3 + c]!, 0))
    const ideal = Int32Array.from([...contribution.keys()].sort((a, b) => contribution[b]! - contribution[a]!))
    const points = 9 // 16 pixels: 0, 2, 4, … 16
    const expected = (order: Int32Array) => {
      const del: number[] = []
      const ins: number[] = []
      for (let k = 0; k < points; k++) {
        const first = new Set(order.slice(0, Math.round((k / (points - 1)) * h * w)))
        let sd = bias
        let si = bias
        for (let p = 0; p < h * w; p++) {
          for (let c = 0; c < 3; c++) {
            const wx = weights[p * 3 + c]!
            sd += first.has(p) ? 0 : wx * pixels[p * 3 + c]!
            si += first.has(p) ? wx * pixels[p * 3 + c]! : wx * mean[c]!
          }
        }
        del.push(sigmoid(sd))
        ins.push(sigmoid(si))
      }
      return { del, ins }
    }
    for (const order of [ideal, ideal.slice().reverse(), randomOrder(h * w, 'x')]) {
      batches.length = 0
      const r = await deletionInsertionCurves(model, x, 0, order, { points, batchSize: 5, deletion: 'zero', insertion: 'mean' })
      const e = expected(order)
      r.deletion.scores.forEach((s, k) => assert.ok(Math.abs(s - e.del[k]!) < 1e-5, `deletion ${k}: ${s} vs ${e.del[k]}`))
      r.insertion.scores.forEach((s, k) => assert.ok(Math.abs(s - e.ins[k]!) < 1e-5, `insertion ${k}: ${s} vs ${e.ins[k]}`))
      assert.ok(Math.abs(r.deletion.auc - trapezoidAuc(r.deletion.fractions, e.del)) < 1e-6)
      // 2 curves × 9 points = 18 images in batches of 5: 4 forward passes of 5, 5, 5, 3 images.
      assert.equal(r.forwardPasses, 4)
      assert.deepEqual(batches, [5, 5, 5, 3])
    }
    const best = await deletionInsertionCurves(model, x, 0, ideal, { points, deletion: 'zero', insertion: 'mean' })
    const worst = await deletionInsertionCurves(model, x, 0, ideal.slice().reverse(), { points, deletion: 'zero', insertion: 'mean' })
    assert.ok(best.deletion.auc < worst.deletion.auc, `deletion AUC ideal ${best.deletion.auc} < reversed ${worst.deletion.auc}`)
    assert.ok(best.insertion.auc > worst.insertion.auc, `insertion AUC ideal ${best.insertion.auc} > reversed ${worst.insertion.auc}`)
    assert.equal(best.forwardPasses, 1, '18 images fit one default batch of 32')
    x.dispose()
  } finally {
    loaded.dispose()
  }
})

test('pixel order from a map: bilinear upsampling as tf.image.resizeBilinear (half-pixel centres), ties in a seeded order', () => {
  const map = { height: 2, width: 3, values: Float32Array.from([0, 1, 5, 2, 2, -1]) }
  const up = upsampleMap(map, 5, 7)
  const reference = tf.image.resizeBilinear(tf.tensor3d(map.values, [2, 3, 1]), [5, 7], false, true).dataSync()
  up.forEach((v, i) => assert.ok(Math.abs(v - reference[i]!) < 1e-5, `pixel ${i}`))

  const values = Float32Array.from([3, 1, 3, 3, 0, 1])
  const order = pixelOrder(values, 'a')
  assert.deepEqual([...order].sort(), [0, 1, 2, 3, 4, 5])
  assert.deepEqual(new Set(order.slice(0, 3)), new Set([0, 2, 3]))
  assert.deepEqual(new Set(order.slice(3, 5)), new Set([1, 5]))
  assert.equal(order[5], 4)
  assert.deepEqual(pixelOrder(values, 'a'), order, 'same seed, same order')
  const orders = new Set(['a', 'b', 'c', 'd', 'e', 'f'].map((s) => pixelOrder(values, s).slice(0, 3).join()))
  assert.ok(orders.size > 1, 'the tie order depends on the seed')
  assert.notDeepEqual(randomOrder(100, 1), randomOrder(100, 2))
})

test('the blur keeps a constant image constant (reflected borders, no dark edges) and matches a 2-D Gaussian inside', () => {
  const flat = tf.fill([1, 9, 11, 3], 0.7) as tf.Tensor4D
  gaussianBlur(flat, 2).dataSync().forEach((v) => assert.ok(Math.abs(v - 0.7) < 1e-5))
  const impulse = tf.buffer([1, 21, 21, 1])
  impulse.set(1, 0, 10, 10, 0)
  const blurred = gaussianBlur(impulse.toTensor() as tf.Tensor4D, 1.5).dataSync()
  const g = (d: number) => Math.exp(-(d * d) / (2 * 1.5 * 1.5))
  const norm = Array.from({ length: 11 }, (_, i) => g(i - 5)).reduce((a, b) => a + b, 0) // radius ceil(4.5) = 5
  for (const [y, x] of [[10, 10], [12, 9], [7, 14]] as const) {
    const want = (g(y - 10) * g(x - 10)) / (norm * norm)
    assert.ok(Math.abs(blurred[y * 21 + x]! - want) < 1e-6, `(${y}, ${x}): ${blurred[y * 21 + x]} vs ${want}`)
  }
  flat.dispose()
})

test('imageFaithfulness orders by the method\'s map (upsampled) for the top-1 class; "random" is seeded', async () => {
  const weights = Array.from({ length: 8 * 8 * 3 }, (_, i) => (Math.floor(i / 3) % 8 < 4 ? 1 : -0.5) * 0.05)
  const model = await linearModel('halves', 8, 8, 3, weights, 0.1)
  try {
    const x = tf.fill([1, 8, 8, 3], 0.5) as tf.Tensor4D
    // A 2×2 map that says "the left half": upsampled, the left four columns come first.
    const leftHalf: MapMethod = {
      name: 'cam',
      label: 'left half',
      ...handMadeMapMethod,
      unsupported: () => null,
      compute: async (_m, _x, classes) => ({ layer: 'hand', maps: classes.map((classIndex) => ({ classIndex, score: 0, height: 2, width: 2, values: Float32Array.from([1, 0, 1, 0]) })) }),
    }
    const r = await imageFaithfulness(model, x, leftHalf, { points: 3, deletion: 'zero', insertion: 'zero', score: 'logit' })
    assert.equal(r.classIndex, 0, 'logit 0.1 + 0.5·(96·0.05 − 96·0.025) > 0: class 0 is the top-1')
    // Deleting the left half removes +2.4, leaving 0.1 − 1.2; deleting everything leaves the bias.
    assert.deepEqual(r.deletion.scores.map((s) => Number(s.toFixed(4))), [1.3, -1.1, 0.1])
    assert.equal(r.map?.height, 2)

    const a = await imageFaithfulness(model, x, 'random', { points: 5, seed: 'img-1' })
    const b = await imageFaithfulness(model, x, 'random', { points: 5, seed: 'img-1' })
    const c = await imageFaithfulness(model, x, 'random', { points: 5, seed: 'img-2' })
    assert.deepEqual(a.deletion.scores, b.deletion.scores)
    assert.notDeepEqual(a.deletion.scores, c.deletion.scores)
    assert.equal(a.map, null)
    x.dispose()
  } finally {
    model.dispose()
  }
})

test('over a folder: mean curves of the images, progress per image, skipped files listed, cancellation', async () => {
  const weights = Array.from({ length: 6 * 6 * 3 }, (_, i) => ((i % 3) - 1) * 0.3)
  const model = await linearModel('folder', 6, 6, 3, weights)
  const data = join(scratch, 'images')
  await mkdir(join(data, 'a'), { recursive: true })
  await mkdir(join(data, 'b'), { recursive: true })
  const colours = [[250, 10, 10], [10, 250, 10], [10, 10, 250]]
  for (const [i, [r, g, b]] of colours.entries()) {
    await sharp({ create: { width: 6, height: 6, channels: 3, background: { r: r!, g: g!, b: b! } } }).png().toFile(join(data, i < 2 ? 'a' : 'b', `${i}.png`))
  }
  await writeFile(join(data, 'b', 'broken.png'), 'not a png')
  try {
    const progress: number[] = []
    const ctx = { progress: (p: { done: number }) => progress.push(p.done), signal: new AbortController().signal }
    const result = await folderFaithfulness(model, data, ['random'], { points: 4 }, ctx)
    assert.equal(result.images, 4)
    assert.deepEqual(progress, [1, 2, 3, 4])
    assert.equal(result.skipped.length, 1)
    assert.match(result.skipped[0]!.path, /broken\.png$/)
    const [summary] = result.methods
    assert.equal(summary!.images, 3)
    // The mean of the per-image curves (each computed alone with the seed the folder run uses: the image's file name).
    const per: Awaited<ReturnType<typeof imageFaithfulness>>[] = []
    for (const [i, rel] of ['a/0.png', 'a/1.png', 'b/2.png'].entries()) {
      const [r, g, b] = colours[i]!
      const x = tf.tensor4d(Array.from({ length: 36 }, () => [r! / 255, g! / 255, b! / 255]).flat(), [1, 6, 6, 3])
      per.push(await imageFaithfulness(model, x, 'random', { points: 4, seed: randomOrderSeed(rel) }))
      x.dispose()
    }
    summary!.deletion.scores.forEach((s, k) => assert.ok(Math.abs(s - per.reduce((a, p) => a + p.deletion.scores[k]!, 0) / 3) < 1e-6))
    assert.ok(Math.abs(summary!.insertionAuc - per.reduce((a, p) => a + p.insertion.auc, 0) / 3) < 1e-6)

    const cancelled = new AbortController()
    cancelled.abort()
    await assert.rejects(folderFaithfulness(model, data, ['random'], {}, { ...noopContext(), signal: cancelled.signal }), /Cancelled/)
  } finally {
    model.dispose()
  }
})

test('convscope faithfulness: --image --json gives the engine\'s AUCs; --data --limit --out writes the mean curves', async () => {
  const weights = Array.from({ length: 6 * 6 * 3 }, (_, i) => ((i % 5) - 2) * 0.2)
  const model = await linearModel('cli', 6, 6, 3, weights, 0.05)
  const data = join(scratch, 'cli-images')
  await mkdir(join(data, 'a'), { recursive: true })
  const files = []
  for (let i = 0; i < 3; i++) {
    const file = join(data, 'a', `${i}.png`)
    await sharp({ create: { width: 12, height: 9, channels: 3, background: { r: 40 + 80 * i, g: 200 - 50 * i, b: 90 } } }).png().toFile(file)
    files.push(file)
  }
  const bin = join(import.meta.dirname, '../../bin/convscope.mjs')
  const run = async (...args: string[]) =>
    JSON.parse((await promisify(execFile)(process.execPath, [bin, 'faithfulness', '--model', model.info.dir, '--backend', 'cpu', '--json', ...args])).stdout)
  try {
    const one = await run('--image', files[1]!, '--method', 'random', '--points', '6')
    const x = toInputTensor(await toModelInput(await readImage(files[1]!), model.info.preprocessing))
    const want = await imageFaithfulness(model, x, 'random', { points: 6, seed: randomOrderSeed(files[1]!) })
    x.dispose()
    assert.equal(one.classIndex, want.classIndex)
    assert.ok(Math.abs(one.methods[0].deletion.auc - want.deletion.auc) < 1e-6)
    assert.ok(Math.abs(one.methods[0].insertion.auc - want.insertion.auc) < 1e-6)
    assert.equal(one.settings.deletion, 'zero')

    const out = join(scratch, 'curves.json')
    const many = await run('--data', data, '--limit', '2', '--method', 'random', '--points', '4', '--out', out)
    assert.equal(many.images, 2)
    assert.equal(many.methods[0].deletion.scores.length, 4)
    assert.deepEqual(JSON.parse(await readFile(out, 'utf8')).methods, many.methods)
  } finally {
    model.dispose()
  }
})
