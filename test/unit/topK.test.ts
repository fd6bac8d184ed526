import { test } from 'node:test'
import assert from 'node:assert/strict'
import { emptyTopK, offer, offerBatch, topKMerge, mergeInto, type TopK } from '../../src/main/engine/scan/topK'
import { seededRandom } from '../fixtures/models'

interface Entry {
  value: number
  image: number
  y: number
  x: number
}

/** The reference: sort every candidate of a unit by (value desc, image, y, x) and keep K. */
function bruteForce(units: number, k: number, candidates: Entry[][]): TopK {
  const t = emptyTopK(units, k)
  for (let u = 0; u < units; u++) {
    const sorted = candidates[u]!.filter((e) => !Number.isNaN(e.value))
      .map((e) => ({ ...e, value: Math.fround(e.value) }))
      .sort((a, b) => (a.value !== b.value ? b.value - a.value : a.image - b.image || a.y - b.y || a.x - b.x))
      .slice(0, k)
    sorted.forEach((e, j) => {
      t.values[u * k + j] = e.value
      t.images[u * k + j] = e.image
      t.yx[2 * (u * k + j)] = e.y
      t.yx[2 * (u * k + j) + 1] = e.x
    })
  }
  return t
}

function fromEntries(units: number, k: number, candidates: Entry[][]): TopK {
  const t = emptyTopK(units, k)
  candidates.forEach((list, u) => list.forEach((e) => offer(t, u, e.value, e.image, e.y, e.x)))
  return t
}

/** Random candidates with many ties (values from a small set), distinct (image, y, x) per unit. */
function randomCandidates(rand: () => number, units: number, n: number): Entry[][] {
  return Array.from({ length: units }, () => {
    const seen = new Set<string>()
    const out: Entry[] = []
    while (out.length < n) {
      const e = { value: Math.floor(rand() * 6) / 2 - 1, image: Math.floor(rand() * 40), y: Math.floor(rand() * 3), x: Math.floor(rand() * 3) }
      const key = `${e.image},${e.y},${e.x}`
      if (seen.has(key)) continue
      seen.add(key)
      out.push(rand() < 0.03 ? { ...e, value: NaN } : e)
    }
    return out
  })
}

function assertSame(a: TopK, b: TopK, message?: string) {
  assert.deepEqual(Array.from(a.values), Array.from(b.values), message)
  assert.deepEqual(Array.from(a.images), Array.from(b.images), message)
  assert.deepEqual(Array.from(a.yx), Array.from(b.yx), message)
}

test('top-K keeps the K largest in (value desc, image, y, x) order', () => {
  const t = emptyTopK(1, 3)
  offer(t, 0, 1, 5, 0, 0)
  offer(t, 0, 2, 9, 1, 1)
  offer(t, 0, 2, 3, 0, 2)
  offer(t, 0, 0.5, 0, 0, 0)
  offer(t, 0, 2, 3, 0, 1)
  assert.deepEqual(Array.from(t.values), [2, 2, 2])
  assert.deepEqual(Array.from(t.images), [3, 3, 9])
  assert.deepEqual(Array.from(t.yx), [0, 1, 0, 2, 1, 1])
})

test('unfilled slots stay empty (-Infinity, image -1) and NaN is ignored', () => {
  const t = emptyTopK(2, 4)
  offer(t, 1, NaN, 0, 0, 0)
  offer(t, 1, -Infinity, 2, 0, 0)
  assert.deepEqual(Array.from(t.images), [-1, -1, -1, -1, 2, -1, -1, -1])
  assert.equal(t.values[4], -Infinity)
})

test('offering candidates one by one equals a brute-force sort (random, with ties)', () => {
  const rand = seededRandom(7)
  for (let trial = 0; trial < 50; trial++) {
    const k = 1 + Math.floor(rand() * 6)
    const c = randomCandidates(rand, 3, Math.floor(rand() * 30))
    assertSame(fromEntries(3, k, c), bruteForce(3, k, c), `trial ${trial}`)
  }
})

test('merge is exact, commutative and associative over any split of the candidates', () => {
  const rand = seededRandom(11)
  for (let trial = 0; trial < 50; trial++) {
    const units = 2
    const k = 1 + Math.floor(rand() * 5)
    const all = randomCandidates(rand, units, 5 + Math.floor(rand() * 40))
    // Split every unit's candidates at random into three parts.
    const parts = [0, 1, 2].map(() => all.map(() => [] as Entry[]))
    all.forEach((list, u) => list.forEach((e) => parts[Math.floor(rand() * 3)]![u]!.push(e)))
    const [a, b, c] = parts.map((p) => fromEntries(units, k, p)) as [TopK, TopK, TopK]
    const whole = bruteForce(units, k, all)
    assertSame(topKMerge(topKMerge(a, b), c), whole, `(a+b)+c, trial ${trial}`)
    assertSame(topKMerge(a, topKMerge(b, c)), whole, `a+(b+c), trial ${trial}`)
    assertSame(topKMerge(topKMerge(c, a), b), whole, `(c+a)+b, trial ${trial}`)
    assertSame(topKMerge(b, a), topKMerge(a, b), `b+a = a+b, trial ${trial}`)
  }
})

test('merging into an empty top-K is the identity; merging mismatched shapes fails', () => {
  const rand = seededRandom(3)
  const t = fromEntries(2, 4, randomCandidates(rand, 2, 10))
  assertSame(mergeInto(emptyTopK(2, 4), t), t)
  assert.throws(() => mergeInto(emptyTopK(2, 5), t), /cannot merge/)
})

test('offerBatch turns a flat argmax into (y, x) over the map width', () => {
  const t = emptyTopK(2, 2)
  // two images × two units; map width 5
  offerBatch(t, [1, 2, 3, 0.5], [7, 0, 13, 4], 5, [10, 11])
  assert.deepEqual(Array.from(t.images), [11, 10, 10, 11])
  assert.deepEqual(Array.from(t.yx), [2, 3, 1, 2, 0, 0, 0, 4])
})
