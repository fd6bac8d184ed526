/**
 * Where an image's decoding time goes (issue 11: classify and the demo scan are decoding-bound): the demo `gap`
 * network's preprocessing (128² JPEG → 64² stretch, sharp's linear kernel, one sharp pipeline) over the 1 400
 * bench demo images (.cache/bench/, bench/demoImages.ts).
 *
 *   node --import tsx bench/decode.ts [--images 1400] [--rounds 3] [--out FILE]
 *
 * Steps, one image at a time (wall and process CPU ms per image, best of --rounds): readFile; stat + readFile;
 * sharp metadata(); the one decode + resize pipeline; normalize; the old readModelInput's steps in a row
 * (stat + readFile + metadata() + pipeline + normalize, as before this bench) and readModelInput itself. Then
 * throughput: the dataset loop of classify (batch 32, LOAD_AHEAD batches loading ahead) decoding with no compute,
 * images/s and CPU ms per image, for readModelInput and for the old steps, and readModelInput with one batch more
 * ahead, alternating, best of --rounds. CPU ms per image
 * is what bounds the rate when every core decodes. The 1-minute load average is recorded: the machine may be shared.
 * Last, decoding alone, sharp's call against the wasm decoder of images/jpegDecode.ts (the same bytes), alternating,
 * on the 128² images and on --images-224 bench demo images of 224².
 */
import { readFile, stat, mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import sharp from 'sharp'
import { LOAD_AHEAD, runDatasetLoop } from '../src/main/engine/datasets/datasetLoop'
import { listImageFolder } from '../src/main/engine/images/imageFolder'
import { plainHeader } from '../src/main/engine/images/imageHeader'
import { decodePlainJpeg } from '../src/main/engine/images/jpegDecode'
import { readModelInput } from '../src/main/engine/images/readImage'
import { normalize, planResize, withResizePlan } from '../src/main/engine/images/preprocess'
import { loadModel } from '../src/main/engine/models/loadModel'
import { demoImages } from './demoImages'
import { gitCommit } from './gitCommit'

const ROOT = resolve(import.meta.dirname, '..')
const { values } = parseArgs({
  options: { images: { type: 'string', default: '1400' }, 'images-224': { type: 'string', default: '504' }, rounds: { type: 'string', default: '3' }, out: { type: 'string' } },
})
const rounds = Number(values.rounds)
const load1 = () => Number(loadavg()[0]!.toFixed(2))
const log = (s: string) => process.stderr.write(s + '\n')

interface Measured {
  wallMs: number
  cpuMs: number
}

/** Runs `step` on every path, `concurrency` at a time; wall and process CPU (all threads) per image. */
async function measure(paths: string[], concurrency: number, step: (path: string) => Promise<unknown>): Promise<Measured> {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < paths.length) await step(paths[next++]!)
    }),
  )
  const wall = performance.now() - t0
  const cpu = process.cpuUsage(c0)
  return { wallMs: wall / paths.length, cpuMs: (cpu.user + cpu.system) / 1000 / paths.length }
}

const best = (runs: Measured[]): Measured => ({
  wallMs: Number(Math.min(...runs.map((r) => r.wallMs)).toFixed(3)),
  cpuMs: Number(Math.min(...runs.map((r) => r.cpuMs)).toFixed(3)),
})

async function main(): Promise<void> {
  const model = await loadModel(join(ROOT, 'resources/demo-models/gap'))
  const pre = model.info.preprocessing
  const root = await demoImages(128, 100)
  const paths = (await listImageFolder(root, 100_000)).images.map((i) => i.path).slice(0, Number(values.images))
  const bytes = new Map(await Promise.all(paths.map(async (p) => [p, await readFile(p)] as const)))
  const meta = await sharp(bytes.get(paths[0]!)!).metadata()
  const plan = planResize(meta.width, meta.height, pre)
  const decoder = { failOn: 'error' as const, limitInputPixels: 100_000_000, autoOrient: true }
  const pipeline = (b: Buffer) =>
    withResizePlan(sharp(b, decoder).pipelineColourspace('srgb'), plan).toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true })
  const resized = (await pipeline(bytes.get(paths[0]!)!)).data
  /** readModelInput's steps before this bench (commit dcd0a75): stat, readFile, metadata(), the pipeline, normalize. */
  const oldSteps = async (p: string) => {
    await stat(p)
    const b = await readFile(p)
    await sharp(b, { failOn: 'error', limitInputPixels: false }).metadata()
    return normalize((await pipeline(b)).data, pre)
  }
  const steps: Record<string, (p: string) => Promise<unknown>> = {
    readFile: (p) => readFile(p),
    'stat + readFile': async (p) => (await stat(p), readFile(p)),
    'sharp metadata()': (p) => sharp(bytes.get(p)!, { failOn: 'error', limitInputPixels: false }).metadata(),
    'decode + resize pipeline': (p) => pipeline(bytes.get(p)!),
    normalize: async () => normalize(resized, pre),
    'old readModelInput steps': oldSteps,
    readModelInput: (p) => readModelInput(p, pre),
  }
  const loads: Record<string, number> = { start: load1() }
  log(`${paths.length} images ${meta.width}×${meta.height} ${meta.format} → ${pre.inputSize.join('×')} (${pre.resize}); sharp concurrency ${sharp.concurrency()}, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? 'default (4)'}`)
  const perStep: Record<string, Measured[]> = Object.fromEntries(Object.keys(steps).map((k) => [k, []]))
  for (let r = 0; r < rounds; r++) for (const [name, step] of Object.entries(steps)) perStep[name]!.push(await measure(paths, 1, step))
  loads.throughput = load1()
  // The loop as classify runs it (LOAD_AHEAD batches ahead), the old steps the same way, and readModelInput with one more batch ahead.
  const loops: Record<string, { load: (p: string) => Promise<unknown>; ahead: number }> = {
    [`readModelInput, ahead ${LOAD_AHEAD}`]: { load: steps.readModelInput!, ahead: LOAD_AHEAD },
    [`old readModelInput steps, ahead ${LOAD_AHEAD}`]: { load: oldSteps, ahead: LOAD_AHEAD },
    [`readModelInput, ahead ${LOAD_AHEAD + 1}`]: { load: steps.readModelInput!, ahead: LOAD_AHEAD + 1 },
  }
  const rates: Record<string, { imagesPerSecond: number[]; cpuMs: number[] }> = Object.fromEntries(Object.keys(loops).map((k) => [k, { imagesPerSecond: [], cpuMs: [] }]))
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 === 0 ? Object.keys(loops) : Object.keys(loops).reverse()) {
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      await runDatasetLoop({ items: paths, load: loops[name]!.load, ahead: loops[name]!.ahead, compute: async () => {}, pathOf: (p) => p, batchSize: 32 })
      const cpu = process.cpuUsage(c0)
      rates[name]!.imagesPerSecond.push(Number((paths.length / ((performance.now() - t0) / 1000)).toFixed(1)))
      rates[name]!.cpuMs.push(Number(((cpu.user + cpu.system) / 1000 / paths.length).toFixed(3)))
      log(`  loop ${name}: ${rates[name]!.imagesPerSecond.at(-1)} img/s`)
    }
  }
  loads.decodeOnly = load1()
  // Decoding alone: sharp's call (as readImage made it) against the wasm decoder, same files in memory, alternating.
  const decodeOnly: Record<string, Record<string, Measured[]>> = {}
  const root224 = await demoImages(224, 36)
  const sets = { '128²': paths, '224²': (await listImageFolder(root224, 100_000)).images.map((i) => i.path).slice(0, Number(values['images-224'])) }
  for (const [size, files] of Object.entries(sets)) {
    for (const p of files) if (!bytes.has(p)) bytes.set(p, await readFile(p))
    const headers = new Map(files.map((p) => [p, plainHeader(bytes.get(p)!)!]))
    const decoders: Record<string, (p: string) => Promise<unknown>> = {
      'sharp decode': (p) => sharp(bytes.get(p)!, decoder).toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer(),
      'wasm decode (jpegDecode.ts)': async (p) => {
        if (!(await decodePlainJpeg(bytes.get(p)!, headers.get(p)!))) throw new Error(`${p}: the wasm decoder declined it`)
      },
    }
    decodeOnly[size] = Object.fromEntries(Object.keys(decoders).map((k) => [k, []]))
    for (let r = 0; r < rounds; r++) {
      for (const name of r % 2 === 0 ? Object.keys(decoders) : Object.keys(decoders).reverse()) decodeOnly[size]![name]!.push(await measure(files, 1, decoders[name]!))
    }
  }
  loads.end = load1()

  const stepRows = Object.fromEntries(Object.entries(perStep).map(([k, v]) => [k, best(v)]))
  console.log(`${paths.length} demo images, ${availableParallelism()} cores; load average ${Object.entries(loads).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  console.log('one image at a time (best of ' + rounds + ')      wall ms   CPU ms')
  for (const [k, v] of Object.entries(stepRows)) console.log(`  ${k.padEnd(36)} ${v.wallMs.toFixed(3).padStart(7)}  ${v.cpuMs.toFixed(3).padStart(7)}`)
  console.log('dataset loop, batch 32, no compute            img/s (best)   CPU ms/img (min)')
  for (const [k, v] of Object.entries(rates)) console.log(`  ${k.padEnd(42)} ${String(Math.max(...v.imagesPerSecond)).padStart(9)}   ${Math.min(...v.cpuMs).toFixed(3).padStart(9)}`)
  const decodeRows = Object.fromEntries(Object.entries(decodeOnly).map(([size, rows]) => [size, Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, best(v)]))]))
  console.log('decoding alone, one image at a time (best of ' + rounds + ')   wall ms   CPU ms')
  for (const [size, rows] of Object.entries(decodeRows)) {
    for (const [k, v] of Object.entries(rows)) console.log(`  ${size} ${k.padEnd(36)} ${v.wallMs.toFixed(3).padStart(7)}  ${v.cpuMs.toFixed(3).padStart(7)}`)
  }

  const date = new Date().toISOString().slice(0, 10)
  const file = values.out ?? join(ROOT, 'bench/results', `decode-${date}.json`)
  await mkdir(join(file, '..'), { recursive: true })
  const machine = { cpu: cpus()[0]?.model ?? '?', cores: availableParallelism(), node: process.version, sharp: sharp.versions.sharp, vips: sharp.versions.vips }
  await writeFile(file, JSON.stringify({ date: new Date().toISOString(), commit: gitCommit(), machine, images: paths.length, rounds, loadAverages: loads, steps: stepRows, loops: rates, decodeOnly: decodeRows }, null, 2) + '\n')
  console.log(`wrote ${file}`)
  model.dispose()
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err)
  process.exitCode = 1
})
