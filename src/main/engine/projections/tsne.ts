/**
 * t-SNE (issue 13 item 3; van der Maaten & Hinton 2008, Barnes-Hut: van der Maaten 2014), with scikit-learn 1.2's
 * defaults so its trustworthiness and speed can be compared on the same input: PCA to `pcaDims` first when the
 * codes are wider; exact kNN (k = 3·perplexity, Euclidean; embeddings/knn.ts); Gaussian affinities by binary search
 * of each point's σ, symmetrised (tsne/affinities.ts); 'pca' initialisation (the first two principal components,
 * projections/pca.ts) scaled so the first has standard deviation 1e-4 (Kobak & Linderman 2021);
 * 250 iterations of early exaggeration then the rest, momentum 0.5 → 0.8, gains, learning rate 'auto' =
 * max(N / α / 4, 50) (tsne/gradientDescent.ts); Barnes-Hut repulsion with angle θ (tsne/barnesHut.ts; θ = 0 walks
 * to every leaf: exact). Deterministic: PCA is exact and signed; init 'random' draws N(0, 1e-4²) from the seeded
 * stream (engine/rng.ts); nothing else is random, so the same params give the same points.
 */
import { availableParallelism } from 'node:os'
import { setImmediate } from 'node:timers/promises'
import { ConvscopeError } from '../../../shared/api'
import { throwIfCancelled, type JobContext } from '../context'
import { Rng } from '../rng'
import { selfNeighboursAsync } from '../embeddings/knn'
import { PCA_DIMS_PARAM, principalComponents, reducedByPca } from './pca'
import type { Projection, ProjectionInput } from './projection'
import { conditionalAffinities, jointAffinities, type SparseAffinities } from './tsne/affinities'
import { gradientDescent } from './tsne/gradientDescent'
import { forceWorkers } from './tsne/forceWorkers'
import { treeForces } from './tsne/treeForces'

const EXPLORATION_ITERATIONS = 250
/** Iterations between progress reports and event-loop turns (so a cancel message can arrive). */
const REPORT_EVERY = 5

export interface TsneSettings {
  perplexity: number
  iterations: number
  /** 0: 'auto' = max(N / earlyExaggeration / 4, 50). */
  learningRate: number
  earlyExaggeration: number
  theta: number
  seed: number
  init: 'pca' | 'random'
  /** Reduce wider codes to this many PCA dimensions first; 0: never. */
  pcaDims: number
  /** Threads for the gradient (not a setting of the API: the bench and tests compare 1 and more); default: every core from THREADED_FROM points. */
  threads?: number
}

/** Below this many points an iteration takes about a millisecond, as little as waking a worker twice: one thread. */
const THREADED_FROM = 4000

export const tsne: Projection = {
  info: {
    name: 'tsne',
    label: 't-SNE',
    description: 'Barnes-Hut t-SNE (scikit-learn 1.2 defaults): keeps neighbourhoods, not distances between clusters',
    maxDims: 2,
    params: [
      { name: 'perplexity', label: 'Perplexity', kind: 'number', default: 30, min: 2, max: 100, help: 'The effective number of neighbours each point keeps (kNN uses 3× as many)' },
      { name: 'iterations', label: 'Iterations', kind: 'int', default: 1000, min: 250, max: 5000, help: 'Gradient steps, the first 250 with early exaggeration' },
      { name: 'learningRate', label: 'Learning rate', kind: 'number', default: 0, min: 0, max: 100000, help: "0: 'auto' = max(N / early exaggeration / 4, 50)" },
      { name: 'earlyExaggeration', label: 'Early exaggeration', kind: 'number', default: 12, min: 1, max: 100, help: 'P is multiplied by this for the first 250 iterations' },
      { name: 'theta', label: 'Barnes-Hut θ', kind: 'number', default: 0.5, min: 0, max: 1, help: 'Angle below which a cell is summarised; 0: exact (slow beyond a few thousand points)' },
      { name: 'init', label: 'Initialisation', kind: 'choice', default: 'pca', choices: ['pca', 'random'], help: "pca: the first two principal components (keeps global structure); random: Gaussian from the seed" },
      { name: 'seed', label: 'Seed', kind: 'int', default: 0, min: 0, max: 2 ** 31 - 1, help: "Seed of the 'random' initialisation (PCA is exact: no draws)" },
      PCA_DIMS_PARAM,
    ],
  },
  run: async (input, dims, params, ctx) => {
    if (dims !== 2) throw new ConvscopeError('BAD_REQUEST', `t-SNE makes 2-D maps, not ${dims}-D`)
    const settings = params as unknown as TsneSettings
    const points = await runTsne(await reducedByPca(input, settings.pcaDims, ctx), settings, ctx)
    return { points: Float32Array.from(points) }
  },
}

/** PCA's own progress (products, eigen-iterations) as a message of t-SNE's: the bar counts t-SNE iterations. */
const stepContext = (ctx: JobContext, total: number, message: string): JobContext => ({
  signal: ctx.signal,
  progress: () => ctx.progress({ done: 0, total, unit: 'iterations', message }),
})

/** sklearn's init='pca': the first two principal components, scaled so the first has (population) std 1e-4. */
async function pcaLayout(input: ProjectionInput, ctx: JobContext): Promise<Float64Array> {
  const { points } = await principalComponents(input, 2, ctx)
  const n = input.count
  let mean = 0
  for (let i = 0; i < n; i++) mean += points[2 * i]!
  mean /= n
  let variance = 0
  for (let i = 0; i < n; i++) variance += (points[2 * i]! - mean) ** 2
  const std = Math.sqrt(variance / n)
  const scale = std > 0 ? 1e-4 / std : 1
  return Float64Array.from(points, (v) => v * scale)
}

/** sklearn's init='random': N(0, 1e-4²) per coordinate. */
function randomLayout(count: number, seed: number): Float64Array {
  const rng = Rng.from('tsne-init', seed)
  return Float64Array.from({ length: 2 * count }, () => 1e-4 * rng.normal())
}

/**
 * t-SNE's input affinities P of `input` as given: exact kNN (k = 3·perplexity + 1, Euclidean), each point's σ by
 * binary search, symmetrised (tsne/affinities.ts). `onProgress(done, k)`: 0 before the kNN, then codes done.
 */
export async function inputAffinities(input: ProjectionInput, perplexity: number, signal?: AbortSignal, onProgress?: (done: number, k: number) => void): Promise<SparseAffinities> {
  const { data, count, dim } = input
  const k = Math.min(count - 1, Math.floor(3 * perplexity + 1))
  onProgress?.(0, k)
  const knn = await selfNeighboursAsync(data, count, dim, k, 'l2', { signal, onProgress: (done) => onProgress?.(done, k) })
  const squared = new Float64Array(count * k)
  for (let i = 0; i < squared.length; i++) squared[i] = knn.distances[i]! ** 2
  return jointAffinities(knn.indices, conditionalAffinities(squared, count, k, perplexity), count, k)
}

/** The 2-D t-SNE map ([count, 2] float64) of `input` as given (no PCA step). */
export async function runTsne(input: ProjectionInput, settings: TsneSettings, ctx: JobContext): Promise<Float64Array> {
  const { count } = input
  if (count < 2) throw new ConvscopeError('BAD_REQUEST', `t-SNE needs at least 2 codes, not ${count}`)
  if (settings.perplexity >= count) throw new ConvscopeError('BAD_REQUEST', `t-SNE perplexity (${settings.perplexity}) must be less than the number of codes (${count})`)
  const total = settings.iterations
  const p = await inputAffinities(input, settings.perplexity, ctx.signal, (done, k) =>
    ctx.progress({ done: 0, total, unit: 'iterations', message: done === 0 ? `${k} nearest neighbours` : `${k} nearest neighbours: ${done} of ${count} codes` }),
  )
  throwIfCancelled(ctx)
  const y = settings.init === 'random' ? randomLayout(count, settings.seed) : await pcaLayout(input, stepContext(ctx, total, 'PCA initialisation'))
  const learningRate = settings.learningRate > 0 ? settings.learningRate : Math.max(count / settings.earlyExaggeration / 4, 50)
  const threads = Math.min(settings.threads ?? (count >= THREADED_FROM ? availableParallelism() : 1), 16)
  const terms = threads > 1 ? forceWorkers(p, count, settings.theta, threads) : treeForces(p, count, settings.theta)
  try {
    await gradientDescent(y, terms, {
      iterations: total,
      explorationIterations: EXPLORATION_ITERATIONS,
      earlyExaggeration: settings.earlyExaggeration,
      learningRate,
      onIteration: async (done) => {
        if (done % REPORT_EVERY !== 0 && done !== total) return
        ctx.progress({ done, total, unit: 'iterations' })
        await setImmediate()
        throwIfCancelled(ctx)
      },
    })
  } finally {
    await terms.close()
  }
  return y
}
