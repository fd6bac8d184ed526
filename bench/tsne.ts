/**
 * t-SNE (issue 13's Done-when): convscope's Barnes-Hut t-SNE against scikit-learn 1.2's TSNE on the same points, in
 * one run. Data: Fashion-MNIST (Debian dataset-fashion-mnist, real 28×28 images), the first N reduced to 50-D by
 * sklearn's PCA once (bench/reference/tsne_reference.py prepare → .cache/bench/tsne/fmnist-N.npy), so both sides
 * get the same float32 [N, 50] input and neither times the PCA-50 step. convscope runs in this process (runTsne, the
 * projection's work after its PCA step: kNN, affinities, init, 1000 iterations); then the reference script times
 * sklearn's TSNE (same perplexity, seed, defaults) and computes sklearn.manifold.trustworthiness (k = 10) of both
 * embeddings. The 1-minute load average is recorded before and after each side (the machine is shared), and CPU
 * seconds beside wall seconds (process.cpuUsage: all threads; Python's time.process_time: all of sklearn's), since on
 * a shared machine the wall ratio moves with the neighbours' load. On the first size convscope also runs on one
 * thread: the threads' speed-up, and a check that the points are the same bits.
 * Results: a line per size and bench/results/tsne-<date>.json.
 *
 *   node --import tsx bench/tsne.ts [--counts 10000,50000] [--reference-counts 10000] [--skip-one-thread] [--out FILE]
 *
 * --reference-counts: the sizes sklearn also runs on (sklearn's trustworthiness holds the N×N distances: 20 GB at
 * 50 000, so the 50 000 row is convscope's time alone, the 3-minute bar).
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { Progress } from '../src/shared/api'
import { runTsne, type TsneSettings } from '../src/main/engine/projections/tsne'
import { readNpy, writeNpy } from '../src/main/engine/store/npy'
import { gitCommit } from './gitCommit'

const ROOT = resolve(import.meta.dirname, '..')
const CACHE = join(ROOT, '.cache/bench/tsne')
const REFERENCE = join(ROOT, 'bench/reference/tsne_reference.py')
const { values } = parseArgs({ options: { counts: { type: 'string', default: '10000,50000' }, 'reference-counts': { type: 'string', default: '10000' }, out: { type: 'string' }, 'skip-one-thread': { type: 'boolean', default: false } } })
const counts = values.counts.split(',').map(Number)
const referenceCounts = new Set(values['reference-counts'].split(',').filter(Boolean).map(Number))

const load1 = () => Number(loadavg()[0]!.toFixed(2))
const log = (s: string) => process.stderr.write(s + '\n')
const settings: TsneSettings = { perplexity: 30, iterations: 1000, learningRate: 0, earlyExaggeration: 12, theta: 0.5, seed: 0, init: 'pca', pcaDims: 0 }

async function dataFile(count: number): Promise<string> {
  const file = join(CACHE, `fmnist-${count}.npy`)
  if (!existsSync(file)) {
    await mkdir(CACHE, { recursive: true })
    execFileSync('/usr/bin/python3', [REFERENCE, 'prepare', '--count', String(count), '--out', file], { stdio: ['ignore', 'ignore', 'inherit'] })
  }
  return file
}

/** Written after every size, so a long run that stops keeps what it measured. */
async function save(rows: unknown[]): Promise<void> {
  const date = new Date().toISOString().slice(0, 10)
  const result = {
    bench: 'tsne',
    date: new Date().toISOString(),
    commit: gitCommit(),
    machine: { cpus: cpus().length, availableParallelism: availableParallelism(), cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    data: 'Fashion-MNIST (Debian dataset-fashion-mnist), first N of train+t10k, pixels/255, sklearn PCA to 50-D (float32), the same .npy for both sides',
    settings: { ...settings, reference: 'sklearn.manifold.TSNE 1.2.1 (barnes_hut, angle 0.5, init pca, learning_rate auto), trustworthiness k=10' },
    rows,
  }
  const out = values.out ?? join(ROOT, `bench/results/tsne-${date}.json`)
  await writeFile(out, JSON.stringify(result, null, 2) + '\n')
  log(`wrote ${out}`)
}

async function main(): Promise<void> {
  const rows = []
  for (const count of counts) {
    const file = await dataFile(count)
    const array = await readNpy(file)
    if (array.dtype !== 'float32') throw new Error(`${file}: float32 expected`)
    const [n, dim] = array.shape as [number, number]
    const timed = async (threads: number) => {
      const progress: Progress[] = []
      const loadBefore = load1()
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      // The kNN step's seconds: until its last progress report ("91 nearest neighbours: … codes").
      let knnSeconds = 0
      const onProgress = (p: Progress) => {
        progress.push(p)
        if (p.message?.includes('nearest neighbours')) knnSeconds = (performance.now() - t0) / 1000
      }
      const y = await runTsne({ data: array.data, count: n, dim }, { ...settings, threads }, { progress: onProgress, signal: new AbortController().signal })
      const seconds = (performance.now() - t0) / 1000
      const cpu = process.cpuUsage(cpu0)
      const cpuSeconds = (cpu.user + cpu.system) / 1e6
      log(`${n} points, ${threads} thread(s): convscope ${seconds.toFixed(1)} s (kNN ${knnSeconds.toFixed(1)} s), ${cpuSeconds.toFixed(1)} CPU s (load ${loadBefore} → ${load1()}), ${progress.length} progress events`)
      return { y, seconds, knnSeconds, cpuSeconds, load: [loadBefore, load1()], progressEvents: progress.length }
    }
    const threads = availableParallelism()
    const run = await timed(threads)
    const seconds = run.seconds
    const ours = join(CACHE, `convscope-${count}.npy`)
    await writeNpy(ours, Float32Array.from(run.y), [n, 2])
    const row: Record<string, unknown> = {
      count: n,
      dim,
      threads,
      convscopeSeconds: Number(seconds.toFixed(2)),
      knnSeconds: Number(run.knnSeconds.toFixed(2)),
      convscopeCpuSeconds: Number(run.cpuSeconds.toFixed(2)),
      convscopeLoad1: run.load,
      progressEvents: run.progressEvents,
    }
    if (count === counts[0] && threads > 1 && !values['skip-one-thread']) {
      const single = await timed(1)
      Object.assign(row, {
        oneThreadSeconds: Number(single.seconds.toFixed(2)),
        oneThreadCpuSeconds: Number(single.cpuSeconds.toFixed(2)),
        oneThreadLoad1: single.load,
        threadsSpeedup: Number((single.seconds / seconds).toFixed(3)),
        oneThreadSamePoints: Buffer.from(single.y.buffer).equals(Buffer.from(run.y.buffer)),
      })
    }
    // sklearn's trustworthiness holds the full N×N distance matrix (20 GB at 50 000): only the reference sizes get it.
    if (referenceCounts.has(count)) {
      const args = [REFERENCE, 'run', '--data', file, '--ours', ours, '--perplexity', '30', '--seed', '0']
      const skLoadBefore = load1()
      const ref = JSON.parse(execFileSync('/usr/bin/python3', args, { encoding: 'utf8' })) as Record<string, number>
      Object.assign(row, {
        sklearnSeconds: Number(ref.sklearnSeconds!.toFixed(2)),
        sklearnCpuSeconds: Number(ref.sklearnCpuSeconds!.toFixed(2)),
        sklearnLoad1: [skLoadBefore, load1()],
        timeRatio: Number((seconds / ref.sklearnSeconds!).toFixed(3)),
        cpuRatio: Number((run.cpuSeconds / ref.sklearnCpuSeconds!).toFixed(3)),
        sklearnTrustworthiness: Number(ref.sklearnTrustworthiness!.toFixed(4)),
        convscopeTrustworthiness: Number(ref.oursTrustworthiness!.toFixed(4)),
      })
      log(`  sklearn ${ref.sklearnSeconds!.toFixed(1)} s, ${ref.sklearnCpuSeconds!.toFixed(1)} CPU s; wall ratio ${row.timeRatio}; trustworthiness convscope ${row.convscopeTrustworthiness} vs sklearn ${row.sklearnTrustworthiness}`)
    }
    rows.push(row)
    await save(rows)
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
