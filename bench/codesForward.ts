/**
 * The forward part of a codes batch on onnxruntime (codes/codeBatch.ts codesOfBatch), batched as now against one
 * run per image as it was before a75a6ac (the loop is kept here as the reference), in one process, alternating.
 *
 *   node --import tsx bench/codesForward.ts [--images 128] [--batch 16] [--rounds 5] [--out FILE]
 *
 * The demo gap network (64² input, layer gap) on demo val images (128² JPEGs, .cache/bench/), decoded once before
 * timing; each round times codesOfBatch over every batch, then the per-image loop (the order alternates between
 * rounds); wall and this process's CPU time per image, best round of each. Both give the same bytes (checked: the
 * per-image rows are what a padded lone image gives, and a batch's rows equal them: executors/onnxRuntime.ts header). The
 * 1-minute load average is recorded with each round (the machine is shared).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { initBackend } from '../src/main/engine/backend'
import { codesOfBatch, poolCodes } from '../src/main/engine/codes/codeBatch'
import { describeCodeLayer, type CodeLayer } from '../src/main/engine/codes/codeLayer'
import { forwardExecutor, runOnnxRuntime } from '../src/main/engine/executors/onnxRuntime'
import { listImageFolder } from '../src/main/engine/images/imageFolder'
import { toInputValues, type ModelInput } from '../src/main/engine/images/preprocess'
import { readModelInput } from '../src/main/engine/images/readImage'
import type { LoadedModel } from '../src/main/engine/model'
import { loadModel } from '../src/main/engine/models/loadModel'
import { demoImages } from './demoImages'
import { gitCommit } from './gitCommit'

const ROOT = resolve(import.meta.dirname, '..')
const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '128' },
    batch: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '5' },
    out: { type: 'string' },
  },
})
const load1 = () => Number(loadavg()[0]!.toFixed(2))
const log = (s: string) => process.stderr.write(s + '\n')

/** The codes of a batch as codesOfBatch computed them before a75a6ac: one onnxruntime run per image. */
async function perImageCodes(model: LoadedModel, inputs: readonly ModelInput[], layer: CodeLayer): Promise<Float32Array> {
  const out = new Float32Array(inputs.length * layer.dim)
  for (const [i, input] of inputs.entries()) {
    const map = (await runOnnxRuntime(model, toInputValues([input]), [layer.name], { batchInvariant: true })).layers[0]!.data
    out.set(poolCodes(map, 1, layer.height * layer.width, layer.dim), i * layer.dim)
  }
  return out
}

interface Round {
  way: 'batched' | 'perImage'
  wallMsPerImage: number
  cpuMsPerImage: number
  load1: number
}

async function main(): Promise<void> {
  await initBackend({})
  const model = await loadModel(join(ROOT, 'resources/demo-models/gap'))
  const executor = forwardExecutor(model)
  if (!executor.startsWith('onnxruntime-')) throw new Error(`the demo gap network runs on ${executor}, not onnxruntime`)
  const layer = describeCodeLayer(model, 'gap')
  const n = Number(values.images)
  const batch = Number(values.batch)
  const folder = await listImageFolder(await demoImages(128, Math.ceil(n / 14)))
  const inputs = await Promise.all(folder.images.slice(0, n).map(async (i) => (await readModelInput(i.path, model.info.preprocessing)).input))
  const batches = Array.from({ length: Math.ceil(inputs.length / batch) }, (_, b) => inputs.slice(b * batch, (b + 1) * batch))
  const ways = {
    batched: async () => {
      for (const b of batches) await codesOfBatch(model, b, layer, executor)
    },
    perImage: async () => {
      for (const b of batches) await perImageCodes(model, b, layer)
    },
  }
  // Same bytes both ways (and a warm-up of both sessions).
  for (const b of batches) {
    const a = (await codesOfBatch(model, b, layer, executor)).codes
    const p = await perImageCodes(model, b, layer)
    if (!Buffer.from(a.buffer).equals(Buffer.from(p.buffer))) throw new Error('batched codes differ from per-image codes')
  }
  const rounds: Round[] = []
  for (let r = 0; r < Number(values.rounds); r++) {
    const order: Round['way'][] = r % 2 === 0 ? ['batched', 'perImage'] : ['perImage', 'batched']
    for (const way of order) {
      const load = load1()
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      await ways[way]()
      const wall = performance.now() - t0
      const cpu = process.cpuUsage(cpu0)
      const round = { way, wallMsPerImage: wall / inputs.length, cpuMsPerImage: (cpu.user + cpu.system) / 1000 / inputs.length, load1: load }
      rounds.push(round)
      log(`${way.padEnd(8)} ${round.wallMsPerImage.toFixed(3)} ms/image wall, ${round.cpuMsPerImage.toFixed(3)} CPU (load ${load})`)
    }
  }
  const best = (way: Round['way'], key: 'wallMsPerImage' | 'cpuMsPerImage') => Math.min(...rounds.filter((r) => r.way === way).map((r) => r[key]))
  const speedup = { wall: best('perImage', 'wallMsPerImage') / best('batched', 'wallMsPerImage'), cpu: best('perImage', 'cpuMsPerImage') / best('batched', 'cpuMsPerImage') }
  log(`batched vs per image (best of ${values.rounds}): ${speedup.wall.toFixed(2)}× wall, ${speedup.cpu.toFixed(2)}× CPU`)
  const result = {
    bench: 'codesForward',
    date: new Date().toISOString(),
    commit: gitCommit(),
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    executor,
    model: 'demo gap (64² input), layer gap (192-d)',
    images: inputs.length,
    batch,
    rounds,
    best: { batched: { wall: best('batched', 'wallMsPerImage'), cpu: best('batched', 'cpuMsPerImage') }, perImage: { wall: best('perImage', 'wallMsPerImage'), cpu: best('perImage', 'cpuMsPerImage') } },
    speedup,
  }
  const out = values.out ?? join(ROOT, 'bench/results', `codesForward-${result.date.slice(0, 10)}.json`)
  await mkdir(join(out, '..'), { recursive: true })
  await writeFile(out, JSON.stringify(result, null, 1) + '\n')
  log(`wrote ${out}`)
  model.dispose()
}

await main()
