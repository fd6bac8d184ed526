/**
 * UMAP (issue 13 item 3, engine/projections/umap.ts): on a seeded clustered set (test/golden/trustworthiness/
 * clusters600, made by scripts/reference/trustworthiness_reference.py) its map is at least as trustworthy (k = 10)
 * as scikit-learn's PCA-2D and within 0.05 of scikit-learn's t-SNE, and keeps the clusters apart; the same seed
 * gives the same points; progress in rows then epochs; cancel; the fuzzy set's defining identities; the
 * NN-descent graph finds the exact neighbours; cosine ignores the rows' lengths; the PCA step.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConvscopeError, type Progress } from '../../src/shared/api'
import type { JobContext } from '../../src/main/engine/context'
import { trustworthiness } from '../../src/main/engine/embeddings/trustworthiness'
import { resolveParams } from '../../src/main/engine/projections/registry'
import { runUmap, umap, type UmapSettings } from '../../src/main/engine/projections/umap'
import { fuzzySimplicialSet, smoothKnnDistances } from '../../src/main/engine/projections/umap/fuzzySet'
import { umapNeighbours } from '../../src/main/engine/projections/umap/neighbours'
import { Rng } from '../../src/main/engine/rng'
import { decodeNpy } from '../../src/main/engine/store/npy'

const GOLDEN = join(import.meta.dirname, '../golden/trustworthiness')
const bars = JSON.parse(readFileSync(join(GOLDEN, 'umap-bars.json'), 'utf8')) as { count: number; dim: number; clusters: number; k: number; pca2d: number; tsne: number }
const high = decodeNpy(readFileSync(join(GOLDEN, 'clusters600.high.npy'))).data as Float32Array
const labels = decodeNpy(readFileSync(join(GOLDEN, 'clusters600.labels.npy'))).data as Int32Array
const { count, dim } = bars
const input = { data: high, count, dim }

const defaults = (): UmapSettings => resolveParams(umap, {}) as unknown as UmapSettings
const recording = (): JobContext & { events: Progress[]; controller: AbortController } => {
  const controller = new AbortController()
  const events: Progress[] = []
  return { events, controller, signal: controller.signal, progress: (p) => events.push(p) }
}

/** Mean distance between points of the same cluster over the mean between points of different clusters. */
function intraOverInter(points: Float32Array, dims: number): number {
  let intra = 0
  let intraN = 0
  let inter = 0
  let interN = 0
  for (let i = 0; i < count; i++) {
    for (let j = i + 1; j < count; j++) {
      let s = 0
      for (let d = 0; d < dims; d++) s += (points[i * dims + d]! - points[j * dims + d]!) ** 2
      if (labels[i] === labels[j]) {
        intra += Math.sqrt(s)
        intraN++
      } else {
        inter += Math.sqrt(s)
        interN++
      }
    }
  }
  return intra / intraN / (inter / interN)
}

// The map with every default, made once: the trustworthiness, cluster and progress tests all read it.
const defaultRun = recording()
let first: Promise<Float32Array> | undefined
const defaultMap = (): Promise<Float32Array> => (first ??= umap.run(input, 2, resolveParams(umap, {}), defaultRun).then((out) => out.points))

test('the UMAP map of a clustered set is as trustworthy as scikit-learn PCA-2D and within 0.05 of its t-SNE', async () => {
  const points = await defaultMap()
  assert.equal(points.length, count * 2)
  const t = trustworthiness(high, points, count, dim, 2, bars.k)
  assert.ok(t >= bars.pca2d, `UMAP ${t} < PCA-2D ${bars.pca2d}`)
  assert.ok(t >= bars.tsne - 0.05, `UMAP ${t} < t-SNE ${bars.tsne} − 0.05`)
})

test('the map keeps the clusters apart: points of one cluster are far closer than points of two', async () => {
  const before = intraOverInter(high, dim)
  const after = intraOverInter(await defaultMap(), 2)
  assert.ok(after < before / 2 && after < 0.2, `intra / inter distance: input ${before}, map ${after}`)
})

test('the same seed gives the same points; another seed another map', async () => {
  const settings = { ...defaults(), nEpochs: 50 }
  const a = await runUmap(input, 2, settings, recording())
  const b = await runUmap(input, 2, settings, recording())
  const c = await runUmap(input, 2, { ...settings, seed: 1 }, recording())
  assert.deepEqual(a, b)
  assert.notDeepEqual(a, c)
})

test('progress: the kNN phase in rows, then every epoch count up to the auto 500 epochs (up to 10 000 points)', async () => {
  await defaultMap()
  const ctx = defaultRun
  const rows = ctx.events.filter((e) => e.unit === 'rows')
  assert.ok(rows.length >= 2 && rows.at(-1)!.done === count && rows.every((e) => e.total === count))
  const epochs = ctx.events.filter((e) => e.unit === 'iterations')
  assert.ok(epochs.length > 50)
  assert.ok(epochs.every((e) => e.total === 500))
  assert.ok(epochs.every((e, i) => i === 0 || e.done >= epochs[i - 1]!.done))
  assert.equal(epochs.at(-1)!.done, 500)
  assert.ok(ctx.events.indexOf(rows.at(-1)!) < ctx.events.indexOf(epochs[0]!), 'kNN before the epochs')
})

test('a cancel is seen after the epoch it arrives in: CANCELLED, no more epochs', async () => {
  const ctx = recording()
  const progress = ctx.progress
  ctx.progress = (p) => {
    progress(p)
    if (p.unit === 'iterations' && p.done >= 20) ctx.controller.abort()
  }
  await assert.rejects(runUmap(input, 2, defaults(), ctx), (e: unknown) => e instanceof ConvscopeError && e.code === 'CANCELLED')
  assert.equal(ctx.events.at(-1)!.done, 20, 'no epoch runs after the cancel')
})

test("the fuzzy set: each row's memberships sum to log2(k), the union is symmetric and equals a + b − ab", async () => {
  const k = 15
  const graph = await umapNeighbours(high, count, dim, k, 'exact', Rng.from('test'), recording())
  const { sigmas, rhos } = smoothKnnDistances(graph, count)
  for (let i = 0; i < count; i += 37) {
    let sum = 0
    for (let j = 1; j < k; j++) sum += Math.exp(-Math.max(0, graph.distances[i * k + j]! - rhos[i]!) / sigmas[i]!)
    assert.ok(Math.abs(sum - Math.log2(k)) < 1e-4, `row ${i}: ${sum}`)
    assert.equal(rhos[i], graph.distances[i * k + 1])
  }
  const fuzzy = fuzzySimplicialSet(graph, count)
  const weight = new Map<string, number>()
  fuzzy.head.forEach((h, e) => weight.set(`${h}:${fuzzy.tail[e]}`, fuzzy.weight[e]!))
  assert.equal(weight.size, fuzzy.head.length, 'no edge twice')
  const directed = (i: number, j: number): number => {
    for (let t = 1; t < k; t++) if (graph.indices[i * k + t] === j) return Math.exp(-Math.max(0, graph.distances[i * k + t]! - rhos[i]!) / sigmas[i]!)
    return 0
  }
  for (const [key, w] of weight) {
    const [i, j] = key.split(':').map(Number) as [number, number]
    assert.equal(weight.get(`${j}:${i}`), w)
    const a = directed(i, j)
    const b = directed(j, i)
    assert.ok(Math.abs(w - (a + b - a * b)) < 1e-12)
  }
  assert.ok(fuzzy.head.every((h, e) => e === 0 || h >= fuzzy.head[e - 1]!), 'rows in order')
})

test("umap-js's nearest-neighbour descent finds at least 95 % of the exact neighbours", async () => {
  const k = 15
  const exact = await umapNeighbours(high, count, dim, k, 'exact', Rng.from('test'), recording())
  const descent = await umapNeighbours(high, count, dim, k, 'descent', Rng.from('test'), recording())
  let found = 0
  for (let i = 0; i < count; i++) {
    const truth = new Set(exact.indices.subarray(i * k, (i + 1) * k))
    for (const j of descent.indices.subarray(i * k, (i + 1) * k)) if (truth.has(j)) found++
  }
  assert.ok(found / (count * k) >= 0.95, `recall ${found / (count * k)}`)
  assert.equal(exact.indices[0], 0)
  assert.equal(exact.distances[0], 0)
})

test('cosine ignores how long each row is; Euclidean does not', async () => {
  const scales = Rng.from('scales')
  const scaled = high.slice()
  for (let i = 0; i < count; i++) {
    const s = Math.exp(scales.uniform(-2, 2))
    for (let d = 0; d < dim; d++) scaled[i * dim + d]! *= s
  }
  const settings = { ...defaults(), nEpochs: 200 }
  const cosine = (await umap.run({ data: scaled, count, dim }, 2, { ...settings, metric: 'cosine' } as never, recording())).points
  const euclidean = (await umap.run({ data: scaled, count, dim }, 2, settings as never, recording())).points
  assert.ok(intraOverInter(cosine, 2) < intraOverInter(euclidean, 2))
})

test('codes wider than pcaDims are reduced by PCA first (its progress says so), and the map is still as trustworthy as PCA-2D', async () => {
  const ctx = recording()
  const { points } = await umap.run(input, 2, resolveParams(umap, { pcaDims: 10, nEpochs: 200 }), ctx)
  assert.ok(ctx.events.some((e) => e.message === 'PCA to 10 dimensions'))
  const t = trustworthiness(high, points, count, dim, 2, bars.k)
  assert.ok(t >= bars.pca2d, `UMAP after PCA-10 ${t} < PCA-2D ${bars.pca2d}`)
})

test('settings out of range are refused by the registry; a 3-D map and min distance above spread by UMAP', async () => {
  assert.throws(() => resolveParams(umap, { nNeighbors: 1 }), /nNeighbors must be in \[2/)
  assert.throws(() => resolveParams(umap, { metric: 'manhattan' }), /metric must be one of euclidean, cosine/)
  await assert.rejects(umap.run(input, 3, resolveParams(umap, {}), recording()), /1-D or 2-D maps, not 3-D/)
  await assert.rejects(umap.run(input, 2, resolveParams(umap, { minDist: 0.9, spread: 0.5 }), recording()), /min distance \(0.9\) must not exceed spread \(0.5\)/)
  await assert.rejects(umap.run({ data: high.subarray(0, 10 * dim), count: 10, dim }, 2, resolveParams(umap, {}), recording()), /more codes \(10\) than neighbours \(15\)/)
})
