/**
 * A class's weight vector as a direction target (methods/neurons/classDirection.ts): on the demo gap and gmp networks
 * it is the dense kernel's column of the class, in conv_last; on the gap (global average pooling) the direction's
 * value is the class logit minus its bias, and its guided-backprop and deconvnet maps are the logit's; the fc network
 * (flatten → fc layers) has none, with the reason; a class out of range is refused.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { parseParams, Target } from '../../src/shared/api'
import { initBackend } from '../../src/main/engine/backend'
import { DEMO_CLASSES, generateDemoDataset } from '../../src/main/engine/demo'
import { toInputTensor, toModelInput } from '../../src/main/engine/images/preprocess'
import { readImage } from '../../src/main/engine/images/readImage'
import type { LoadedModel } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { getClassDirection } from '../../src/main/engine/methods/neurons/classDirection'
import { pixelMethod } from '../../src/main/engine/pixels'
import { planTarget, targetScores } from '../../src/main/engine/targets'

const ROOT = join(import.meta.dirname, '../..')
const models: Record<string, LoadedModel> = {}
let scratch: string
let x: tf.Tensor4D

before(async () => {
  await initBackend({ forced: 'wasm' })
  for (const name of ['gap', 'gmp', 'fc']) models[name] = await loadModel(join(ROOT, 'resources/demo-models', name))
  scratch = await mkdtemp(join(tmpdir(), 'convscope-classdirection-'))
  await generateDemoDataset({ out: join(scratch, 'demo'), count: { train: 0, val: 1 }, classes: 3, size: 64, seed: 0 })
  const image = join(scratch, 'demo', 'val', DEMO_CLASSES[2]!.id, 'c02_val_00000.jpg')
  x = toInputTensor(await toModelInput(await readImage(image), models.gap!.info.preprocessing))
})
after(async () => {
  x?.dispose()
  Object.values(models).forEach((m) => m.dispose())
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

const direction = (name: string, cls: number) => getClassDirection(models[name]!, parseParams('getClassDirection', { modelId: 'm', class: cls }))
const score = async (model: LoadedModel, target: unknown) => {
  const t = targetScores(model, x, planTarget(model, Target.parse(target)))
  const [v] = await t.data()
  t.dispose()
  return v!
}

for (const [name, pooling] of [['gap', 'average'], ['gmp', 'max']] as const) {
  test(`${name}: a class's direction is its column of the dense kernel, in conv_last`, async () => {
    const { kernel } = models[name]!.linearWeights!('predictions')!
    const rows = (await kernel.array()) as number[][]
    for (const c of [0, 5, rows[0]!.length - 1]) {
      const d = await direction(name, c)
      assert.equal(d.unsupported, null)
      assert.equal(d.layer, 'conv_last')
      assert.equal(d.pooling, pooling)
      assert.deepEqual(d.vector, rows.map((row) => Math.fround(row[c]!)))
    }
  })
}

test('gap: the direction of a class reads its logit minus the bias, and explains it as the logit does', async () => {
  const gap = models.gap!
  const bias = (await gap.linearWeights!('predictions')!.bias!.data()) as Float32Array
  for (const c of [1, 2, 9]) {
    const d = await direction('gap', c)
    const target = { kind: 'direction', layer: d.layer, vector: d.vector }
    const logit = await score(gap, { kind: 'class', class: c })
    const value = await score(gap, target)
    assert.ok(Math.abs(value - (logit - bias[c]!)) <= 1e-4 * Math.max(1, Math.abs(logit)), `class ${c}: ${value} vs ${logit} − ${bias[c]}`)
    for (const method of ['guided', 'deconvnet']) {
      const a = await pixelMethod(method).compute(gap, x, planTarget(gap, Target.parse(target)))
      const b = await pixelMethod(method).compute(gap, x, planTarget(gap, Target.parse({ kind: 'class', class: c })))
      let peak = 0
      let diff = 0
      for (let i = 0; i < b.values.length; i++) [peak, diff] = [Math.max(peak, Math.abs(b.values[i]!)), Math.max(diff, Math.abs(a.values[i]! - b.values[i]!))]
      assert.ok(peak > 0, `class ${c} ${method}: a map`)
      assert.ok(diff <= 1e-5 * peak, `class ${c} ${method}: ${diff / peak} of the peak`)
    }
  }
})

test('fc (flatten → fc6 → fc7 → predictions): no class direction, and the reason; a class out of range is refused', async () => {
  const d = await direction('fc', 0)
  assert.deepEqual([d.layer, d.pooling, d.vector], [null, null, []])
  assert.match(d.unsupported!, /no global-pooling → linear head/)
  await assert.rejects(direction('gap', 14), /Class 14 is not a class of model gap \(it has 14: 0 … 13\)/)
})
