import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { noopContext } from '../../src/main/engine/context'
import { pca, principalComponents } from '../../src/main/engine/projections/pca'
import { decodeNpy } from '../../src/main/engine/store/npy'

const GOLDEN = join(import.meta.dirname, '..', 'golden', 'embeddings')

interface Case {
  name: string
  n: number
  d: number
  k: number
  rank: number
  noise: number
  seed: number
  sha256: string
  definedComponents: number
  explainedVarianceRatio: number[]
  explainedVariance: number[]
}
const golden = JSON.parse(readFileSync(join(GOLDEN, 'pca.json'), 'utf8')) as { cases: Case[] }

/** The codes of scripts/reference/embeddings_reference.py (same LCG, same float64 operations in the same order). */
function codes(n: number, d: number, rank: number, noise: number, seed: number): Float32Array {
  let s = seed >>> 0
  const draws = (count: number) => {
    const out = new Float64Array(count)
    for (let i = 0; i < count; i++) {
      s = (Math.imul(1664525, s) + 1013904223) >>> 0
      out[i] = (s >>> 8) / 16777216
    }
    return out
  }
  const z = draws(n * rank)
  const w = draws(rank * d)
  const e = draws(n * d)
  const x = new Float32Array(n * d)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      let acc = 0
      for (let t = 0; t < rank; t++) acc = acc + ((z[i * rank + t]! - 0.5) * (w[t * d + j]! - 0.5)) / (t + 1)
      acc = acc + noise * (e[i * d + j]! - 0.5)
      x[i * d + j] = acc + (j % 5)
    }
  }
  return x
}

const npy = (file: string) => decodeNpy(readFileSync(join(GOLDEN, file))).data as Float32Array

for (const c of golden.cases) {
  test(`PCA equals scikit-learn's PCA(svd_solver='full') on ${c.name}: components (up to sign), points, variance ratios`, async () => {
    const data = codes(c.n, c.d, c.rank, c.noise, c.seed)
    assert.equal(createHash('sha256').update(data).digest('hex'), c.sha256, 'the same codes as the reference script')
    const got = await principalComponents({ data, count: c.n, dim: c.d }, c.k, noopContext())
    const components = npy(`pca-${c.name}.components.npy`)
    const points = npy(`pca-${c.name}.points.npy`)
    for (let j = 0; j < c.k; j++) {
      assert.ok(Math.abs(got.explainedVarianceRatio[j]! - c.explainedVarianceRatio[j]!) <= 1e-4, `ratio ${j}: ${got.explainedVarianceRatio[j]} vs ${c.explainedVarianceRatio[j]}`)
      const rel = Math.abs(got.explainedVariance[j]! - c.explainedVariance[j]!) / c.explainedVariance[0]!
      assert.ok(rel <= 1e-4, `variance ${j}: ${got.explainedVariance[j]} vs ${c.explainedVariance[j]}`)
    }
    for (let j = 0; j < c.definedComponents; j++) {
      let dot = 0
      for (let x = 0; x < c.d; x++) dot += got.components[j * c.d + x]! * components[j * c.d + x]!
      const sign = Math.sign(dot)
      let worst = 0
      for (let x = 0; x < c.d; x++) worst = Math.max(worst, Math.abs(got.components[j * c.d + x]! - sign * components[j * c.d + x]!))
      assert.ok(worst <= 1e-4, `component ${j}: largest difference ${worst}`)
      let scale = 0
      let worstPoint = 0
      for (let i = 0; i < c.n; i++) {
        scale = Math.max(scale, Math.abs(points[i * c.k + j]!))
        worstPoint = Math.max(worstPoint, Math.abs(got.points[i * c.k + j]! - sign * points[i * c.k + j]!))
      }
      assert.ok(worstPoint <= 1e-4 * Math.max(1, scale), `points on component ${j}: largest difference ${worstPoint} (scale ${scale})`)
    }
  })
}

test('PCA signs: the largest |loading| of each component is positive, so a map does not flip', async () => {
  const c = golden.cases[0]!
  const got = await principalComponents({ data: codes(c.n, c.d, c.rank, c.noise, c.seed), count: c.n, dim: c.d }, c.k, noopContext())
  for (let j = 0; j < c.k; j++) {
    const row = got.components.subarray(j * c.d, (j + 1) * c.d)
    const largest = row.reduce((best, v) => (Math.abs(v) > Math.abs(best) ? v : best), 0)
    assert.ok(largest > 0, `component ${j}`)
  }
})

test('PCA refuses more dimensions than min(n, d) and fewer than 2 codes', async () => {
  const data = codes(5, 3, 2, 0.1, 9)
  await assert.rejects(pca.run({ data, count: 5, dim: 3 }, 4, {}, noopContext()), /at most 3 dimensions, not 4/)
  await assert.rejects(pca.run({ data: data.subarray(0, 3), count: 1, dim: 3 }, 1, {}, noopContext()), /at least 2 codes/)
})

test('PCA stops when cancelled', async () => {
  const c = golden.cases[3]!
  const controller = new AbortController()
  controller.abort()
  await assert.rejects(
    pca.run({ data: codes(c.n, c.d, c.rank, c.noise, c.seed), count: c.n, dim: c.d }, 2, {}, { progress: () => {}, signal: controller.signal }),
    /Cancelled/,
  )
})
