/**
 * Occlusion (issue 12 item 4) on the demo gap network, per forward executor, in one process: getOcclusion
 * (methods/neurons/occlusion.ts: image decoding, the target on the image, the occluded copies and their forward
 * passes) for a class-probability target, over demo images (128² JPEGs, .cache/bench/), on the backend convscope
 * picks (initBackend).
 *
 * Grids: 8×8 (square 8, stride 8 on the 64² input: the issue's "occlusion 8×8 grid ≤ 1 s") and 15×15 (square 8,
 * stride 4, the CLI's default), --batch copies per forward (default 64, the contract's default). Also, for scale,
 * the direct loop the batching replaces: one copy per forward (batch 1) on the 8×8 grid. Executors alternate call
 * by call after one warm-up call each; median and min ms over --repeats images. Each executor's maps are compared
 * with tfjs' (largest relative difference). The 1-minute load average is recorded before each part (the machine
 * may be shared). Results: a table and bench/results/occlusion-<date>.json.
 *
 *   node --import tsx bench/occlusion.ts [--repeats 10] [--batch 64] [--out FILE]
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { GetOcclusion, type OcclusionMap } from '../src/shared/api'
import { initBackend } from '../src/main/engine/backend'
import { noopContext } from '../src/main/engine/context'
import { forwardExecutor, type ExecutorChoice } from '../src/main/engine/executors/onnxRuntime'
import { listImageFolder } from '../src/main/engine/images/imageFolder'
import { getOcclusion } from '../src/main/engine/methods/neurons/occlusion'
import { loadModel } from '../src/main/engine/models/loadModel'
import { demoImages } from './demoImages'
import { gitCommit } from './gitCommit'

const ROOT = resolve(import.meta.dirname, '..')
const { values } = parseArgs({ options: { repeats: { type: 'string', default: '10' }, batch: { type: 'string', default: '64' }, out: { type: 'string' } } })
const repeats = Number(values.repeats)
const batch = Number(values.batch)

const median = (v: readonly number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!
const load1 = () => Number(loadavg()[0]!.toFixed(2))
const log = (s: string) => process.stderr.write(s + '\n')

function relativeDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0
  let scale = 0
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!))
    scale = Math.max(scale, Math.abs(b[i]!))
  }
  return scale ? diff / scale : diff
}

async function main(): Promise<void> {
  const backend = await initBackend({})
  const model = await loadModel(join(ROOT, 'resources/demo-models/gap'))
  const listed = (await listImageFolder(await demoImages(128, 20), 100_000)).images.map((i) => i.path)
  const images = Array.from({ length: repeats }, (_, i) => listed[Math.floor((i * listed.length) / repeats)]!)
  const run: ExecutorChoice[] = ['tfjs']
  const names: Record<string, string> = { tfjs: forwardExecutor(model, 'tfjs') }
  let skipped: string | null = null
  try {
    names.onnxruntime = forwardExecutor(model, 'onnxruntime')
    run.push('onnxruntime')
  } catch (e) {
    skipped = e instanceof Error ? e.message : String(e)
  }
  log(`backend ${backend.active}; executors ${run.map((e) => names[e]).join(', ')}${skipped ? `; onnxruntime skipped: ${skipped}` : ''}`)

  const call = (image: string, executor: ExecutorChoice, size: number, stride: number, b: number): Promise<OcclusionMap> => {
    process.env.CONVSCOPE_EXECUTOR = executor
    const p = GetOcclusion.parse({ modelId: model.info.id, image, target: { kind: 'class', class: 0, score: 'probability' }, size, stride, batch: b })
    return getOcclusion(model, p, noopContext())
  }
  const parts = [
    { name: '8×8 grid (size 8, stride 8)', size: 8, stride: 8, batch },
    { name: '15×15 grid (size 8, stride 4)', size: 8, stride: 4, batch },
    { name: '8×8 grid, one copy per forward (batch 1)', size: 8, stride: 8, batch: 1 },
  ]
  const rows = []
  for (const part of parts) {
    const loadBefore = load1()
    const times: Record<string, number[]> = Object.fromEntries(run.map((e) => [e, []]))
    const maps: Record<string, Float32Array[]> = Object.fromEntries(run.map((e) => [e, []]))
    for (const e of run) await call(images[0]!, e, part.size, part.stride, part.batch)
    for (const image of images) {
      for (const e of run) {
        const r = await call(image, e, part.size, part.stride, part.batch)
        times[e]!.push(r.milliseconds)
        maps[e]!.push(r.values)
      }
    }
    for (const e of run) {
      const row = {
        part: part.name,
        executor: names[e]!,
        batch: part.batch,
        positions: maps[e]![0]!.length,
        medianMs: Number(median(times[e]!).toFixed(1)),
        minMs: Number(Math.min(...times[e]!).toFixed(1)),
        calls: times[e]!.length,
        maxRelDiffVsTfjs: Math.max(...maps[e]!.map((m, i) => relativeDiff(m, maps.tfjs![i]!))),
        load1Before: loadBefore,
      }
      rows.push(row)
      log(`${row.part.padEnd(42)} ${row.executor.padEnd(16)} median ${String(row.medianMs).padStart(7)} ms  min ${String(row.minMs).padStart(7)} ms  vs tfjs ${row.maxRelDiffVsTfjs.toExponential(1)}  load ${loadBefore}`)
    }
  }
  delete process.env.CONVSCOPE_EXECUTOR
  const date = new Date().toISOString().slice(0, 10)
  const file = values.out ?? join(ROOT, 'bench/results', `occlusion-${date}.json`)
  await mkdir(join(file, '..'), { recursive: true })
  const machine = { cpu: cpus()[0]?.model ?? '?', cores: availableParallelism(), memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version }
  const report = {
    date: new Date().toISOString(),
    commit: gitCommit(),
    machine,
    backend: backend.active,
    model: 'demo gap (64² input)',
    target: 'class 0 probability',
    fill: 'grey',
    images: images.length,
    onnxruntimeSkipped: skipped,
    loadAfter: load1(),
    rows,
  }
  await writeFile(file, JSON.stringify(report, null, 2) + '\n')
  log(`wrote ${file}`)
  model.dispose()
}

await main()
