/**
 * Why engine/projections/umap/ builds the fuzzy set and runs the epochs itself: stock umap-js 1.4.0 (UMAP class,
 * the path of initializeFit + step) timed by phase on the same data as bench/umap.ts (Fashion-MNIST PCA-50, the
 * same .cache/bench/umap files). Its private phase methods are called one by one only here, to time them: the
 * NN-descent, the fuzzy set (sparse matrices keyed by "row:col" strings), the search graph of transform() (which a
 * map never uses), the set-up of the layout, and 10 epochs (seconds per epoch). Wall and CPU seconds, load beside.
 *
 *   node --import tsx bench/umapJs.ts [--counts 10000,50000] [--out FILE]
 */
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { UMAP } from 'umap-js'
import { Rng } from '../src/main/engine/rng'
import { readNpy } from '../src/main/engine/store/npy'
import { gitCommit } from './gitCommit'

const ROOT = resolve(import.meta.dirname, '..')
const { values } = parseArgs({ options: { counts: { type: 'string', default: '10000,50000' }, out: { type: 'string' } } })
const log = (s: string) => process.stderr.write(s + '\n')
const EPOCHS_TIMED = 10

/** The private members of umap-js's UMAP that initializeFit calls in turn (umap-js 1.4.0, dist/umap.js). */
interface UmapInternals {
  X: number[][]
  knnIndices: number[][]
  knnDistances: number[][]
  graph: unknown
  searchGraph: unknown
  optimizationState: Record<string, unknown>
  nearestNeighbors(X: number[][]): { knnIndices: number[][]; knnDistances: number[][] }
  fuzzySimplicialSet(X: number[][], nNeighbors: number, setOpMixRatio: number): unknown
  makeSearchFns(): void
  makeSearchGraph(X: number[][]): unknown
  initializeSimplicialSetEmbedding(): { head: number[]; tail: number[]; epochsPerSample: number[] }
  initializeOptimization(): void
  prepareForOptimizationLoop(): void
  step(): number
}

function timed<T>(run: () => T): { value: T; seconds: number; cpuSeconds: number; load1: number } {
  const cpu = process.cpuUsage()
  const start = performance.now()
  const value = run()
  const used = process.cpuUsage(cpu)
  return { value, seconds: Number(((performance.now() - start) / 1000).toFixed(2)), cpuSeconds: Number(((used.user + used.system) / 1e6).toFixed(2)), load1: Number(loadavg()[0]!.toFixed(2)) }
}

async function main(): Promise<void> {
  const rows = []
  for (const count of values.counts.split(',').map(Number)) {
    const file = join(ROOT, `.cache/bench/umap/fmnist-${count}.npy`)
    if (!existsSync(file)) throw new Error(`${file} is missing: run bench/umap.ts first (its prepare step makes it)`)
    const { data, shape } = await readNpy(file)
    const dim = shape[1]!
    const rows2d = Array.from({ length: count }, (_, i) => Array.from((data as Float32Array).subarray(i * dim, (i + 1) * dim)))
    const rng = Rng.from('umap', 0)
    const umap = new UMAP({ nNeighbors: 15, nEpochs: count <= 10_000 ? 500 : 200, random: () => rng.next() }) as unknown as UmapInternals
    const loadBefore = Number(loadavg()[0]!.toFixed(2))
    const knn = timed(() => umap.nearestNeighbors(rows2d))
    umap.X = rows2d
    umap.knnIndices = knn.value.knnIndices
    umap.knnDistances = knn.value.knnDistances
    const fuzzy = timed(() => (umap.graph = umap.fuzzySimplicialSet(rows2d, 15, 1)))
    const search = timed(() => {
      umap.makeSearchFns()
      umap.searchGraph = umap.makeSearchGraph(rows2d)
    })
    const setup = timed(() => {
      Object.assign(umap.optimizationState, umap.initializeSimplicialSetEmbedding())
      umap.initializeOptimization()
      umap.prepareForOptimizationLoop()
    })
    const epochs = timed(() => {
      for (let e = 0; e < EPOCHS_TIMED; e++) umap.step()
    })
    const phase = ({ seconds, cpuSeconds, load1 }: { seconds: number; cpuSeconds: number; load1: number }) => ({ seconds, cpuSeconds, load1 })
    const row = {
      count,
      dim,
      loadBefore,
      nearestNeighbours: phase(knn),
      fuzzySet: phase(fuzzy),
      searchGraphForTransform: phase(search),
      layoutSetup: phase(setup),
      perEpoch: { seconds: Number((epochs.seconds / EPOCHS_TIMED).toFixed(3)), cpuSeconds: Number((epochs.cpuSeconds / EPOCHS_TIMED).toFixed(3)), load1: epochs.load1 },
    }
    log(JSON.stringify(row))
    rows.push(row)
  }
  const date = new Date().toISOString().slice(0, 10)
  const out = values.out ?? join(ROOT, `bench/results/umap-js-${date}.json`)
  const result = { bench: 'umapJs', date: new Date().toISOString(), commit: gitCommit(), library: 'umap-js 1.4.0', data: 'as bench/umap.ts: Fashion-MNIST PCA-50 (float32)', rows }
  await writeFile(out, JSON.stringify(result, null, 2) + '\n')
  log(`wrote ${out}`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
