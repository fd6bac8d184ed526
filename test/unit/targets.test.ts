/**
 * The one target type of issue 12 (engine/targets.ts), checked on the demo gap network against the forward pass
 * read directly: class logits and probabilities, a unit at its max / at a position / its mean, a direction, the
 * located max and its receptive field, and the requests it refuses.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { Target } from '../../src/shared/api'
import { initBackend } from '../../src/main/engine/backend'
import type { LoadedModel } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { classLogits } from '../../src/main/engine/maps'
import { locateTarget, planTarget, targetScores } from '../../src/main/engine/targets'

const ROOT = join(import.meta.dirname, '../..')
let gap: LoadedModel
let x: tf.Tensor4D

before(async () => {
  await initBackend({ forced: 'wasm' })
  gap = await loadModel(join(ROOT, 'resources/demo-models/gap'))
  x = tf.randomUniform([2, ...gap.info.inputShape] as [number, number, number, number], 0, 1, 'float32', 5) as tf.Tensor4D
})
after(() => {
  x?.dispose()
  gap?.dispose()
})

const scores = async (target: unknown, position?: { y: number; x: number }): Promise<number[]> => {
  const t = targetScores(gap, x, planTarget(gap, Target.parse(target)), position)
  const v = Array.from(await t.data())
  t.dispose()
  return v
}
const close = (a: number[], b: number[], tol = 1e-5) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= tol * Math.max(1, Math.abs(b[i]!)), `${v} vs ${b[i]} at ${i}`))

test('a class target reads the logit, or the softmax probability, of each image', async () => {
  const logits = classLogits(gap, x)
  const rows = (await logits.array()) as number[][]
  const probs = (await tf.softmax(logits).array()) as number[][]
  logits.dispose()
  close(await scores({ kind: 'class', class: 3 }), rows.map((r) => r[3]!))
  close(await scores({ kind: 'class', class: 3, score: 'probability' }), probs.map((r) => r[3]!))
})

test('a unit target: its max over space, a position, its mean; a one-hot direction is the mean', async () => {
  const [out] = gap.forward(x, ['conv_last'])
  const maps = (await out!.array()) as number[][][][]
  out!.dispose()
  const channel = (n: number) => maps[n]!.flatMap((row) => row.map((cell) => cell[7]!))
  close(await scores({ kind: 'unit', layer: 'conv_last', channel: 7 }), [0, 1].map((n) => Math.max(...channel(n))))
  close(await scores({ kind: 'unit', layer: 'conv_last', channel: 7, at: { y: 2, x: 5 } }), [0, 1].map((n) => maps[n]![2]![5]![7]!))
  close(await scores({ kind: 'unit', layer: 'conv_last', channel: 7 }, { y: 2, x: 5 }), [0, 1].map((n) => maps[n]![2]![5]![7]!))
  const mean = [0, 1].map((n) => channel(n).reduce((a, b) => a + b, 0) / channel(n).length)
  close(await scores({ kind: 'unit', layer: 'conv_last', channel: 7, at: 'mean' }), mean)
  const channels = maps[0]![0]![0]!.length
  close(await scores({ kind: 'direction', layer: 'conv_last', vector: Array.from({ length: channels }, (_, k) => (k === 7 ? 1 : 0)) }), mean)
})

test('locating a unit at its max gives the first maximum, its value and its receptive field in input pixels', async () => {
  const one = x.slice([0, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D
  const [out] = gap.forward(one, ['conv_last'])
  const [, h, w] = out!.shape as number[]
  const values = Array.from(await out!.slice([0, 0, 0, 7], [1, -1, -1, 1]).data())
  out!.dispose()
  const best = values.indexOf(Math.max(...values))
  const located = await locateTarget(gap, one, planTarget(gap, Target.parse({ kind: 'unit', layer: 'conv_last', channel: 7 })))
  one.dispose()
  assert.deepEqual(located.position, { y: Math.floor(best / w!), x: best % w! })
  assert.ok(h! > 0)
  assert.equal(located.resolved.value, values[best])
  assert.match(located.resolved.description, /^conv_last channel 7 at its max \(y \d+, x \d+\)$/)
  const box = located.resolved.receptiveField!
  const [H, W] = gap.info.inputShape as number[]
  assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= W! && box.y + box.height <= H! && box.width > 0, JSON.stringify(box))
})

test('targets that do not fit the model are refused, naming what is wrong', () => {
  const plan = (t: unknown) => planTarget(gap, Target.parse(t))
  assert.throws(() => plan({ kind: 'class', class: 14 }), /Class 14 is not a class/)
  assert.throws(() => plan({ kind: 'unit', layer: 'nope', channel: 0 }), /no layer "nope"/)
  assert.throws(() => plan({ kind: 'unit', layer: 'conv_last', channel: 100_000 }), /has \d+ channels/)
  assert.throws(() => plan({ kind: 'unit', layer: 'conv_last', channel: 0, at: { y: 99, x: 0 } }), /outside the/)
  assert.throws(() => plan({ kind: 'direction', layer: 'conv_last', vector: [1, 2] }), /needs \d+ weights/)
})
