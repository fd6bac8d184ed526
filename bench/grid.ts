/**
 * The image grid (issue 13): the optimal assignment of grid cells to map points (embeddings/gridAssignment.ts)
 * against scipy.optimize.linear_sum_assignment on the same problems in the same run (bench/reference/
 * grid_reference.py: the solve alone, its cost matrix made before the clock starts), and the grid PNG (gridPng.ts)
 * of demo images with the process's peak RSS.
 *
 * Problems: seeded t-SNE-like maps (10 Gaussian clusters of unequal sizes) on 32×32 and 50×50 grids, with as many
 * points as cells and with 4× more points. Times are the best of --repeats; the 1-minute load average is recorded
 * before each part (the machine may be shared). Results: a table and bench/results/grid-<date>.json.
 *
 *   node --import tsx bench/grid.ts [--repeats 1] [--out FILE]
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { assignGrid } from '../src/main/engine/embeddings/gridAssignment'
import { writeGridPng } from '../src/main/engine/embeddings/gridPng'
import { listImageFolder } from '../src/main/engine/images/imageFolder'
import { Rng } from '../src/main/engine/rng'
import { demoImages } from './demoImages'
import { gitCommit } from './gitCommit'

const ROOT = resolve(import.meta.dirname, '..')
const { values } = parseArgs({ options: { repeats: { type: 'string', default: '1' }, out: { type: 'string' } } })
const repeats = Number(values.repeats)
const load1 = () => Number(loadavg()[0]!.toFixed(2))
const log = (s: string) => process.stderr.write(s + '\n')

/** n points in 10 Gaussian clusters of unequal sizes and spreads (a t-SNE map's look), float32 as maps are. */
function clusteredMap(n: number, seed: string): Float32Array {
  const rng = Rng.from('bench-grid', seed)
  const centres = Array.from({ length: 10 }, () => [rng.uniform(-40, 40), rng.uniform(-40, 40), rng.uniform(2, 8), rng.uniform(0.3, 1.5)] as const)
  const total = centres.reduce((s, c) => s + c[3], 0)
  const out = new Float32Array(2 * n)
  for (let i = 0; i < n; i++) {
    let pick = rng.next() * total
    const c = centres.find((q) => (pick -= q[3]) <= 0) ?? centres[9]!
    // Box–Muller
    const r = Math.sqrt(-2 * Math.log(1 - rng.next()))
    const a = 2 * Math.PI * rng.next()
    out[2 * i] = c[0] + c[2] * r * Math.cos(a)
    out[2 * i + 1] = c[1] + c[2] * r * Math.sin(a)
  }
  return out
}

async function main(): Promise<void> {
  const problems = [
    { name: '32x32, 1024 points', cols: 32, rows: 32, n: 1024 },
    { name: '32x32, 4096 points', cols: 32, rows: 32, n: 4096 },
    { name: '50x50, 2500 points', cols: 50, rows: 50, n: 2500 },
    { name: '50x50, 10000 points', cols: 50, rows: 50, n: 10000 },
  ].map((p) => ({ ...p, points: clusteredMap(p.n, p.name) }))

  const tmp = await mkdtemp(join(tmpdir(), 'convscope-bench-grid-'))
  try {
    const problemFile = join(tmp, 'problems.json')
    await writeFile(problemFile, JSON.stringify(problems.map((p) => ({ name: p.name, cols: p.cols, rows: p.rows, points: Array.from(p.points) }))))
    const scipyLoad = load1()
    log(`scipy linear_sum_assignment (load ${scipyLoad}) …`)
    const scipy = JSON.parse(execFileSync('/usr/bin/python3', [join(ROOT, 'bench/reference/grid_reference.py'), problemFile, '--repeats', String(repeats)], { encoding: 'utf8' })) as { name: string; seconds: number; cost: number }[]

    const assignment = []
    for (const [k, p] of problems.entries()) {
      const loadBefore = load1()
      let best = Infinity
      let cost = NaN
      for (let r = 0; r < repeats; r++) {
        const t = performance.now()
        const grid = await assignGrid(p.points, p.cols, p.rows)
        best = Math.min(best, (performance.now() - t) / 1000)
        cost = grid.cost
      }
      const ref = scipy[k]!
      const row = { problem: p.name, convscopeSeconds: best, scipySeconds: ref.seconds, ratio: best / ref.seconds, cost, scipyCost: ref.cost, relativeCostDifference: Math.abs(cost - ref.cost) / ref.cost, load1Before: loadBefore }
      assignment.push(row)
      log(`${p.name.padEnd(22)} convscope ${best.toFixed(2)} s   scipy ${ref.seconds.toFixed(2)} s   ratio ${row.ratio.toFixed(2)}   cost ${cost.toFixed(3)} (scipy ${ref.cost.toFixed(3)})   load ${loadBefore}`)
    }

    // The PNG: a 32×32 grid of 64-pixel cells of demo images (128² PNG files), cells filled in turn.
    const images = (await listImageFolder(await demoImages(128, 20), 100_000)).images.map((i) => i.path)
    const cells = Array.from({ length: 32 * 32 }, (_, k) => (k % 37 === 36 ? -1 : k % images.length))
    const pngLoad = load1()
    let peak = process.memoryUsage().rss
    const rssBefore = peak
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20)
    const t = performance.now()
    await writeGridPng(join(tmp, 'grid.png'), { cols: 32, rows: 32, cell: 64, cells, paths: images })
    const pngSeconds = (performance.now() - t) / 1000
    clearInterval(timer)
    const png = { grid: '32x32 cells of 64 px (2048² px, 12.6 MB raw)', images: cells.filter((c) => c !== -1).length, seconds: pngSeconds, rssBeforeMB: rssBefore / 1e6, peakRssMB: peak / 1e6, load1Before: pngLoad }
    log(`grid PNG 32x32 x 64 px: ${pngSeconds.toFixed(2)} s, RSS ${(rssBefore / 1e6).toFixed(0)} → peak ${(peak / 1e6).toFixed(0)} MB, load ${pngLoad}`)

    const date = new Date().toISOString().slice(0, 10)
    const file = values.out ?? join(ROOT, 'bench/results', `grid-${date}.json`)
    await mkdir(resolve(file, '..'), { recursive: true })
    const machine = { cpu: cpus()[0]?.model ?? '?', cores: availableParallelism(), memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version }
    const report = { bench: 'grid', commit: gitCommit(), date: new Date().toISOString(), machine, repeats, scipyLoad1Before: scipyLoad, assignment, png, loadAfter: load1() }
    await writeFile(file, JSON.stringify(report, null, 2) + '\n')
    log(`wrote ${file}`)
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}

await main()
