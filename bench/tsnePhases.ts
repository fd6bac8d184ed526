/**
 * One t-SNE gradient evaluation at 50 000 points, phase by phase (issue 13's 3-minute bar: 1 000 of them make most
 * of a run). Input: bench/tsne.ts's Fashion-MNIST PCA-50 points (.cache/bench/tsne/fmnist-N.npy) and, as the layout,
 * the map its last run made (.cache/bench/tsne/convscope-N.npy: a late-stage layout) or --layout (.npy [N, 2]).
 * P is made as runTsne makes it (inputAffinities: exact kNN, σ search, symmetrised). Per phase on this thread:
 * the walk order (spatialOrder, run every 10th iteration), the quadtree's build, the Barnes-Hut walk of every
 * point (θ 0.5), the attraction over P; then the whole evaluation on 1 thread (treeForces) and on every core
 * (forceWorkers). CPU ms (process.cpuUsage: this thread's phases; the threaded row's CPU counts every thread) and
 * wall ms, best of --repeats, alternating; the 1-minute load before and after.
 *
 *   node --import tsx bench/tsnePhases.ts [--count 50000] [--layout FILE.npy] [--repeats 7] [--out FILE]
 */
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { inputAffinities } from '../src/main/engine/projections/tsne'
import { QuadTree, spatialOrder } from '../src/main/engine/projections/tsne/barnesHut'
import { forceWorkers } from '../src/main/engine/projections/tsne/forceWorkers'
import { attraction, type GradientTerms } from '../src/main/engine/projections/tsne/gradientDescent'
import { treeForces } from '../src/main/engine/projections/tsne/treeForces'
import { readNpy } from '../src/main/engine/store/npy'
import { gitCommit } from './gitCommit'

const ROOT = resolve(import.meta.dirname, '..')
const CACHE = join(ROOT, '.cache/bench/tsne')
const { values } = parseArgs({ options: { count: { type: 'string', default: '50000' }, layout: { type: 'string' }, repeats: { type: 'string', default: '7' }, out: { type: 'string' } } })
const count = Number(values.count)
const repeats = Number(values.repeats)
const load1 = () => Number(loadavg()[0]!.toFixed(2))
const log = (s: string) => process.stderr.write(s + '\n')

async function read(file: string): Promise<Float32Array> {
  if (!existsSync(file)) throw new Error(`${file} is missing: run bench/tsne.ts --counts ${count} first`)
  return (await readNpy(file)).data as Float32Array
}

async function main(): Promise<void> {
  const data = await read(join(CACHE, `fmnist-${count}.npy`))
  const layoutFile = values.layout ?? join(CACHE, `convscope-${count}.npy`)
  const y = Float64Array.from(await read(layoutFile))
  const loadBefore = load1()
  const p = await inputAffinities({ data, count, dim: data.length / count }, 30)
  const order = new Int32Array(count)
  const tree = new QuadTree(4 * count + 16)
  const attract = new Float64Array(2 * count)
  const repel = new Float64Array(2 * count)
  const zPart = new Float64Array(count)
  const threads = availableParallelism()
  const terms: Record<string, GradientTerms> = { evaluation1Thread: treeForces(p, count, 0.5), [`evaluation${threads}Threads`]: forceWorkers(p, count, 0.5, threads) }
  const phases: Record<string, () => Promise<void> | void> = {
    spatialOrder: () => spatialOrder(y, count, order),
    build: () => tree.build(y, count, order),
    walk: () => tree.repulsion(y, 0, count, 0.5, repel, zPart, order),
    attraction: () => attraction(y, p, 1, attract),
    ...Object.fromEntries(Object.entries(terms).map(([name, t]) => [name, () => t.compute(y, 1, attract, repel, zPart)])),
  }
  const best = Object.fromEntries(Object.keys(phases).map((k) => [k, { cpuMs: Infinity, wallMs: Infinity }]))
  for (let r = 0; r < repeats; r++) {
    for (const [name, run] of Object.entries(phases)) {
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      await run()
      const wall = performance.now() - t0
      const cpu = process.cpuUsage(cpu0)
      best[name]!.cpuMs = Math.min(best[name]!.cpuMs, (cpu.user + cpu.system) / 1000)
      best[name]!.wallMs = Math.min(best[name]!.wallMs, wall)
    }
  }
  for (const t of Object.values(terms)) await t.close()
  const rounded = Object.fromEntries(Object.entries(best).map(([k, v]) => [k, { cpuMs: Number(v.cpuMs.toFixed(1)), wallMs: Number(v.wallMs.toFixed(1)) }]))
  for (const [k, v] of Object.entries(rounded)) log(`${k}: ${v.cpuMs} CPU ms, ${v.wallMs} ms wall`)
  const result = {
    bench: 'tsnePhases',
    date: new Date().toISOString(),
    commit: gitCommit(),
    machine: { cpus: cpus().length, availableParallelism: threads, cpu: cpus()[0]?.model, node: process.version },
    count,
    layout: layoutFile.replace(ROOT + '/', ''),
    treeNodes: tree.size,
    pEntries: p.values.length,
    repeats,
    load1: [loadBefore, load1()],
    phases: rounded,
  }
  const out = values.out ?? join(ROOT, `bench/results/tsne-phases-${result.date.slice(0, 10)}.json`)
  await writeFile(out, JSON.stringify(result, null, 2) + '\n')
  log(`wrote ${out}`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
