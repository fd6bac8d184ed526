/**
 * The unit card's class weights (methods/neurons/unitClassWeights.ts): on the demo gap and gmp networks, the classes
 * of one conv_last channel equal the dense layer's kernel row read directly, sorted; on the demo fc network (flatten
 * → fc layers) and on a layer that is not the head's feature layer, none, with the reason.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { parseParams } from '../../src/shared/api'
import { initBackend } from '../../src/main/engine/backend'
import type { LoadedModel } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { getUnitClassWeights } from '../../src/main/engine/methods/neurons/unitClassWeights'

const ROOT = join(import.meta.dirname, '../..')
const models: Record<string, LoadedModel> = {}

before(async () => {
  await initBackend({ forced: 'cpu' })
  for (const name of ['gap', 'gmp', 'fc']) models[name] = await loadModel(join(ROOT, 'resources/demo-models', name))
})
after(() => Object.values(models).forEach((m) => m.dispose()))

const weights = (name: string, params: { layer: string; channel: number; count?: number }) =>
  getUnitClassWeights(models[name]!, parseParams('getUnitClassWeights', { modelId: 'm', ...params }))

for (const name of ['gap', 'gmp']) {
  test(`${name}: a conv_last channel's classes are its row of the dense kernel, largest first, with labels`, async () => {
    const model = models[name]!
    const kernel = model.linearWeights!('predictions')!.kernel
    const [channels, classes] = kernel.shape as [number, number]
    const rows = (await kernel.array()) as number[][]
    for (const channel of [0, 7, channels - 1]) {
      const row = rows[channel]!
      const expected = row
        .map((weight, index) => ({ index, weight }))
        .sort((a, b) => b.weight - a.weight)
        .slice(0, 5)
      const r = await weights(name, { layer: 'conv_last', channel })
      assert.equal(r.unsupported, null)
      assert.deepEqual(
        r.classes.map((c) => c.index),
        expected.map((e) => e.index),
      )
      r.classes.forEach((c, i) => {
        assert.equal(c.weight, Math.fround(expected[i]!.weight))
        assert.equal(c.label, model.info.labels![c.index])
      })
    }
    const every = await weights(name, { layer: 'conv_last', channel: 3, count: 1000 })
    assert.equal(every.classes.length, classes)
  })
}

test('fc (flatten → fc6 → fc7 → predictions): no class weights, and the reason', async () => {
  const r = await weights('fc', { layer: 'pool_last', channel: 0 })
  assert.deepEqual(r.classes, [])
  assert.match(r.unsupported!, /no global-pooling → linear head/)
  assert.match(r.unsupported!, /global average pooling/)
})

test('gap: a layer other than the pooled one has none, and says which layer has them; a bad channel or layer is refused', async () => {
  const r = await weights('gap', { layer: 'pool3', channel: 0 })
  assert.deepEqual(r.classes, [])
  assert.match(r.unsupported!, /"conv_last", the layer the head's global average pooling reads/)
  await assert.rejects(weights('gap', { layer: 'conv_last', channel: 10_000 }), /has \d+ channels/)
  await assert.rejects(weights('gap', { layer: 'nope', channel: 0 }), /no layer "nope"/)
})
