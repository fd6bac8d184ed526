/**
 * UMAP (issue 13's Done-when: 50 000 points ≤ 2 min here, with progress and cancel). Data: Fashion-MNIST (Debian
 * dataset-fashion-mnist, real 28×28 images), the first N reduced to 50-D by sklearn's PCA once (the prepare step of
 * bench/reference/tsne_reference.py → .cache/bench/umap/fmnist-N.npy), so the map's own PCA step is not run (the
 * codes are already 50-D). For each N: the projection with its defaults (umap.run), its phases read from the
 * progress events (kNN, fuzzy set + layout set-up, epochs); the trustworthiness (k = 10, engine/embeddings/
 * trustworthiness.ts, equal to scikit-learn's) of the map and of PCA-2D (the first two PCA components of the same
 * input) against the 50-D input; wall and CPU seconds (CPU: this process, whatever else the machine runs). Also the
 * kNN phase done exactly vs by NN-descent (time, recall of the descent) and the whole map with the exact graph (its
 * trustworthiness). For the largest size: a cancel
 * 1 s into NN-descent and one after 20 epochs (seconds from the abort to the rejection). The 1-minute load average
 * is written beside every time (the machine is shared).
 *
 *   node --import tsx bench/umap.ts [--counts 10000,50000] [--compare 10000,50000] [--compare-map 10000] [--no-cancel]
 *     [--no-trustworthiness] [--out FILE]
 * --compare: sizes where the kNN phase is also timed both ways; --compare-map: where the whole map is also made with
 * the exact graph.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ConvscopeError, type Progress } from '../src/shared/api'
import type { JobContext } from '../src/main/engine/context'
import { trustworthiness } from '../src/main/engine/embeddings/trustworthiness'
import { resolveParams } from '../src/main/engine/projections/registry'
import { runUmap, umap, type UmapSettings } from '../src/main/engine/projections/umap'
import { umapNeighbours, type KnnMethod } from '../src/main/engine/projections/umap/neighbours'
import { Rng } from '../src/main/engine/rng'
import { readNpy } from '../src/main/engine/store/npy'
import { gitCommit } from './gitCommit'

const ROOT = resolve(import.meta.dirname, '..')
const CACHE = join(ROOT, '.cache/bench/umap')
const PREPARE = join(ROOT, 'bench/reference/tsne_reference.py')
const { values } = parseArgs({
  options: {
    counts: { type: 'string', default: '10000,50000' },
    compare: { type: 'string', default: '10000,50000' },
    'compare-map': { type: 'string', default: '10000' },
    'no-cancel': { type: 'boolean', default: false },
    'no-trustworthiness': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
})
const counts = values.counts.split(',').map(Number)
const sizes = (list: string) => new Set(list.split(',').filter(Boolean).map(Number))
const compare = sizes(values.compare)
const compareMap = sizes(values['compare-map'])

const load1 = () => Number(loadavg()[0]!.toFixed(2))
const log = (s: string) => process.stderr.write(s + '\n')
const round = (x: number, digits = 2) => Number(x.toFixed(digits))
/** CPU seconds of this process (user + system) since `from`: what the work costs whatever else the machine runs. */
const cpuSince = (from: NodeJS.CpuUsage) => {
  const { user, system } = process.cpuUsage(from)
  return round((user + system) / 1e6)
}
const settings = resolveParams(umap, {}) as unknown as UmapSettings

async function dataFile(count: number): Promise<string> {
  const file = join(CACHE, `fmnist-${count}.npy`)
  if (!existsSync(file)) {
    await mkdir(CACHE, { recursive: true })
    execFileSync('/usr/bin/python3', [PREPARE, 'prepare', '--count', String(count), '--out', file], { stdio: ['ignore', 'ignore', 'inherit'] })
  }
  return file
}

/** A context that records each progress event with its wall time (seconds since `start`) and this process's CPU seconds. */
function timedContext(start: number, signal = new AbortController().signal): JobContext & { events: { t: number; cpu: number; p: Progress }[] } {
  const events: { t: number; cpu: number; p: Progress }[] = []
  const cpu0 = process.cpuUsage()
  return { events, signal, progress: (p) => events.push({ t: (performance.now() - start) / 1000, cpu: cpuSince(cpu0), p }) }
}

/** The map with defaults, timed by phase from its progress events (the fuzzy set begins and the layout's epochs begin with a message). */
async function timedMap(data: Float32Array, count: number, dim: number, knn?: KnnMethod) {
  const loadBefore = load1()
  const cpu = process.cpuUsage()
  const start = performance.now()
  const ctx = timedContext(start)
  const points = await runUmap({ data, count, dim }, 2, settings, ctx, knn)
  const seconds = (performance.now() - start) / 1000
  const cpuSeconds = cpuSince(cpu)
  const at = (message: string) => ctx.events.find((e) => e.p.message === message)!
  const knnEnd = at('fuzzy simplicial set')
  const epochsStart = at('layout')
  const phases = {
    knn: round(knnEnd.t),
    fuzzySetAndLayoutSetup: round(epochsStart.t - knnEnd.t),
    epochs: round(seconds - epochsStart.t),
    cpuSeconds: { knn: knnEnd.cpu, fuzzySetAndLayoutSetup: round(epochsStart.cpu - knnEnd.cpu), epochs: round(cpuSeconds - epochsStart.cpu) },
  }
  return { points, seconds: round(seconds), cpuSeconds, phases, load1: [loadBefore, load1()], progressEvents: ctx.events.length, nEpochs: ctx.events.at(-1)!.p.total }
}

function timedTrustworthiness(high: Float32Array, low: Float32Array, count: number, dim: number) {
  const loadBefore = load1()
  const cpu = process.cpuUsage()
  const start = performance.now()
  const value = trustworthiness(high, low, count, dim, 2, 10)
  return { value: round(value, 4), seconds: round((performance.now() - start) / 1000), cpuSeconds: cpuSince(cpu), load1: [loadBefore, load1()] }
}

async function knnComparison(data: Float32Array, count: number, dim: number) {
  const k = settings.nNeighbors
  const timed = async (method: KnnMethod) => {
    const loadBefore = load1()
    const start = performance.now()
    const cpu = process.cpuUsage()
    const graph = await umapNeighbours(data, count, dim, k, method, Rng.from('umap', settings.seed), timedContext(start))
    return { graph, seconds: round((performance.now() - start) / 1000), cpuSeconds: cpuSince(cpu), load1: [loadBefore, load1()] }
  }
  const exact = await timed('exact')
  const descent = await timed('descent')
  let found = 0
  for (let i = 0; i < count; i++) {
    const truth = new Set(exact.graph.indices.subarray(i * k, (i + 1) * k))
    for (const j of descent.graph.indices.subarray(i * k, (i + 1) * k)) if (truth.has(j)) found++
  }
  const { graph: _e, ...exactTimes } = exact
  const { graph: _d, ...descentTimes } = descent
  return { exact: exactTimes, descent: descentTimes, descentRecall: round(found / (count * k), 4) }
}

/**
 * Seconds from an abort to the rejection. The abort is a timer `delayMs` after the first event `when` accepts, as a
 * cancel message arrives: it fires only when the event loop gets a turn, as a real one does.
 */
async function cancelLatency(data: Float32Array, count: number, dim: number, when: (p: Progress) => boolean, delayMs: number) {
  const controller = new AbortController()
  const start = performance.now()
  let abortedAt = 0
  const ctx: JobContext = {
    signal: controller.signal,
    progress: (p) => {
      if (abortedAt || !when(p)) return
      abortedAt = -1
      const scheduled = performance.now() + delayMs
      setTimeout(() => ((abortedAt = scheduled), controller.abort()), delayMs)
    },
  }
  try {
    await runUmap({ data, count, dim }, 2, settings, ctx)
    return { cancelled: false }
  } catch (e) {
    if (!(e instanceof ConvscopeError && e.code === 'CANCELLED')) throw e
    const now = performance.now()
    return { cancelled: true, abortRequestedAfter: round((abortedAt - start) / 1000), secondsToStop: round((now - abortedAt) / 1000, 3), load1: load1() }
  }
}

async function main(): Promise<void> {
  const rows = []
  for (const count of counts) {
    const array = await readNpy(await dataFile(count))
    if (array.dtype !== 'float32') throw new Error('float32 expected')
    const [n, dim] = array.shape as [number, number]
    const data = array.data as Float32Array
    const map = await timedMap(data, n, dim)
    log(`${n} points: UMAP ${map.seconds} s, CPU ${map.cpuSeconds} s (${JSON.stringify(map.phases)}), load ${map.load1.join(' → ')}`)
    const pca2d = new Float32Array(n * 2)
    for (let i = 0; i < n; i++) pca2d.set(data.subarray(i * dim, i * dim + 2), i * 2)
    const row: Record<string, unknown> = {
      count: n,
      dim,
      seconds: map.seconds,
      cpuSeconds: map.cpuSeconds,
      phases: { pca: 'not run: the input is already 50-D (sklearn PCA in the prepare step)', ...map.phases },
      load1: map.load1,
      nEpochs: map.nEpochs,
      progressEvents: map.progressEvents,
    }
    if (!values['no-trustworthiness']) {
      const umapTrust = timedTrustworthiness(data, map.points, n, dim)
      const pcaTrust = timedTrustworthiness(data, pca2d, n, dim)
      log(`  trustworthiness k=10: UMAP ${umapTrust.value}, PCA-2D ${pcaTrust.value} (${umapTrust.seconds} s each, load ${umapTrust.load1.join(' → ')})`)
      row.trustworthiness = { umap: umapTrust.value, pca2d: pcaTrust.value, seconds: umapTrust.seconds, cpuSeconds: umapTrust.cpuSeconds, load1: umapTrust.load1 }
    }
    if (compare.has(count)) {
      const knn = await knnComparison(data, n, dim)
      log(`  kNN: exact ${knn.exact.seconds} s (load ${knn.exact.load1.join(' → ')}), descent ${knn.descent.seconds} s (load ${knn.descent.load1.join(' → ')}), recall ${knn.descentRecall}`)
      row.knn = knn
    }
    if (compareMap.has(count)) {
      const exactMap = await timedMap(data, n, dim, 'exact')
      const exactTrust = timedTrustworthiness(data, exactMap.points, n, dim)
      log(`  with the exact graph: ${exactMap.seconds} s, trustworthiness ${exactTrust.value}`)
      row.exactGraphMap = { seconds: exactMap.seconds, cpuSeconds: exactMap.cpuSeconds, phases: exactMap.phases, load1: exactMap.load1, trustworthiness: exactTrust.value }
    }
    if (!values['no-cancel'] && count === Math.max(...counts)) {
      const duringDescent = await cancelLatency(data, n, dim, (p) => p.message?.includes('rounds') ?? false, 1000)
      const duringEpochs = await cancelLatency(data, n, dim, (p) => p.unit === 'iterations' && p.done >= 20, 0)
      log(`  cancel: during NN-descent ${JSON.stringify(duringDescent)}, during epochs ${JSON.stringify(duringEpochs)}`)
      row.cancel = { duringDescent, duringEpochs }
    }
    rows.push(row)
  }
  const date = new Date().toISOString().slice(0, 10)
  const result = {
    bench: 'umap',
    date: new Date().toISOString(),
    commit: gitCommit(),
    machine: { cpus: cpus().length, availableParallelism: availableParallelism(), cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    data: 'Fashion-MNIST (Debian dataset-fashion-mnist), first N of train+t10k, pixels/255, sklearn PCA to 50-D (float32)',
    settings: { ...settings, trustworthiness: 'k = 10 against the 50-D input (engine/embeddings/trustworthiness.ts = sklearn.manifold.trustworthiness)' },
    rows,
  }
  const out = values.out ?? join(ROOT, `bench/results/umap-${date}.json`)
  await writeFile(out, JSON.stringify(result, null, 2) + '\n')
  log(`wrote ${out}`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
