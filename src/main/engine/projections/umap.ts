/**
 * UMAP (issue 13 item 3; McInnes, Healy & Melville 2018) with umap-learn's defaults: PCA to `pcaDims` first when
 * the codes are wider; the kNN graph (umap/neighbours.ts: exact below 4 096 points, else umap-js's NN-descent);
 * the fuzzy simplicial set (umap/fuzzySet.ts); random initialisation and the layout's epochs (umap/layout.ts, a
 * and b from umap-js's findABParams). Cosine: rows are scaled to unit length first, where the Euclidean order is the
 * cosine order, and distances are turned back into 1 − cos = d² / 2. Seeded: every random draw (forest, descent,
 * initialisation, negative samples) comes from one engine/rng.ts stream named by the seed.
 * Progress: the kNN phase in rows, then {done: epoch, total: nEpochs, unit: 'iterations'}; cancel between blocks
 * of rows, trees and epochs.
 * Fashion-MNIST PCA-50, 50 000 points (bench/umap.ts, one core; bench/results/umap-phases-2026-12-05.json):
 * 61 s wall at load 3.4 → 2.3 (kNN 17 s, fuzzy set + layout set-up 1.3 s, 200 epochs 43 s); in the full run
 * (umap-2026-12-05.json) 82 s of CPU but 350 s wall at load 11-13; trustworthiness 0.985 (PCA-2D 0.922).
 */
import { setImmediate } from 'node:timers/promises'
import { ConvscopeError } from '../../../shared/api'
import { throwIfCancelled, type JobContext } from '../context'
import { Rng } from '../rng'
import { PCA_DIMS_PARAM, reducedByPca } from './pca'
import type { Projection, ProjectionInput } from './projection'
import { fuzzySimplicialSet } from './umap/fuzzySet'
import { createLayout } from './umap/layout'
import { knnMethodFor, umapNeighbours, type KnnMethod } from './umap/neighbours'

/** Epochs between progress reports (the event loop gets a turn after every epoch, so a cancel message can arrive). */
const EPOCHS_PER_REPORT = 5
/** umap-learn's n_epochs=None: 500 up to 10 000 points, else 200. */
const autoEpochs = (count: number): number => (count <= 10_000 ? 500 : 200)

export interface UmapSettings {
  nNeighbors: number
  minDist: number
  spread: number
  /** 0: auto (autoEpochs). */
  nEpochs: number
  metric: 'euclidean' | 'cosine'
  seed: number
  /** Reduce wider codes to this many PCA dimensions first; 0: never. */
  pcaDims: number
}

export const umap: Projection = {
  info: {
    name: 'umap',
    label: 'UMAP',
    description: 'UMAP (umap-learn defaults): keeps neighbourhoods and more of the layout between clusters than t-SNE, faster on large sets',
    maxDims: 2,
    params: [
      { name: 'nNeighbors', label: 'Neighbours', kind: 'int', default: 15, min: 2, max: 200, help: 'Size of the neighbourhood each point keeps: small = local detail, large = global shape' },
      { name: 'minDist', label: 'Min distance', kind: 'number', default: 0.1, min: 0, max: 1, help: 'How tightly points may pack on the map' },
      { name: 'spread', label: 'Spread', kind: 'number', default: 1, min: 0.1, max: 10, help: 'Scale of the map; min distance must be below it' },
      { name: 'nEpochs', label: 'Epochs', kind: 'int', default: 0, min: 0, max: 5000, help: '0: auto (500 up to 10 000 points, else 200)' },
      { name: 'metric', label: 'Metric', kind: 'choice', default: 'euclidean', choices: ['euclidean', 'cosine'], help: 'Distance between codes' },
      { name: 'seed', label: 'Seed', kind: 'int', default: 0, min: 0, max: 2 ** 31 - 1, help: 'Seed of the forest, the start and the negative samples' },
      PCA_DIMS_PARAM,
    ],
  },
  run: async (input, dims, params, ctx) => {
    if (!Number.isInteger(dims) || dims < 1 || dims > 2) throw new ConvscopeError('BAD_REQUEST', `UMAP makes 1-D or 2-D maps, not ${dims}-D`)
    const settings = params as unknown as UmapSettings
    if (settings.minDist > settings.spread) throw new ConvscopeError('BAD_REQUEST', `UMAP min distance (${settings.minDist}) must not exceed spread (${settings.spread})`)
    const prepared = await reducedByPca(settings.metric === 'cosine' ? unitRows(input) : input, settings.pcaDims, ctx)
    return { points: await runUmap(prepared, dims, settings, ctx) }
  },
}

/** Rows scaled to unit length (zero rows stay zero): Euclidean distance d there is √(2 (1 − cos)). */
function unitRows({ data, count, dim }: ProjectionInput): ProjectionInput {
  const out = new Float32Array(data.length)
  for (let i = 0; i < count; i++) {
    let s = 0
    for (let d = 0; d < dim; d++) s += data[i * dim + d]! ** 2
    const scale = s > 0 ? 1 / Math.sqrt(s) : 0
    for (let d = 0; d < dim; d++) out[i * dim + d] = data[i * dim + d]! * scale
  }
  return { data: out, count, dim }
}

/**
 * The UMAP map ([count, dims] float32) of `input` as given (no PCA step, no unit rows). `knn` forces the kNN
 * method (the bench compares them); by default umap-learn's choice by size.
 */
export async function runUmap(input: ProjectionInput, dims: number, settings: UmapSettings, ctx: JobContext, knn?: KnnMethod): Promise<Float32Array> {
  const { data, count, dim } = input
  if (count <= settings.nNeighbors) throw new ConvscopeError('BAD_REQUEST', `UMAP needs more codes (${count}) than neighbours (${settings.nNeighbors})`)
  const rng = Rng.from('umap', settings.seed)
  const graph = await umapNeighbours(data, count, dim, settings.nNeighbors, knn ?? knnMethodFor(count), rng, ctx)
  if (settings.metric === 'cosine') for (let i = 0; i < graph.distances.length; i++) graph.distances[i] = graph.distances[i]! ** 2 / 2
  const nEpochs = settings.nEpochs > 0 ? settings.nEpochs : autoEpochs(count)
  ctx.progress({ done: 0, total: nEpochs, unit: 'iterations', message: 'fuzzy simplicial set' })
  const layout = createLayout(fuzzySimplicialSet(graph, count), count, { dims, nEpochs, minDist: settings.minDist, spread: settings.spread }, rng)
  ctx.progress({ done: 0, total: nEpochs, unit: 'iterations', message: 'layout' })
  for (let done = 0; done < nEpochs; ) {
    done = layout.epoch()
    if (done % EPOCHS_PER_REPORT === 0 || done === nEpochs) ctx.progress({ done, total: nEpochs, unit: 'iterations' })
    await setImmediate()
    throwIfCancelled(ctx)
  }
  return layout.points
}
