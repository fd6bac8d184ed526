/**
 * Codes (issue 13, item 1) against a scan of the same layer, and their memory at two dataset sizes.
 *
 *   node --import tsx bench/codes.ts [--small 20] [--large 100] [--rounds 2] [--batch 16] [--out FILE]
 *
 * The demo gap network over demo val images (128² JPEGs, .cache/bench/, stretched to 64²). Each measurement is a
 * child process (`--child`) that loads the model and runs runScan once into a fresh folder, on convscope's default
 * executor in one process: either a codes run of `gap` (codes + 32² thumbnails + top-1 class; each file decoded
 * once, one onnxruntime run per batch: codes/codeBatch.ts) or a scan of `gap` (top-16 + maxima). It
 * reports the scan loop's images/s (runScan's manifest: decoding and writing included, start-up excluded) and its
 * peak RSS (process.resourceUsage().maxRSS). Codes and scan alternate within each round (which goes first
 * alternates too); the ratio is codes / scan images/s of the best round of each on the small set. Memory: the
 * codes run's peak RSS on the small and the large set (flat = the same to within noise: one batch of rows is
 * held, whatever the dataset size). The 1-minute load average is recorded before each run (the machine is shared).
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { initBackend } from '../src/main/engine/backend'
import { forwardExecutor } from '../src/main/engine/executors/onnxRuntime'
import { listImageFolder } from '../src/main/engine/images/imageFolder'
import { loadModel } from '../src/main/engine/models/loadModel'
import { runScan } from '../src/main/engine/scan/runScan'
import { demoImages } from './demoImages'
import { gitCommit } from './gitCommit'

const ROOT = resolve(import.meta.dirname, '..')
const GAP = join(ROOT, 'resources/demo-models/gap')
const { values } = parseArgs({
  options: {
    small: { type: 'string', default: '20' },
    large: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '2' },
    batch: { type: 'string', default: '16' },
    out: { type: 'string' },
    child: { type: 'string' },
  },
})
const load1 = () => Number(loadavg()[0]!.toFixed(2))
const log = (s: string) => process.stderr.write(s + '\n')

interface Measured {
  kind: 'codes' | 'scan'
  images: number
  imagesPerSecond: number
  maxRssMiB: number
  executor: string
  load1Before: number
}

/** One run in this process (the child's side). */
async function child(spec: { kind: 'codes' | 'scan'; data: string; batch: number }): Promise<void> {
  await initBackend({})
  const model = await loadModel(GAP)
  const folder = await listImageFolder(spec.data, 1_000_000)
  const out = await mkdtemp(join(tmpdir(), 'convscope-bench-codes-'))
  try {
    const m = await runScan({
      model,
      images: folder.images.map((i) => i.path),
      classNames: folder.images.map((i) => i.className),
      root: folder.root,
      layers: spec.kind === 'scan' ? ['gap'] : [],
      ...(spec.kind === 'codes' ? { codes: { layer: 'gap', dtype: 'float32' as const } } : { k: 16 }),
      batchSize: spec.batch,
      out,
      checkpointMs: 30_000,
    })
    const result = { images: m.dataset.count, imagesPerSecond: m.timing.imagesPerSecond, maxRssMiB: process.resourceUsage().maxRSS / 1024, executor: forwardExecutor(model) }
    process.stdout.write(JSON.stringify(result) + '\n')
  } finally {
    model.dispose()
    await rm(out, { recursive: true, force: true })
  }
}

function measure(kind: 'codes' | 'scan', data: string, batch: number): Measured {
  const load1Before = load1()
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/codes.ts'), '--child', JSON.stringify({ kind, data, batch })], { cwd: ROOT, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`child ${kind} failed: ${r.stderr}`)
  const line = r.stdout.trim().split('\n').at(-1)!
  const m = { kind, load1Before, ...(JSON.parse(line) as Omit<Measured, 'kind' | 'load1Before'>) }
  log(`${kind.padEnd(5)} ${String(m.images).padStart(5)} images  ${m.imagesPerSecond.toFixed(1).padStart(7)} img/s  peak RSS ${m.maxRssMiB.toFixed(0)} MiB  (${m.executor}, load ${load1Before})`)
  return m
}

async function main(): Promise<void> {
  const batch = Number(values.batch)
  const small = await demoImages(128, Number(values.small))
  const large = await demoImages(128, Number(values.large))
  const runs: Measured[] = []
  for (let r = 0; r < Number(values.rounds); r++) {
    const order: ('codes' | 'scan')[] = r % 2 === 0 ? ['codes', 'scan'] : ['scan', 'codes']
    for (const kind of order) runs.push(measure(kind, small, batch))
  }
  const memory = [measure('codes', small, batch), measure('codes', large, batch)]
  const best = (kind: string) => Math.max(...runs.filter((m) => m.kind === kind).map((m) => m.imagesPerSecond))
  const ratio = best('codes') / best('scan')
  const result = {
    bench: 'codes',
    date: new Date().toISOString(),
    commit: gitCommit(),
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    model: 'demo gap (64² input), layer gap (192-d)',
    batch,
    throughput: { runs, codesOverScan: Number(ratio.toFixed(3)) },
    memory: { runs: memory, largeOverSmallRss: Number((memory[1]!.maxRssMiB / memory[0]!.maxRssMiB).toFixed(3)) },
  }
  log(`codes / scan images/s (best of ${values.rounds}): ${ratio.toFixed(2)}; peak RSS ${memory[0]!.images} images ${memory[0]!.maxRssMiB.toFixed(0)} MiB, ${memory[1]!.images} images ${memory[1]!.maxRssMiB.toFixed(0)} MiB`)
  const out = values.out ?? join(ROOT, 'bench/results', `codes-${result.date.slice(0, 10)}.json`)
  await mkdir(join(out, '..'), { recursive: true })
  await writeFile(out, JSON.stringify(result, null, 1) + '\n')
  log(`wrote ${out}`)
}

if (values.child) await child(JSON.parse(values.child) as { kind: 'codes' | 'scan'; data: string; batch: number })
else await main()
