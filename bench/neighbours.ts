/**
 * Exact kNN over many codes (issue 13: "≤ 200 ms per query over 100 k codes of 4 096-d here"): ms per query of
 * each way of doing the products, in one process, against numpy's brute force (bench/reference/knn_reference.py:
 * `X @ q` + argpartition, Debian's numpy and its BLAS) in the same run.
 *
 * Codes: --count × --dim float32, clustered (20 centres + noise, uniform draws of a seeded LCG), kept resident as
 * the neighbours method keeps them; the same matrix is written to .cache/bench/ as .npy for numpy. Cosine, k 10,
 * every query one of the rows (left out of its own neighbours). Ways:
 *   js          searchIndex: the JS dot-product loop (float64 sums), one query at a time
 *   ort         searchIndexAsync: onnxruntime Gemm on 64 MiB row blocks (MLAS, every core), one query at a time
 *   ort-batch   searchIndexAsync with all --queries queries in one call (ms per query = total / queries)
 *   ort-f16     as ort, rows stored as float16 (half the memory) and widened block by block
 * Each way's indices are compared with numpy's (the same sets of neighbours up to float32 rounding: the count of
 * differing ranks is reported). The 1-minute load average is recorded before each part (the machine is shared).
 * Results: a table and bench/results/neighbours-<date>.json.
 *
 *   node --max-old-space-size=8192 --import tsx bench/neighbours.ts [--count 100000] [--dim 4096] [--queries 10] [--js-queries 3] [--f16-queries 3] [--out FILE]
 */
import { execFileSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { knnIndex, searchIndex, searchIndexAsync, type KnnIndex, type KnnResult } from '../src/main/engine/embeddings/knn'
import { float32ToFloat16, writeNpy } from '../src/main/engine/store/npy'
import { gitCommit } from './gitCommit'

const ROOT = resolve(import.meta.dirname, '..')
const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '4096' },
    queries: { type: 'string', default: '10' },
    'js-queries': { type: 'string', default: '3' },
    'f16-queries': { type: 'string', default: '3' },
    k: { type: 'string', default: '10' },
    out: { type: 'string' },
  },
})
const count = Number(values.count)
const dim = Number(values.dim)
const queryCount = Number(values.queries)
const jsQueries = Number(values['js-queries'])
const f16Queries = Number(values['f16-queries'])
const k = Number(values.k)

const median = (v: readonly number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!
const load1 = () => Number(loadavg()[0]!.toFixed(2))
const log = (s: string) => process.stderr.write(s + '\n')

/** Clustered codes from a seeded LCG (20 centres, each row a centre plus uniform noise; ReLU-like: ≥ 0). */
function codes(): Float32Array {
  let s = 12345
  const u = () => {
    s = (Math.imul(1664525, s) + 1013904223) >>> 0
    return (s >>> 8) / 16777216
  }
  const centres = Float32Array.from({ length: 20 * dim }, () => (u() < 0.3 ? u() * 2 : 0))
  const x = new Float32Array(count * dim)
  for (let r = 0; r < count; r++) {
    const c = (r * 7) % 20
    for (let d = 0; d < dim; d++) x[r * dim + d] = Math.max(0, centres[c * dim + d]! + (u() - 0.5) * 0.8)
  }
  return x
}

/** Ranks where the neighbours differ from the reference (near-ties may swap under float32 rounding). */
function differingRanks(got: KnnResult, q: number, want: number[]): number {
  let n = 0
  for (let r = 0; r < k; r++) if (got.indices[q * k + r] !== want[r]) n++
  return n
}

async function main(): Promise<void> {
  const started = performance.now()
  const data = codes()
  log(`codes ${count} × ${dim} made in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  const queryRows = Array.from({ length: queryCount }, (_, i) => Math.floor(((i + 0.5) * count) / queryCount))
  const npyPath = join(ROOT, '.cache/bench', `knn-${count}x${dim}.npy`)
  await mkdir(join(ROOT, '.cache/bench'), { recursive: true })
  await writeNpy(npyPath, data, [count, dim])

  const loadNumpy = load1()
  log(`numpy (load ${loadNumpy}) …`)
  const numpy = JSON.parse(
    execFileSync('/usr/bin/python3', [join(ROOT, 'bench/reference/knn_reference.py'), npyPath, queryRows.join(','), String(k)], { encoding: 'utf8', maxBuffer: 1 << 26 }),
  ) as { msPerQuery: number[]; indices: number[][]; numpy: string; blas: string }

  const index = knnIndex(data, count, dim)
  const queryOf = (rows: number[]) => {
    const q = new Float32Array(rows.length * dim)
    rows.forEach((r, i) => q.set(data.subarray(r * dim, (r + 1) * dim), i * dim))
    return q
  }
  const ways: Record<string, { load: number; msPerQuery: number[]; differingRanks: number }> = {}
  const one = async (name: string, idx: KnnIndex, rows: number[], search: (i: KnnIndex, q: Float32Array, exclude: Int32Array) => KnnResult | Promise<KnnResult>) => {
    const load = load1()
    const ms: number[] = []
    let differ = 0
    await search(idx, queryOf([rows[0]!]), Int32Array.of(rows[0]!)) // warm-up (session creation)
    for (const [i, r] of rows.entries()) {
      const t0 = performance.now()
      const got = await search(idx, queryOf([r]), Int32Array.of(r))
      ms.push(performance.now() - t0)
      differ += differingRanks(got, 0, numpy.indices[i]!)
    }
    ways[name] = { load, msPerQuery: ms, differingRanks: differ }
    log(`${name.padEnd(10)} median ${median(ms).toFixed(1)} ms/query (load ${load}), ranks differing from numpy: ${differ}/${rows.length * k}`)
  }
  await one('ort', index, queryRows, (i, q, exclude) => searchIndexAsync(i, q, 1, k, 'cosine', { exclude }))
  await one('js', index, queryRows.slice(0, jsQueries), (i, q, exclude) => searchIndex(i, q, 1, k, 'cosine', { exclude }))
  {
    const load = load1()
    const t0 = performance.now()
    const got = await searchIndexAsync(index, queryOf(queryRows), queryCount, k, 'cosine', { exclude: Int32Array.from(queryRows) })
    const total = performance.now() - t0
    let differ = 0
    queryRows.forEach((_, q) => (differ += differingRanks(got, q, numpy.indices[q]!)))
    ways['ort-batch'] = { load, msPerQuery: [total / queryCount], differingRanks: differ }
    log(`ort-batch  ${(total / queryCount).toFixed(1)} ms/query over ${queryCount} queries in one call (load ${load}), ranks differing: ${differ}`)
  }
  const half = knnIndex(float32ToFloat16(data), count, dim)
  await one('ort-f16', half, queryRows.slice(0, f16Queries), (i, q, exclude) => searchIndexAsync(i, q, 1, k, 'cosine', { exclude }))

  const numpyMedian = median(numpy.msPerQuery)
  log(`numpy      median ${numpyMedian.toFixed(1)} ms/query (load ${loadNumpy}; numpy ${numpy.numpy}, BLAS ${numpy.blas || '?'})`)
  const rows = Object.entries(ways).map(([name, w]) => ({ way: name, load: w.load, medianMs: median(w.msPerQuery), ratioToNumpy: median(w.msPerQuery) / numpyMedian, msPerQuery: w.msPerQuery, differingRanks: w.differingRanks }))
  for (const r of rows) log(`${r.way.padEnd(10)} ${r.medianMs.toFixed(1).padStart(8)} ms/query  ${r.ratioToNumpy.toFixed(2)}× numpy's time`)
  const date = new Date().toISOString().slice(0, 10)
  const file = values.out ?? join(ROOT, 'bench/results', `neighbours-${date}.json`)
  const report = {
    bench: 'neighbours',
    commit: gitCommit(),
    date: new Date().toISOString(),
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model ?? '' },
    settings: { count, dim, k, metric: 'cosine', queries: queryCount, jsQueries, f16Queries },
    target: '≤ 200 ms per query over 100 000 codes of 4 096-d',
    numpy: { medianMs: numpyMedian, load: loadNumpy, msPerQuery: numpy.msPerQuery, version: numpy.numpy, blas: numpy.blas },
    ways: rows,
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
  }
  await writeFile(file, JSON.stringify(report, null, 2) + '\n')
  log(`wrote ${file}`)
}

await main()
