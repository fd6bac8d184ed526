/**
 * Trustworthiness (issue 13, engine/embeddings/trustworthiness.ts) equals scikit-learn's
 * sklearn.manifold.trustworthiness on the goldens of scripts/reference/trustworthiness_reference.py
 * (test/golden/trustworthiness: several n and k, exact duplicates, dense ties) to 1e-6; it is 1 for a map that
 * keeps every neighbour and refuses bad shapes and k as scikit-learn does.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConvscopeError } from '../../src/shared/api'
import { trustworthiness } from '../../src/main/engine/embeddings/trustworthiness'
import { decodeNpy } from '../../src/main/engine/store/npy'

const GOLDEN = join(import.meta.dirname, '../golden/trustworthiness')

interface GoldenCase {
  name: string
  count: number
  highDim: number
  lowDim: number
  k: number
  trustworthiness: number
  tieOrderMatters: boolean
  sklearn: number
}

const { cases } = JSON.parse(readFileSync(join(GOLDEN, 'cases.json'), 'utf8')) as { cases: GoldenCase[] }

const matrix = (name: string, count: number, dim: number): Float32Array => {
  const array = decodeNpy(readFileSync(join(GOLDEN, name)))
  assert.deepEqual(array.shape, [count, dim])
  return array.data as Float32Array
}

for (const c of cases) {
  const label = `${c.name}, k = ${c.k}`
  test(`trustworthiness equals ${c.tieOrderMatters ? 'the definition with ties by lower index' : "scikit-learn's"} on ${label}`, () => {
    const value = trustworthiness(matrix(`${c.name}.high.npy`, c.count, c.highDim), matrix(`${c.name}.low.npy`, c.count, c.lowDim), c.count, c.highDim, c.lowDim, c.k)
    assert.ok(Math.abs(value - c.trustworthiness) <= 1e-6, `${label}: ${value} vs golden ${c.trustworthiness}`)
    if (!c.tieOrderMatters) assert.ok(Math.abs(value - c.sklearn) <= 1e-6, `${label}: ${value} vs scikit-learn ${c.sklearn}`)
  })
}

test('the goldens include several n, several k on one set, and ties that scikit-learn answers without ambiguity', () => {
  assert.ok(new Set(cases.map((c) => c.count)).size >= 3)
  assert.ok(cases.filter((c) => c.name === 'blobs400-pca').length >= 3)
  assert.ok(cases.some((c) => c.name.startsWith('duplicates') && !c.tieOrderMatters))
})

test('a map that is the input itself is perfectly trustworthy; a scrambled one is not', () => {
  const count = 40
  const points = Float32Array.from({ length: count * 2 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1)
  assert.equal(trustworthiness(points, points, count, 2, 2, 5), 1)
  const scrambled = points.slice().reverse()
  assert.ok(trustworthiness(points, scrambled, count, 2, 2, 5) < 0.8)
})

test('bad shapes and a k of half the points or more are refused with what is wrong', () => {
  const data = new Float32Array(20)
  const refused = (fn: () => unknown, pattern: RegExp) => assert.throws(fn, (e: unknown) => e instanceof ConvscopeError && e.code === 'BAD_REQUEST' && pattern.test(e.message))
  refused(() => trustworthiness(data, data, 10, 2, 2, 5), /below half the points \(5\)/)
  refused(() => trustworthiness(data, data, 10, 2, 2, 0), /k must be/)
  refused(() => trustworthiness(data, new Float32Array(19), 10, 2, 2, 3), /the map has 19 values, not 10 × 2/)
  refused(() => trustworthiness(data, data, 10, 3, 2, 3), /the input has 20 values, not 10 × 3/)
})
