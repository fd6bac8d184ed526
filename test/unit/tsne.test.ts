/**
 * t-SNE (issue 13 item 3, engine/projections/tsne.ts) against scikit-learn 1.2.1 on a seeded clustered set (500 points,
 * 5 Gaussian clusters in 20-D; test/golden/tsne, made by scripts/reference/tsne_reference.py): the affinities equal
 * sklearn's joint P; the gradient equals sklearn's at a layout; the Barnes-Hut sums stay near the exact ones; the map
 * is as trustworthy (k = 10) as sklearn's TSNE within 0.01; same params → same points; worker threads change no bit;
 * progress; cancel; bad input.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConvscopeError, type Progress } from '../../src/shared/api'
import type { JobContext } from '../../src/main/engine/context'
import { selfNeighbours } from '../../src/main/engine/embeddings/knn'
import { trustworthiness } from '../../src/main/engine/embeddings/trustworthiness'
import { resolveParams } from '../../src/main/engine/projections/registry'
import { Rng } from '../../src/main/engine/rng'
import { runTsne, tsne, type TsneSettings } from '../../src/main/engine/projections/tsne'
import { conditionalAffinities, jointAffinities, type SparseAffinities } from '../../src/main/engine/projections/tsne/affinities'
import { QuadTree } from '../../src/main/engine/projections/tsne/barnesHut'
import { forceWorkers } from '../../src/main/engine/projections/tsne/forceWorkers'
import { attraction, type GradientTerms } from '../../src/main/engine/projections/tsne/gradientDescent'
import { treeForces } from '../../src/main/engine/projections/tsne/treeForces'
import { decodeNpy } from '../../src/main/engine/store/npy'

const GOLDEN = join(import.meta.dirname, '../golden/tsne')
const npy = (name: string) => decodeNpy(readFileSync(join(GOLDEN, name))).data as Float32Array
const reference = JSON.parse(readFileSync(join(GOLDEN, 'tsne.json'), 'utf8')) as { points: number; dim: number; neighbours: number; sklearnTrustworthiness: number[]; pcaTrustworthiness: number }
const data = npy('clusters.npy')
const { points: count, dim, neighbours: k } = reference
const input = { data, count, dim }

const recording = (): JobContext & { events: Progress[]; controller: AbortController } => {
  const controller = new AbortController()
  const events: Progress[] = []
  return { events, controller, signal: controller.signal, progress: (p) => events.push(p) }
}

function affinities(): SparseAffinities {
  const knn = selfNeighbours(data, count, dim, k, 'l2')
  const squared = Float64Array.from(knn.distances, (d) => d * d)
  return jointAffinities(knn.indices, conditionalAffinities(squared, count, k, 30), count, k)
}

/** KL gradient 4 (attraction − repulsion / Z) at y with the quadtree's sums at angle θ. */
function gradient(p: SparseAffinities, y: Float64Array, theta: number): Float64Array {
  const attract = new Float64Array(2 * count)
  const repel = new Float64Array(2 * count)
  const zPart = new Float64Array(count)
  attraction(y, p, 1, attract)
  const tree = new QuadTree(16)
  tree.build(y, count)
  tree.repulsion(y, 0, count, theta, repel, zPart)
  const z = zPart.reduce((a, b) => a + b, 0)
  return attract.map((a, i) => 4 * (a - repel[i]! / z))
}

function maxAbs(v: ArrayLike<number>): number {
  let m = 0
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]!))
  return m
}

test('the joint affinities equal scikit-learn\'s P (perplexity 30, 91 neighbours)', () => {
  const p = affinities()
  const golden = npy('affinities.npy') // first 20 rows, dense
  let total = 0
  for (let e = 0; e < p.values.length; e++) total += p.values[e]!
  assert.ok(Math.abs(total - 1) < 1e-9, `P sums to ${total}`)
  const dense = new Float64Array(20 * count)
  for (let i = 0; i < 20; i++) for (let e = p.rowStart[i]!; e < p.rowStart[i + 1]!; e++) dense[i * count + p.columns[e]!] = p.values[e]!
  const scale = maxAbs(golden)
  for (let x = 0; x < dense.length; x++) assert.ok(Math.abs(dense[x]! - golden[x]!) <= 1e-5 * scale, `P[${Math.floor(x / count)}, ${x % count}]: ${dense[x]} vs sklearn ${golden[x]}`)
})

test('the gradient equals scikit-learn\'s (exact sum, θ = 0) at a layout', () => {
  const y = Float64Array.from(npy('gradientY.npy'))
  const ours = gradient(affinities(), y, 0)
  const golden = npy('gradient.npy')
  const scale = maxAbs(golden)
  for (let x = 0; x < ours.length; x++) assert.ok(Math.abs(ours[x]! - golden[x]!) <= 1e-4 * scale, `grad[${x}]: ${ours[x]} vs sklearn ${golden[x]} (max ${scale})`)
})

test('Barnes-Hut θ = 0.5 stays within 2 % of the exact repulsion, and equal points repel nothing', () => {
  const y = Float64Array.from(npy('gradientY.npy'))
  const repulsion = (theta: number) => {
    const force = new Float64Array(2 * count)
    const zPart = new Float64Array(count)
    const tree = new QuadTree(16)
    tree.build(y, count)
    tree.repulsion(y, 0, count, theta, force, zPart)
    const z = zPart.reduce((a, b) => a + b, 0)
    return { force: force.map((f) => f / z), z }
  }
  const exact = repulsion(0)
  const approx = repulsion(0.5)
  const diff = exact.force.map((v, i) => v - approx.force[i]!)
  const rel = Math.hypot(...diff) / Math.hypot(...exact.force)
  assert.ok(rel < 0.02, `relative error ${rel}`)
  assert.ok(Math.abs(approx.z / exact.z - 1) < 0.01, `Z ${approx.z} vs exact ${exact.z}`)
  // Duplicates: three points at one position and one apart; each of the three sees Z = 2 · 1 + 1 / (1 + 1).
  const dup = new Float64Array([0, 0, 0, 0, 0, 0, 1, 0])
  const tree = new QuadTree(4)
  tree.build(dup, 4)
  const force = new Float64Array(8)
  const zPart = new Float64Array(4)
  tree.repulsion(dup, 0, 4, 0.5, force, zPart)
  assert.deepEqual(Array.from(zPart), [2.5, 2.5, 2.5, 1.5])
  assert.deepEqual(Array.from(force), [-0.25, 0, -0.25, 0, -0.25, 0, 0.75, 0])
})

test('the walk at θ = 0 equals brute force on a deep tree (pairs 1e-12 apart, duplicates, in any insertion order)', () => {
  const rng = Rng.from('tsne-deep-tree', 1)
  const n = 300
  const y = new Float64Array(2 * n)
  for (let i = 0; i < n; i++) {
    if (i % 3 === 1) {
      // Right beside the previous point (≈ 40 levels below the root) or on it.
      y[2 * i] = y[2 * i - 2]! + (i % 2 ? 1e-12 : 0)
      y[2 * i + 1] = y[2 * i - 1]!
    } else {
      y[2 * i] = rng.normal() * 3
      y[2 * i + 1] = rng.normal()
    }
  }
  const exactZ = new Float64Array(n)
  const exactF = new Float64Array(2 * n)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (j === i) continue
      const dx = y[2 * i]! - y[2 * j]!
      const dy = y[2 * i + 1]! - y[2 * j + 1]!
      const q = 1 / (1 + dx * dx + dy * dy)
      exactZ[i]! += q
      exactF[2 * i]! += q * q * dx
      exactF[2 * i + 1]! += q * q * dy
    }
  }
  const reversed = Int32Array.from({ length: n }, (_, t) => n - 1 - t)
  for (const order of [undefined, reversed]) {
    const tree = new QuadTree(8)
    tree.build(y, n, order)
    assert.equal(tree.nodes[3], n, 'the root holds every point')
    assert.equal(tree.skip[0], tree.size, "the root's subtree is the whole tree")
    const force = new Float64Array(2 * n)
    const zPart = new Float64Array(n)
    tree.repulsion(y, 0, n, 0, force, zPart)
    for (let i = 0; i < n; i++) assert.ok(Math.abs(zPart[i]! - exactZ[i]!) <= 1e-9 * exactZ[i]!, `Z[${i}] ${zPart[i]} vs ${exactZ[i]}`)
    const scale = maxAbs(exactF)
    for (let x = 0; x < 2 * n; x++) assert.ok(Math.abs(force[x]! - exactF[x]!) <= 1e-9 * scale, `F[${x}] ${force[x]} vs ${exactF[x]}`)
  }
})

test('the map is as trustworthy (k = 10) as scikit-learn\'s TSNE within 0.01, and well above PCA', async () => {
  const params = resolveParams(tsne, {})
  const { points } = await tsne.run(input, 2, params, recording())
  const ours = trustworthiness(data, points, count, dim, 2, 10)
  const sklearn = Math.min(...reference.sklearnTrustworthiness)
  assert.ok(ours >= sklearn - 0.01, `trustworthiness ${ours} vs sklearn ${reference.sklearnTrustworthiness.join(', ')}`)
  assert.ok(ours > reference.pcaTrustworthiness + 0.02, `trustworthiness ${ours} vs PCA ${reference.pcaTrustworthiness}`)
})

test('same params give the same points; another seed of the random init gives others', async () => {
  const run = (seed: number) => tsne.run(input, 2, resolveParams(tsne, { init: 'random', seed, iterations: 250 }), recording())
  const [a, b, c] = [await run(1), await run(1), await run(2)]
  assert.deepEqual(Buffer.from(a.points.buffer), Buffer.from(b.points.buffer))
  assert.notDeepEqual(Buffer.from(a.points.buffer), Buffer.from(c.points.buffer))
  const pcaRuns = [await tsne.run(input, 2, resolveParams(tsne, { iterations: 250 }), recording()), await tsne.run(input, 2, resolveParams(tsne, { iterations: 250 }), recording())]
  assert.deepEqual(Buffer.from(pcaRuns[0]!.points.buffer), Buffer.from(pcaRuns[1]!.points.buffer))
})

test('progress counts iterations up to the total; a cancelled run stops with CANCELLED', async () => {
  const ctx = recording()
  await tsne.run(input, 2, resolveParams(tsne, { iterations: 300 }), ctx)
  const iterations = ctx.events.filter((e) => e.unit === 'iterations' && e.done > 0)
  assert.ok(iterations.length >= 300 / 5, `${iterations.length} iteration events`)
  assert.ok(iterations.every((e, i) => e.total === 300 && (i === 0 || e.done > iterations[i - 1]!.done)))
  assert.equal(iterations.at(-1)!.done, 300)

  const cancelled = recording()
  const progress = cancelled.progress
  cancelled.progress = (p) => {
    progress(p)
    if (p.done >= 50) cancelled.controller.abort()
  }
  await assert.rejects(tsne.run(input, 2, resolveParams(tsne, {}), cancelled), (e: unknown) => e instanceof ConvscopeError && e.code === 'CANCELLED')
  assert.ok(cancelled.events.at(-1)!.done < 100, `stopped at ${cancelled.events.at(-1)!.done}`)
})

test('bad input is refused with what and why', async () => {
  await assert.rejects(tsne.run(input, 3, resolveParams(tsne, {}), recording()), /2-D maps, not 3-D/)
  const few = { data: data.subarray(0, 20 * dim), count: 20, dim }
  await assert.rejects(tsne.run(few, 2, resolveParams(tsne, {}), recording()), /perplexity \(30\) must be less than the number of codes \(20\)/)
  assert.throws(() => resolveParams(tsne, { perplexity: 1 }), /perplexity must be in \[2, 100\]/)
})

test('worker threads give the same sums and the same map as one thread, to the bit; a cancel ends them', async () => {
  const p = affinities()
  const y = Float64Array.from(npy('gradientY.npy'))
  const sums = async (terms: GradientTerms) => {
    const out = { attract: new Float64Array(2 * count), repel: new Float64Array(2 * count), zPart: new Float64Array(count) }
    try {
      await terms.compute(y, 12, out.attract, out.repel, out.zPart)
    } finally {
      await terms.close()
    }
    return out
  }
  const one = await sums(treeForces(p, count, 0.5))
  const three = await sums(forceWorkers(p, count, 0.5, 3))
  assert.deepEqual(three, one)

  const settings = { ...(resolveParams(tsne, { iterations: 300 }) as unknown as TsneSettings) }
  const [single, threaded] = [await runTsne(input, { ...settings, threads: 1 }, recording()), await runTsne(input, { ...settings, threads: 2 }, recording())]
  assert.deepEqual(Buffer.from(threaded.buffer), Buffer.from(single.buffer))
  const cancelled = recording()
  const progress = cancelled.progress
  cancelled.progress = (e) => {
    progress(e)
    if (e.done >= 50) cancelled.controller.abort()
  }
  await assert.rejects(runTsne(input, { ...settings, threads: 2 }, cancelled), (e: unknown) => e instanceof ConvscopeError && e.code === 'CANCELLED')
})
