/**
 * PCA of many codes (issue 13: "PCA to 2-D and to 50-D"; the brief's bar: 100 000 × 4 096 → 50-D must not take
 * minutes): seconds of projections/pca.ts principalComponents, by phase, and scikit-learn's PCA(svd_solver='full')
 * on the same codes where it fits (bench/reference/pca_reference.py; skipped above --sklearn-max values), in the
 * same run. Codes: --count × --dim float32 with a power-law spectrum (variance of latent direction t ∝ 1 / (t + 1),
 * 256 directions, plus isotropic noise; latents and directions from a seeded LCG, multiplied on onnxruntime), ReLU'd
 * like a network's pooled features. Records the 1-minute load average (shared machine) and the ratio to sklearn.
 *
 *   node --max-old-space-size=8192 --import tsx bench/pca.ts [--count 100000] [--dim 4096] [--dims 50] [--sklearn-max 50000000] [--out FILE]
 */
import { execFileSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { gemm } from '../src/main/engine/embeddings/ortGemm'
import { principalComponents } from '../src/main/engine/projections/pca'
import { writeNpy } from '../src/main/engine/store/npy'
import type { Progress } from '../src/shared/api'
import { gitCommit } from './gitCommit'

const ROOT = resolve(import.meta.dirname, '..')
const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '4096' },
    dims: { type: 'string', default: '50' },
    'sklearn-max': { type: 'string', default: '50000000' },
    out: { type: 'string' },
  },
})
const count = Number(values.count)
const dim = Number(values.dim)
const dims = Number(values.dims)
const LATENT = 256
const load1 = () => Number(loadavg()[0]!.toFixed(2))
const log = (s: string) => process.stderr.write(s + '\n')

async function codes(): Promise<Float32Array> {
  let s = 777
  const u = () => {
    s = (Math.imul(1664525, s) + 1013904223) >>> 0
    return (s >>> 8) / 16777216 - 0.5
  }
  const directions = Float32Array.from({ length: LATENT * dim }, (_, i) => u() / Math.sqrt(Math.floor(i / dim) + 1))
  const x = new Float32Array(count * dim)
  const block = 4096
  for (let r0 = 0; r0 < count; r0 += block) {
    const rows = Math.min(block, count - r0)
    const z = Float32Array.from({ length: rows * LATENT }, () => u() * 12)
    const p = await gemm({ data: z, rows, cols: LATENT }, { data: directions, rows: LATENT, cols: dim })
    for (let i = 0; i < rows * dim; i++) x[r0 * dim + i] = Math.max(0, p.data[i]! + u() * 0.5)
  }
  return x
}

async function main(): Promise<void> {
  let t0 = performance.now()
  const data = await codes()
  log(`codes ${count} × ${dim} made in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  const phases: Record<string, number> = {}
  let phase = ''
  let phaseStart = performance.now()
  let iterations = 0
  const load = load1()
  t0 = performance.now()
  const ctx = {
    signal: new AbortController().signal,
    progress(p: Progress) {
      const name = p.message ?? ''
      if (name !== phase) {
        if (phase) phases[phase] = (performance.now() - phaseStart) / 1000
        phase = name
        phaseStart = performance.now()
      }
      if (name === 'eigenvectors') iterations = p.done
    },
  }
  const pca = await principalComponents({ data, count, dim }, dims, ctx)
  const seconds = (performance.now() - t0) / 1000
  phases[phase] = (performance.now() - phaseStart) / 1000
  log(`convscope PCA to ${dims}-D: ${seconds.toFixed(1)} s (load ${load}); phases ${JSON.stringify(phases)}; ${iterations} eigen iterations`)

  let sklearn: { seconds: number; load: number; maxRatioDiff: number; version: string } | null = null
  if (count * dim <= Number(values['sklearn-max'])) {
    const npy = join(ROOT, '.cache/bench', `pca-${count}x${dim}.npy`)
    await mkdir(join(ROOT, '.cache/bench'), { recursive: true })
    await writeNpy(npy, data, [count, dim])
    const sklearnLoad = load1()
    const ref = JSON.parse(execFileSync('/usr/bin/python3', [join(ROOT, 'bench/reference/pca_reference.py'), npy, String(dims)], { encoding: 'utf8' })) as { seconds: number; ratio: number[]; version: string }
    const maxRatioDiff = Math.max(...ref.ratio.map((r, i) => Math.abs(r - pca.explainedVarianceRatio[i]!)))
    sklearn = { seconds: ref.seconds, load: sklearnLoad, maxRatioDiff, version: ref.version }
    log(`sklearn PCA(svd_solver='full'): ${ref.seconds.toFixed(1)} s (load ${sklearnLoad}); convscope ${(seconds / ref.seconds).toFixed(2)}× its time; largest explained-variance-ratio difference ${maxRatioDiff.toExponential(2)}`)
  }
  const date = new Date().toISOString().slice(0, 10)
  const file = values.out ?? join(ROOT, 'bench/results', `pca-${date}-${count}x${dim}.json`)
  const report = {
    bench: 'pca',
    commit: gitCommit(),
    date: new Date().toISOString(),
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model ?? '' },
    settings: { count, dim, dims, latent: LATENT },
    convscope: { seconds, load, phases, eigenIterations: iterations, ratioTop5: Array.from(pca.explainedVarianceRatio.subarray(0, 5)) },
    sklearn,
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
  }
  await writeFile(file, JSON.stringify(report, null, 2) + '\n')
  log(`wrote ${file}`)
}

await main()
