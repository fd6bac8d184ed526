/**
 * The kNN graph UMAP starts from: each row's k nearest (Euclidean), itself first at distance 0, as umap-learn's
 * nearest_neighbors returns it. Like umap-learn, exact below 4 096 points (embeddings/knn.ts, blocked dot products)
 * and approximate above: umap-js's random-projection forest and nearest-neighbour descent (Dong et al. 2011).
 * Measured on Fashion-MNIST PCA-50 (bench/umap.ts, bench/results/umap-2026-12-05.json; 2 cores shared, load 8-12):
 * 10 000 points, exact 4.9 s of CPU vs descent 2.6 s, 99.7 % of the exact neighbours found, the map's
 * trustworthiness 0.985 with the exact graph vs 0.986 with the descent's; 50 000 points, exact 125 s of CPU (247 s
 * wall) vs descent 21 s (56 s wall), 99.4 % found.
 * The exact search yields to the event loop between blocks of rows and the forest between trees (progress, cancel);
 * the descent itself is one call of umap-js, so a cancel waits for it.
 */
import { setImmediate } from 'node:timers/promises'
import * as nnDescent from 'umap-js/dist/nn_descent'
import * as rpTree from 'umap-js/dist/tree'
import { throwIfCancelled, type JobContext } from '../../context'
import { knnIndex, searchIndex } from '../../embeddings/knn'
import type { Rng } from '../../rng'
import type { NeighbourGraph } from './fuzzySet'

/** umap-learn's threshold: below it the kNN graph is exact. */
export const EXACT_BELOW = 4096
/** Query rows per exact-search block between event-loop turns. */
const EXACT_BLOCK = 1024

export type KnnMethod = 'exact' | 'descent'

export const knnMethodFor = (count: number): KnnMethod => (count < EXACT_BELOW ? 'exact' : 'descent')

/** Progress of the kNN phase: rows done of all rows. */
const report = (ctx: JobContext, done: number, total: number, how: string): void =>
  ctx.progress({ done, total, unit: 'rows', message: `nearest neighbours (${how})` })

export async function umapNeighbours(data: Float32Array, count: number, dim: number, k: number, method: KnnMethod, rng: Rng, ctx: JobContext): Promise<NeighbourGraph> {
  return method === 'exact' ? exactNeighbours(data, count, dim, k, ctx) : descentNeighbours(data, count, dim, k, rng, ctx)
}

async function exactNeighbours(data: Float32Array, count: number, dim: number, k: number, ctx: JobContext): Promise<NeighbourGraph> {
  const index = knnIndex(data, count, dim)
  const graph: NeighbourGraph = { indices: new Int32Array(count * k), distances: new Float32Array(count * k), k }
  for (let q0 = 0; q0 < count; q0 += EXACT_BLOCK) {
    report(ctx, q0, count, 'exact')
    await setImmediate()
    throwIfCancelled(ctx)
    const qn = Math.min(EXACT_BLOCK, count - q0)
    const exclude = Int32Array.from({ length: qn }, (_, i) => q0 + i)
    const part = searchIndex(index, data.subarray(q0 * dim, (q0 + qn) * dim), qn, k - 1, 'l2', { exclude })
    for (let i = 0; i < qn; i++) {
      const row = (q0 + i) * k
      graph.indices[row] = q0 + i
      graph.indices.set(part.indices.subarray(i * (k - 1), (i + 1) * (k - 1)), row + 1)
      graph.distances.set(part.distances.subarray(i * (k - 1), (i + 1) * (k - 1)), row + 1)
    }
  }
  report(ctx, count, count, 'exact')
  return graph
}

/** Euclidean distance on plain arrays, without umap-js's Math.pow per component. */
function euclidean(x: number[], y: number[]): number {
  let s = 0
  for (let d = 0; d < x.length; d++) {
    const diff = x[d]! - y[d]!
    s += diff * diff
  }
  return Math.sqrt(s)
}

async function descentNeighbours(data: Float32Array, count: number, dim: number, k: number, rng: Rng, ctx: JobContext): Promise<NeighbourGraph> {
  const random = () => rng.next()
  // umap-js works on arrays of plain arrays.
  const rows = Array.from({ length: count }, (_, i) => Array.from(data.subarray(i * dim, (i + 1) * dim)))
  // umap-js's forest size and iteration count (umap.js nearestNeighbors), one tree per event-loop turn.
  const trees = 5 + Math.floor(Math.round(Math.sqrt(count) / 20))
  const iterations = Math.max(5, Math.round(Math.log2(count)))
  const forest: rpTree.FlatTree[] = []
  for (let t = 0; t < trees; t++) {
    report(ctx, 0, count, `descent, tree ${t + 1} of ${trees}`)
    await setImmediate()
    throwIfCancelled(ctx)
    forest.push(...rpTree.makeForest(rows, k, 1, random))
  }
  report(ctx, 0, count, `descent, ${iterations} rounds`)
  await setImmediate()
  throwIfCancelled(ctx)
  const { indices, weights } = nnDescent.makeNNDescent(euclidean, random)(rows, rpTree.makeLeafArray(forest), k, iterations)
  const graph: NeighbourGraph = { indices: new Int32Array(count * k), distances: new Float32Array(count * k), k }
  for (let i = 0; i < count; i++) {
    graph.indices.set(indices[i]!, i * k)
    graph.distances.set(weights[i]!, i * k)
  }
  report(ctx, count, count, 'descent')
  await setImmediate()
  throwIfCancelled(ctx)
  return graph
}
