/**
 * The image grid's assignment (engine/embeddings/gridAssignment.ts): the same minimum cost as scipy's
 * linear_sum_assignment on seeded maps (test/golden/grid/assignment.json, scripts/reference/grid_reference.py;
 * square, more points than cells, fewer), the optimum of a brute force over every assignment on tiny cases,
 * never worse than greedy nearest-free-point, and the map's scaling onto cell centres by hand.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { assignGrid, assignSquaredDistances, cellCentres, scaleToGrid } from '../../src/main/engine/embeddings/gridAssignment'
import { Rng } from '../../src/main/engine/rng'

interface GoldenCase { name: string; cols: number; rows: number; points: number[]; cost: number; filled: number }
const golden = JSON.parse(readFileSync(fileURLToPath(new URL('../golden/grid/assignment.json', import.meta.url)), 'utf8')) as { cases: GoldenCase[] }

/** Each filled cell holds a distinct, valid point; as many filled as the smaller of cells and points. */
function assertValid(cells: Int32Array, points: number, expectedFilled: number): void {
  const used = [...cells].filter((p) => p !== -1)
  assert.equal(used.length, expectedFilled)
  assert.equal(new Set(used).size, used.length, 'no point twice')
  assert.ok(used.every((p) => p >= 0 && p < points))
}

/** The cost of an assignment, recomputed from the scaled points (cell sides²). */
function costOf(cells: Int32Array, scaled: Float64Array, cols: number): number {
  let sum = 0
  cells.forEach((p, k) => {
    if (p === -1) return
    sum += (scaled[2 * p]! - ((k % cols) + 0.5)) ** 2 + (scaled[2 * p + 1]! - (Math.floor(k / cols) + 0.5)) ** 2
  })
  return sum
}

for (const c of golden.cases) {
  test(`scipy's minimum cost: ${c.name}`, async () => {
    const points = new Float32Array(c.points)
    const grid = await assignGrid(points, c.cols, c.rows)
    assertValid(grid.cells, points.length / 2, c.filled)
    assert.ok(Math.abs(grid.cost - c.cost) <= 1e-9 * Math.max(1, c.cost), `${grid.cost} vs scipy ${c.cost}`)
    assert.ok(Math.abs(costOf(grid.cells, scaleToGrid(points, c.cols, c.rows), c.cols) - grid.cost) < 1e-9 * Math.max(1, c.cost))
  })
}

/** Minimum over every injective map of the smaller set into the larger (n ≤ 7). */
function bruteForce(a: Float64Array, b: Float64Array): number {
  const [small, large] = a.length <= b.length ? [a, b] : [b, a]
  const ns = small.length / 2
  const nl = large.length / 2
  const used = new Uint8Array(nl)
  let best = Infinity
  const visit = (i: number, sum: number): void => {
    if (sum >= best) return
    if (i === ns) { best = sum; return }
    for (let j = 0; j < nl; j++) {
      if (used[j]) continue
      used[j] = 1
      visit(i + 1, sum + (small[2 * i]! - large[2 * j]!) ** 2 + (small[2 * i + 1]! - large[2 * j + 1]!) ** 2)
      used[j] = 0
    }
  }
  visit(0, 0)
  return best
}

test('brute force agrees on 300 tiny random cases (1 … 7 on each side, ties from integer coordinates included)', async () => {
  const random = Rng.from('grid-assignment-brute-force')
  const rng = () => random.next()
  for (let t = 0; t < 300; t++) {
    const na = 1 + Math.floor(rng() * 7)
    const nb = 1 + Math.floor(rng() * 7)
    const coarse = t % 3 === 0 // integer coordinates: many equal costs
    const draw = (n: number) => Float64Array.from({ length: 2 * n }, () => (coarse ? Math.floor(rng() * 3) : rng() * 4))
    const a = draw(na)
    const b = draw(nb)
    const { partner, cost } = await assignSquaredDistances(a, b)
    assert.equal(partner.length, na)
    const pairs = [...partner].filter((p) => p !== -1)
    assert.equal(pairs.length, Math.min(na, nb))
    assert.equal(new Set(pairs).size, pairs.length)
    assert.ok(Math.abs(cost - bruteForce(a, b)) < 1e-9, `case ${t}: ${cost} vs ${bruteForce(a, b)}`)
  }
})

test('never worse than greedy (each cell in turn takes its nearest free point) on clustered maps', async () => {
  const random = Rng.from('grid-assignment-greedy')
  const rng = () => random.next()
  for (const [cols, rows, n] of [[12, 12, 144], [10, 8, 200], [15, 10, 90]] as const) {
    const centres = Array.from({ length: 5 }, () => [rng() * 20, rng() * 20])
    const points = Float32Array.from({ length: 2 * n }, (_, k) => centres[Math.floor(k / 2) % 5]![k % 2]! + rng() * 3)
    const grid = await assignGrid(points, cols, rows)
    const scaled = scaleToGrid(points, cols, rows)
    const centresOfCells = cellCentres(cols, rows)
    const taken = new Uint8Array(n)
    let greedy = 0
    for (let k = 0; k < cols * rows; k++) {
      let best = -1
      let bestD = Infinity
      for (let p = 0; p < n; p++) {
        const d = (scaled[2 * p]! - centresOfCells[2 * k]!) ** 2 + (scaled[2 * p + 1]! - centresOfCells[2 * k + 1]!) ** 2
        if (!taken[p] && d < bestD) { bestD = d; best = p }
      }
      if (best === -1) break
      taken[best] = 1
      greedy += bestD
    }
    assert.ok(grid.cost <= greedy + 1e-9, `${cols}×${rows}, ${n} points: ${grid.cost} > greedy ${greedy}`)
    assert.ok(grid.cost < greedy, 'strictly better on a clustered map')
  }
})

test('scaling: x from [min, max] onto 0.5 … cols − 0.5, the largest y on the first row; a flat axis on the middle', () => {
  assert.deepEqual([...scaleToGrid(new Float32Array([0, 0, 10, 5, 5, 10]), 3, 5)], [0.5, 4.5, 2.5, 2.5, 1.5, 0.5])
  assert.deepEqual([...scaleToGrid(new Float32Array([1, 7, 3, 7]), 4, 2)], [0.5, 1, 3.5, 1])
  assert.throws(() => scaleToGrid(new Float32Array([0, NaN]), 2, 2), /not finite/)
})

test('a 2 × 2 grid of four points at its corners puts each in its corner (top row = largest y); extra cells stay empty', async () => {
  const corners = new Float32Array([0, 0, 1, 0, 0, 1, 1, 1]) // bottom-left, bottom-right, top-left, top-right
  const grid = await assignGrid(corners, 2, 2)
  assert.deepEqual([...grid.cells], [2, 3, 0, 1])
  assert.equal(grid.cost, 0)
  const wide = await assignGrid(new Float32Array([0, 0, 1, 0]), 3, 1)
  assert.deepEqual([...wide.cells], [0, -1, 1])
})
