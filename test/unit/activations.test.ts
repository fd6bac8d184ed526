import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import sharp from 'sharp'
import { ActivationData, ConvscopeError } from '../../src/shared/api'
import { computeActivations } from '../../src/main/engine/methods/activations'
import { readImage } from '../../src/main/engine/images/readImage'
import { toInputTensor, toModelInput } from '../../src/main/engine/images/preprocess'
import type { LoadedModel } from '../../src/main/engine/model'
import { makeFakeModel, type FakeModel } from './fakeModel'

let dir: string
let photo: string
let fake: FakeModel

before(async () => {
  await tf.setBackend('cpu')
  dir = await mkdtemp(join(tmpdir(), 'convscope-act-'))
  photo = join(dir, 'photo.png')
  // 20×12 noise: resized to the model's 8×8 on the way in.
  const noise = Buffer.alloc(20 * 12 * 3).map((_, i) => (i * 7919 + 13) % 256)
  await sharp(noise, { raw: { width: 20, height: 12, channels: 3 } }).png().toFile(photo)
  fake = makeFakeModel()
})
after(async () => {
  fake.model.dispose()
  await rm(dir, { recursive: true, force: true })
})

/** What the layer gives for the photo when run by tfjs directly. */
async function reference(layer: string): Promise<{ values: Float32Array; shape: number[] }> {
  const input = await toModelInput(await readImage(photo), fake.model.info.preprocessing)
  const x = toInputTensor(input)
  const y = fake.reference(x, layer)
  const out = { values: Float32Array.from(y.dataSync()), shape: y.shape.slice(1) }
  tf.dispose([x, y])
  return out
}

function firstArgmax(values: Float32Array, positions: number, channels: number, c: number): [number, number] {
  let best = -Infinity
  let at = 0
  for (let p = 0; p < positions; p++) {
    const v = values[p * channels + c]!
    if (v > best) (best = v), (at = p)
  }
  return [best, at]
}

test('spatial layer: values equal the sub-model output; per-channel max and flat argmax; no tensor leak', async () => {
  for (const layer of ['conv1', 'relu1', 'dw']) {
    const before = tf.memory().numTensors
    const a = await computeActivations(fake.model, layer, photo)
    assert.equal(tf.memory().numTensors, before, `${layer}: tensors leaked`)
    ActivationData.parse(a)
    const ref = await reference(layer)
    assert.deepEqual(a.shape, ref.shape)
    assert.deepEqual(Array.from(a.values), Array.from(ref.values), layer)
    const [h, w, c] = a.shape as [number, number, number]
    assert.equal(a.channelMax.length, c)
    for (let k = 0; k < c; k++) {
      const [max, at] = firstArgmax(a.values, h * w, c, k)
      assert.equal(a.channelMax[k], max, `${layer} channel ${k} max`)
      assert.equal(a.channelArgmax[k], at, `${layer} channel ${k} argmax`)
    }
  }
  const relu = await computeActivations(fake.model, 'relu1', photo)
  assert.ok(relu.values.every((v) => v >= 0))
})

test('non-spatial layer: channelMax = values, argmax 0', async () => {
  const before = tf.memory().numTensors
  const a = await computeActivations(fake.model, 'gap', photo)
  await computeActivations(fake.model, 'fc', photo) // the output layer itself
  assert.equal(tf.memory().numTensors, before, 'tensors leaked')
  assert.deepEqual(a.shape, [8])
  assert.deepEqual(Array.from(a.channelMax), Array.from(a.values))
  assert.deepEqual(a.channelArgmax, new Array(8).fill(0))
  assert.deepEqual(Array.from(a.values), Array.from((await reference('gap')).values))
})

test('predictions: top classes of the output with labels, best first', async () => {
  const a = await computeActivations(fake.model, 'conv1', photo)
  const probs = Array.from((await reference('fc')).values)
  const order = probs.map((p, i) => [p, i] as const).sort((x, y) => y[0] - x[0]).map(([, i]) => i)
  assert.deepEqual(a.predictions.map((p) => p.index), order)
  assert.deepEqual(a.predictions.map((p) => p.label), order.map((i) => ['cat', 'dog', 'bird'][i]))
  a.predictions.forEach((p) => assert.ok(Math.abs(p.score - probs[p.index]!) < 1e-7))
  assert.equal(a.image.path, photo)
  assert.deepEqual([a.image.width, a.image.height], [20, 12])

  const unlabelled = makeFakeModel(null)
  const b = await computeActivations(unlabelled.model, 'fc', photo)
  assert.ok(b.predictions.length === 3 && b.predictions.every((p) => p.label === null))
  unlabelled.model.dispose()
})

test('unknown layer: BAD_REQUEST naming valid layers, alike names first', async () => {
  await assert.rejects(computeActivations(fake.model, 'conv', photo), (e: ConvscopeError) => {
    assert.equal(e.code, 'BAD_REQUEST')
    assert.match(e.message, /no layer "conv"; layers include conv1, /)
    return true
  })
})

test('bad image and failing forward: the error passes through, no tensor leaks', async () => {
  const before = tf.memory().numTensors
  await assert.rejects(computeActivations(fake.model, 'conv1', join(dir, 'missing.jpg')), (e: ConvscopeError) => e.code === 'NOT_FOUND')
  const broken: LoadedModel = {
    ...fake.model,
    info: fake.model.info,
    forward(input) {
      tf.mul(input, 2) // a tensor the failure leaves behind: not ours to clean
      throw new Error('kernel missing')
    },
  }
  await assert.rejects(computeActivations(broken, 'conv1', photo), /kernel missing/)
  assert.equal(tf.memory().numTensors, before + 1, 'only the tensor the broken model leaked itself remains')
})
