/**
 * The scan's per-unit spatial max / argmax: the one-pass JS reduction equals tf.max / tf.argMax on the
 * backend (cpu and wasm), ties (first position wins) included, for conv maps and dense outputs.
 */
import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import * as tf from '@tensorflow/tfjs'
import { initBackend } from '../../src/main/engine/backend'
import { reductionPlace, spatialMaxOf, spatialMaxima, wasmHeapView } from '../../src/main/engine/scan/spatialMax'
import { seededRandom } from '../fixtures/models'

before(async () => {
  await initBackend({ forced: 'wasm' })
})

/** Values from a few levels only, so that most units have ties for their max; some all equal. */
function tiedMap(shape: number[], seed: number): tf.Tensor {
  const rand = seededRandom(seed)
  const size = shape.reduce((a, b) => a * b, 1)
  const units = shape.at(-1)!
  const data = Float32Array.from({ length: size }, (_, i) => (i % units === 3 ? 0.5 : Math.floor(rand() * 4) / 4 - 0.5))
  return tf.tensor(data, shape)
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`JS pass and ${backend} backend give identical max and argmax, ties and dense outputs included`, async () => {
    assert.ok(await tf.setBackend(backend))
    assert.equal(tf.getBackend(), backend)
    const maps = [tiedMap([3, 5, 7, 11], 1), tiedMap([2, 1, 1, 6], 2), tiedMap([4, 9], 3), tiedMap([1, 8, 8, 192], 4)]
    try {
      // On wasm the JS pass reads the maps in place: the view must be the tensor's values.
      const view = wasmHeapView(maps[0]!)
      if (backend === 'wasm') assert.deepEqual(Array.from(view!), Array.from(maps[0]!.dataSync()))
      else assert.equal(view, null)
      const js = await spatialMaxima(maps, 'js')
      const there = await spatialMaxima(maps, 'backend')
      let ties = 0
      for (const [i, t] of maps.entries()) {
        assert.deepEqual(Array.from(js[i]!.max), Array.from(there[i]!.max), `max of map ${i}`)
        assert.deepEqual(Array.from(js[i]!.arg), Array.from(there[i]!.arg), `argmax of map ${i}`)
        // Count units whose max occurs more than once, so that the comparison covers tie-breaking.
        const d = await t.data()
        const n = t.shape[0]!
        const units = t.shape.at(-1)!
        const positions = t.size / (n * units)
        for (let b = 0; b < n; b++) {
          for (let u = 0; u < units; u++) {
            let hits = 0
            for (let p = 0; p < positions; p++) if (d[(b * positions + p) * units + u] === js[i]!.max[b * units + u]) hits++
            if (hits > 1) ties++
          }
        }
      }
      assert.ok(ties > 50, `only ${ties} tied maxima`)
    } finally {
      tf.dispose(maps)
    }
  })
}

test('spatialMaxOf: first position of the max; the size must match', () => {
  // n = 1, positions = 4, units = 2: unit 0 is max 3 at p 1 and 3; unit 1 all equal.
  const r = spatialMaxOf(Float32Array.from([1, 7, 3, 7, 2, 7, 3, 7]), 1, 4, 2)
  assert.deepEqual([Array.from(r.max), Array.from(r.arg)], [[3, 7], [1, 0]])
  assert.throws(() => spatialMaxOf(new Float32Array(7), 1, 4, 2), /7 values, expected 1 × 4 × 2/)
})

test('reduction place: JS on the host backends, the backend itself elsewhere', () => {
  assert.deepEqual(['cpu', 'wasm', 'webgl', 'tensorflow'].map((b) => reductionPlace(b)), ['js', 'js', 'backend', 'backend'])
})
