import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Metric } from '../../src/shared/api'
import { knnIndex, nearestNeighbours, searchIndex, searchIndexAsync, selfNeighbours, selfNeighboursAsync } from '../../src/main/engine/embeddings/knn'
import { float32ToFloat16 } from '../../src/main/engine/store/npy'
import { seededRandom } from '../fixtures/models'

/** The reference: every (query, row) distance straight from its definition, sorted by (distance, index). */
function bruteForce(data: ArrayLike<number>, count: number, dim: number, queries: ArrayLike<number>, queryCount: number, k: number, metric: Metric, exclude?: Int32Array) {
  const indices: number[] = []
  const distances: number[] = []
  for (let q = 0; q < queryCount; q++) {
    const found: { i: number; d: number }[] = []
    for (let i = 0; i < count; i++) {
      if (exclude && exclude[q] === i) continue
      let dot = 0
      let qq = 0
      let xx = 0
      let diff = 0
      for (let c = 0; c < dim; c++) {
        const a = queries[q * dim + c]!
        const b = data[i * dim + c]!
        dot += a * b
        qq += a * a
        xx += b * b
        diff += (a - b) * (a - b)
      }
      if (Number.isNaN(qq) || Number.isNaN(xx)) continue
      const d = metric === 'l2' ? Math.sqrt(diff) : qq * xx === 0 ? 1 : 1 - dot / Math.sqrt(qq * xx)
      found.push({ i, d })
    }
    found.sort((a, b) => a.d - b.d || a.i - b.i)
    for (let r = 0; r < k; r++) {
      indices.push(found[r]?.i ?? -1)
      distances.push(found[r]?.d ?? Infinity)
    }
  }
  return { indices, distances }
}

/** Small integers: every dot product and norm is exact, so ties are real ties and indices must match exactly. */
function integerRows(rand: () => number, n: number, dim: number, levels = 3): Float32Array {
  return Float32Array.from({ length: n * dim }, () => Math.floor(rand() * levels) - 1)
}

function assertClose(actual: Float32Array, expected: number[], tolerance: number) {
  assert.equal(actual.length, expected.length)
  expected.forEach((e, i) => {
    if (e === Infinity) assert.equal(actual[i], Infinity, `distance ${i}`)
    else assert.ok(Math.abs(actual[i]! - e) <= tolerance, `distance ${i}: ${actual[i]} vs ${e}`)
  })
}

for (const metric of ['cosine', 'l2'] as const) {
  test(`${metric} neighbours equal brute force, ties by lower index (integer codes, many ties)`, () => {
    const rand = seededRandom(metric === 'l2' ? 11 : 12)
    const count = 700
    const dim = 9
    const data = integerRows(rand, count, dim)
    const queries = integerRows(rand, 13, dim)
    const got = nearestNeighbours(data, count, dim, queries, 13, 25, metric)
    const want = bruteForce(data, count, dim, queries, 13, 25, metric)
    assert.deepEqual(Array.from(got.indices), want.indices)
    assertClose(got.distances, want.distances, 1e-6)
  })

  test(`${metric} neighbours over many blocks (wide rows) equal brute force`, () => {
    const rand = seededRandom(metric === 'l2' ? 21 : 22)
    const count = 200
    const dim = 4099 // 63 rows a block: four blocks, an odd dim for the unrolled loop's tail
    const data = Float32Array.from({ length: count * dim }, () => rand() * 2 - 1)
    const queries = Float32Array.from({ length: 6 * dim }, () => rand() * 2 - 1)
    const got = nearestNeighbours(data, count, dim, queries, 6, 7, metric)
    const want = bruteForce(data, count, dim, queries, 6, 7, metric)
    assert.deepEqual(Array.from(got.indices), want.indices)
    assertClose(got.distances, want.distances, metric === 'l2' ? 1e-4 : 1e-6)
  })
}

test('rows with a NaN are never neighbours; a query with a NaN has none', () => {
  const dim = 3
  const data = Float32Array.from([0, 0, 0, NaN, 0, 0, 1, 1, 1, 2, 2, 2, 0, 0, NaN])
  const queries = Float32Array.from([0, 0, 0, NaN, 1, 1])
  const got = nearestNeighbours(data, 5, dim, queries, 2, 4, 'l2')
  assert.deepEqual(Array.from(got.indices), [0, 2, 3, -1, -1, -1, -1, -1])
  assertClose(got.distances, [0, Math.sqrt(3), Math.sqrt(12), Infinity, Infinity, Infinity, Infinity, Infinity], 1e-6)
})

test('exclude leaves out one row per query; k larger than the rows left pads with -1 / Infinity', () => {
  const data = Float32Array.from([0, 1, 3, 6])
  const got = nearestNeighbours(data, 4, 1, Float32Array.from([1, 6]), 2, 5, 'l2', { exclude: Int32Array.from([1, -1]) })
  assert.deepEqual(Array.from(got.indices), [0, 2, 3, -1, -1, 3, 2, 1, 0, -1])
  assert.deepEqual(Array.from(got.distances), [1, 2, 5, Infinity, Infinity, 0, 3, 5, 6, Infinity])
})

test('cosine: a zero vector is at distance 1 from everything; parallel rows at 0', () => {
  const data = Float32Array.from([0, 0, 2, 0, -1, 0, 1, 1])
  const got = nearestNeighbours(data, 4, 2, Float32Array.from([3, 0]), 1, 4, 'cosine')
  assert.deepEqual(Array.from(got.indices), [1, 3, 0, 2])
  assertClose(got.distances, [0, 1 - Math.SQRT1_2, 1, 2], 1e-6)
})

test('selfNeighbours: every row against all others, itself left out (many query groups)', () => {
  const rand = seededRandom(31)
  const count = 1100 // more than one query block of 1024
  const dim = 4
  const data = integerRows(rand, count, dim, 4)
  const progress: number[] = []
  const got = selfNeighbours(data, count, dim, 6, 'l2', (done) => progress.push(done))
  const exclude = Int32Array.from({ length: count }, (_, i) => i)
  const want = bruteForce(data, count, dim, data, count, 6, 'l2', exclude)
  assert.deepEqual(Array.from(got.indices), want.indices)
  assertClose(got.distances, want.distances, 1e-6)
  assert.equal(progress.at(-1), count)
})

test('uint8 thumbnails and float16 codes give the neighbours of their float32 values', () => {
  const rand = seededRandom(41)
  const count = 300
  const dim = 48
  const pixels = Uint8Array.from({ length: count * dim }, () => Math.floor(rand() * 256))
  const queries = Float32Array.from(pixels.subarray(0, 3 * dim))
  const fromBytes = searchIndex(knnIndex(pixels, count, dim), queries, 3, 5, 'l2', { exclude: Int32Array.from([0, 1, 2]) })
  const want = bruteForce(pixels, count, dim, queries, 3, 5, 'l2', Int32Array.from([0, 1, 2]))
  assert.deepEqual(Array.from(fromBytes.indices), want.indices)

  const codes = Float32Array.from({ length: count * dim }, () => rand() - 0.5)
  const halves = float32ToFloat16(codes)
  const fromHalves = searchIndex(knnIndex(halves, count, dim), codes.subarray(0, dim), 1, 5, 'cosine')
  const asFloat = nearestNeighbours(Float32Array.from(halves, halfToNumber), count, dim, codes.subarray(0, dim), 1, 5, 'cosine')
  assert.deepEqual(Array.from(fromHalves.indices), Array.from(asFloat.indices))
})

/** IEEE half bits to a number, written out here so the test does not reuse the code under test's conversion. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const exponent = (h >> 10) & 0x1f
  const fraction = h & 0x3ff
  if (exponent === 0) return sign * fraction * 2 ** -24
  if (exponent === 31) return fraction ? NaN : sign * Infinity
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15)
}

test('onnxruntime products (searchIndexAsync) give the brute-force neighbours: both metrics, ties, NaN rows, exclude, k > count', async () => {
  const rand = seededRandom(51)
  const count = 500
  const dim = 7
  const data = integerRows(rand, count, dim)
  data.fill(NaN, 3 * dim, 4 * dim)
  const queries = integerRows(rand, 9, dim)
  const exclude = Int32Array.from({ length: 9 }, (_, i) => (i % 2 ? i * 10 : -1))
  for (const metric of ['cosine', 'l2'] as const) {
    const got = await searchIndexAsync(knnIndex(data, count, dim), queries, 9, 30, metric, { exclude })
    const want = bruteForce(data, count, dim, queries, 9, 30, metric, exclude)
    assert.deepEqual(Array.from(got.indices), want.indices, metric)
    assertClose(got.distances, want.distances, 1e-6)
  }
  const small = await searchIndexAsync(knnIndex(data.subarray(0, 2 * dim), 2, dim), queries.subarray(0, dim), 1, 4, 'l2')
  assert.deepEqual(Array.from(small.indices.subarray(2)), [-1, -1])
})

test('selfNeighboursAsync equals the JS selfNeighbours on integer codes (over several query blocks)', async () => {
  const rand = seededRandom(61)
  const count = 1300
  const dim = 5
  const data = integerRows(rand, count, dim, 4)
  const js = selfNeighbours(data, count, dim, 8, 'cosine')
  const ort = await selfNeighboursAsync(data, count, dim, 8, 'cosine')
  assert.deepEqual(Array.from(ort.indices), Array.from(js.indices))
  assertClose(ort.distances, Array.from(js.distances), 1e-6)
})

test('float16 rows are widened exactly: all 65 536 bit patterns (norms of 1-value rows)', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i)
  const index = knnIndex(all, 65536, 1)
  for (let b = 0; b < 65536; b++) {
    const v = halfToNumber(b)
    const norm = index.squaredNorms[b]!
    if (Number.isNaN(v)) assert.ok(Number.isNaN(norm), `pattern ${b}`)
    else assert.equal(norm, v * v, `pattern ${b}`)
  }
})

test('searchIndexAsync over several onnxruntime blocks (2 100 rows of 2 048: blocks of 2 048 rows) equals brute force', async () => {
  const rand = seededRandom(71)
  const count = 2100
  const dim = 2048
  const data = Float32Array.from({ length: count * dim }, () => Math.floor(rand() * 5) - 2)
  const queries = data.slice(2050 * dim, 2052 * dim) // two rows of the second block, left out of their own lists
  const exclude = Int32Array.of(2050, 2051)
  const got = await searchIndexAsync(knnIndex(data, count, dim), queries, 2, 6, 'l2', { exclude })
  const want = bruteForce(data, count, dim, queries, 2, 6, 'l2', exclude)
  assert.deepEqual(Array.from(got.indices), want.indices)
  assertClose(got.distances, want.distances, 1e-3)
})

test('selfNeighboursAsync over many tiles (each read as it is and transposed) equals brute force: both metrics, ties, NaN rows', async () => {
  const rand = seededRandom(81)
  const count = 230
  const dim = 6
  const data = integerRows(rand, count, dim)
  data.fill(NaN, 17 * dim, 18 * dim)
  const self = Int32Array.from({ length: count }, (_, i) => i)
  for (const metric of ['l2', 'cosine'] as const) {
    const progress: number[] = []
    const got = await selfNeighboursAsync(data, count, dim, 12, metric, { tileRows: 50, onProgress: (done) => progress.push(done) })
    const want = bruteForce(data, count, dim, data, count, 12, metric, self)
    assert.deepEqual(Array.from(got.indices), want.indices, metric)
    assertClose(got.distances, want.distances, 1e-6)
    assert.equal(progress.length, 15, 'one report per tile on or above the diagonal (5 blocks)')
    assert.equal(progress.at(-1), count)
  }
})
