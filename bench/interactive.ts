/**
 * The interactive calls of issue 11 on both forward executors, in one process (so the ratio is fair): the
 * bundled demo `gap` network over 1 400 demo images (100 per class, 128² JPEGs, .cache/bench/), on the
 * backend convscope picks (initBackend), the calls the views make:
 *
 * (a) activations: methods/activations.ts computeActivations for one image and one conv layer (the Activations
 *     view; image decoding included). Target ≤ 10 ms.
 * (b) CAM top-5: methods/classMaps.ts getClassMaps, method 'cam', top 5 (the Classes view). Target ≤ 15 ms.
 * (c) classify: methods/classify.ts classifyFolder over the 1 400 images (decoding included), images/s.
 *     Target ≥ 3× today's rate (today: the tfjs executor). Also: the same loop decoding alone, no compute (the
 *     ceiling decoding sets), and classify on the new executor with one batch loading ahead instead of LOAD_AHEAD.
 *     Classify decodes on the decode threads (datasets/decodePool.ts); each executor also runs with decoding in its
 *     own thread (CONVSCOPE_DECODE_THREADS=0, as before them), and decoding alone runs both ways.
 *
 *   node --import tsx bench/interactive.ts [--repeats 40] [--rounds 3] [--layer conv3_2_relu] [--out FILE]
 *
 * The executor is chosen as the methods choose it, through CONVSCOPE_EXECUTOR (read at call time): 'tfjs' is
 * "today", 'onnxruntime' the new executor (skipped with the reason when the model cannot run on it). (a) and (b)
 * alternate the executors call by call over --repeats images after one warm-up call each, median ms (also, for
 * where (a)'s time goes, decoding alone and the forward pass alone: executors/forward.ts forwardLayers); (c)
 * alternates whole passes, --rounds each, best rate. Each executor's results are compared with tfjs' (values,
 * top-5 classes and maps, accuracy) so that both are known to have done the same work. The 1-minute load average
 * is recorded before each part: the machine may be shared. Results: a table and bench/results/interactive-<date>.json.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { ActivationData, ClassMaps } from '../src/shared/api'
import { initBackend } from '../src/main/engine/backend'
import { LOAD_AHEAD, runDatasetLoop } from '../src/main/engine/datasets/datasetLoop'
import { decodeImage } from '../src/main/engine/datasets/decodeImage'
import { imageDecoders } from '../src/main/engine/datasets/decodePool'
import { forwardLayers } from '../src/main/engine/executors/forward'
import { forwardExecutor, executorChoice, type ExecutorChoice } from '../src/main/engine/executors/onnxRuntime'
import { listImageFolder } from '../src/main/engine/images/imageFolder'
import { readImage } from '../src/main/engine/images/readImage'
import { toInputValues, toModelInput, type ModelInput } from '../src/main/engine/images/preprocess'
import { computeActivations } from '../src/main/engine/methods/activations'
import { getClassMaps } from '../src/main/engine/methods/classMaps'
import { classifyFolder, type ClassifyResult } from '../src/main/engine/methods/classify'
import { OUTPUT, type LoadedModel } from '../src/main/engine/model'
import { loadModel } from '../src/main/engine/models/loadModel'
import { demoImages } from './demoImages'
import { gitCommit } from './gitCommit'

const ROOT = resolve(import.meta.dirname, '..')
const { values } = parseArgs({
  options: {
    repeats: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '3' },
    layer: { type: 'string', default: 'conv3_2_relu' },
    out: { type: 'string' },
  },
})
const repeats = Number(values.repeats)
const rounds = Number(values.rounds)
const layer = values.layer!

const median = (v: readonly number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!
const load1 = () => Number(loadavg()[0]!.toFixed(2))
const log = (s: string) => process.stderr.write(s + '\n')

/** Runs `f` with CONVSCOPE_EXECUTOR set to `choice` (the methods read it at call time), then restores it. */
async function on<T>(choice: ExecutorChoice, f: () => Promise<T>): Promise<T> {
  const before = process.env.CONVSCOPE_EXECUTOR
  process.env.CONVSCOPE_EXECUTOR = choice
  try {
    return await f()
  } finally {
    if (before === undefined) delete process.env.CONVSCOPE_EXECUTOR
    else process.env.CONVSCOPE_EXECUTOR = before
  }
}

/** The executors to compare: tfjs always, onnxruntime where this model can run on it (else the reason). */
function executors(model: LoadedModel): { run: ExecutorChoice[]; names: Record<string, string>; skipped: string | null } {
  const names: Record<string, string> = { tfjs: forwardExecutor(model, 'tfjs') }
  try {
    names.onnxruntime = forwardExecutor(model, 'onnxruntime')
    return { run: ['tfjs', 'onnxruntime'], names, skipped: null }
  } catch (e) {
    return { run: ['tfjs'], names, skipped: e instanceof Error ? e.message : String(e) }
  }
}

interface Timed {
  medianMs: number
  minMs: number
  calls: number
}
const timed = (ms: number[]): Timed => ({ medianMs: Number(median(ms).toFixed(2)), minMs: Number(Math.min(...ms).toFixed(2)), calls: ms.length })

/** Largest |a − b| relative to max |b|. */
function relativeDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity
  let diff = 0
  let scale = 0
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!))
    scale = Math.max(scale, Math.abs(b[i]!))
  }
  return scale ? diff / scale : diff
}

/** One call per image per executor, executors alternating call by call, after one warm-up call each. */
async function perImage<I, R>(run: ExecutorChoice[], images: I[], call: (image: I) => Promise<R>): Promise<{ times: Record<string, number[]>; results: Record<string, R[]> }> {
  const times: Record<string, number[]> = Object.fromEntries(run.map((e) => [e, []]))
  const results: Record<string, R[]> = Object.fromEntries(run.map((e) => [e, []]))
  for (const e of run) await on(e, () => call(images[0]!))
  for (const image of images) {
    for (const e of run) {
      const t0 = performance.now()
      const r = await on(e, () => call(image))
      times[e]!.push(performance.now() - t0)
      results[e]!.push(r)
    }
  }
  return { times, results }
}

async function main(): Promise<void> {
  const backend = await initBackend({})
  const model = await loadModel(join(ROOT, 'resources/demo-models/gap'))
  const root = await demoImages(128, 100)
  const listed = (await listImageFolder(root, 100_000)).images.map((i) => i.path)
  // Spread over the classes: every 1400 / repeats-th image.
  const images = Array.from({ length: repeats }, (_, i) => listed[Math.floor((i * listed.length) / repeats)]!)
  const ex = executors(model)
  log(`backend ${backend.active}; executors ${ex.run.map((e) => ex.names[e]).join(', ')}${ex.skipped ? `; onnxruntime skipped: ${ex.skipped}` : ''}; CONVSCOPE_EXECUTOR default ${executorChoice()}`)
  const loads: Record<string, number> = { start: load1() }

  // Where (a)'s time goes: decoding alone (readImage + toModelInput, as computeActivations does it; the same on
  // both executors) and the forward pass alone (executors/forward.ts to the layer and the output, read into JS).
  const decodeMs: number[] = []
  const decoded: ModelInput[] = []
  for (const image of images) {
    const t0 = performance.now()
    decoded.push(await toModelInput(await readImage(image), model.info.preprocessing))
    decodeMs.push(performance.now() - t0)
  }
  const forward = await perImage(ex.run, decoded, (input) => forwardLayers(model, toInputValues(input), [layer, OUTPUT]))

  log(`(a) activations of ${layer}, ${images.length} images…`)
  loads.activations = load1()
  const act = await perImage<string, ActivationData>(ex.run, images, (image) => computeActivations(model, layer, image))
  log('(b) CAM top-5…')
  loads.cam = load1()
  const cam = await perImage<string, ClassMaps>(ex.run, images, (image) => getClassMaps(model, { image, method: 'cam', top: 5, threshold: 0.2 }))

  log(`(c) classify ${listed.length} images, ${rounds} round(s) per executor…`)
  loads.classify = load1()
  const classify: Record<string, { seconds: number[]; result: ClassifyResult | null }> = Object.fromEntries(ex.run.map((e) => [e, { seconds: [], result: null }]))
  // Where (c)'s time goes: the same dataset loop decoding the same images with no compute (classify's batch
  // size 32): classify cannot go faster than this on either executor.
  const decodeOnlySeconds: number[] = []
  // And classify with one batch loading ahead instead of the dataset loop's default (LOAD_AHEAD), on the last executor.
  const aheadOne = { executor: ex.run.at(-1)!, seconds: [] as number[] }
  // Classify with decoding in its own thread (CONVSCOPE_DECODE_THREADS=0, as before decode threads), per executor;
  // and decoding alone on the decode threads (datasets/decodePool.ts), as classify's loads now run.
  const inThread: Record<string, number[]> = Object.fromEntries(ex.run.map((e) => [e, []]))
  const decodeOnlyThreadsSeconds: number[] = []
  const threadsUsed = imageDecoders(listed.length).threads
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now()
    await runDatasetLoop({ items: listed, load: (path) => decodeImage(path, model.info.preprocessing), compute: async () => {}, pathOf: (path) => path, batchSize: 32 })
    decodeOnlySeconds.push((performance.now() - t0) / 1000)
    const decoders = imageDecoders(listed.length)
    const t2 = performance.now()
    await runDatasetLoop({ items: listed, load: (path) => decoders.image(path, model.info.preprocessing), compute: async () => {}, pathOf: (path) => path, batchSize: 32 }).finally(() => decoders.release())
    decodeOnlyThreadsSeconds.push((performance.now() - t2) / 1000)
    for (const e of r % 2 === 0 ? ex.run : [...ex.run].reverse()) {
      const before = process.env.CONVSCOPE_DECODE_THREADS
      process.env.CONVSCOPE_DECODE_THREADS = '0'
      try {
        const t3 = performance.now()
        await on(e, () => classifyFolder(model, root))
        inThread[e]!.push((performance.now() - t3) / 1000)
      } finally {
        if (before === undefined) delete process.env.CONVSCOPE_DECODE_THREADS
        else process.env.CONVSCOPE_DECODE_THREADS = before
      }
      log(`  ${e}, decoding in its own thread: ${(listed.length / inThread[e]!.at(-1)!).toFixed(1)} img/s`)
    }
    // Alternate which executor goes first, so that a burst of other work does not always hit the same one.
    for (const e of r % 2 === 0 ? ex.run : [...ex.run].reverse()) {
      const t0 = performance.now()
      const result = await on(e, () => classifyFolder(model, root))
      classify[e]!.seconds.push((performance.now() - t0) / 1000)
      classify[e]!.result ??= result
      log(`  ${e}: ${(listed.length / classify[e]!.seconds.at(-1)!).toFixed(1)} img/s`)
    }
    const before = process.env.CONVSCOPE_LOAD_AHEAD
    process.env.CONVSCOPE_LOAD_AHEAD = '1'
    try {
      const t1 = performance.now()
      await on(aheadOne.executor, () => classifyFolder(model, root))
      aheadOne.seconds.push((performance.now() - t1) / 1000)
    } finally {
      if (before === undefined) delete process.env.CONVSCOPE_LOAD_AHEAD
      else process.env.CONVSCOPE_LOAD_AHEAD = before
    }
    log(`  ${aheadOne.executor}, 1 batch ahead: ${(listed.length / aheadOne.seconds.at(-1)!).toFixed(1)} img/s`)
  }
  loads.end = load1()

  // Same work on both: activations (values), CAM (top-5 classes in order, maps), classify (accuracy).
  const agreement: Record<string, unknown> = {}
  for (const e of ex.run.filter((x) => x !== 'tfjs')) {
    agreement[e] = {
      activationsMaxRelDiff: Math.max(...act.results[e]!.map((r, i) => relativeDiff(r.values, act.results.tfjs![i]!.values))),
      camSameTop5: cam.results[e]!.every((r, i) => r.maps.map((m) => m.classIndex).join() === cam.results.tfjs![i]!.maps.map((m) => m.classIndex).join()),
      camMapsMaxRelDiff: Math.max(...cam.results[e]!.flatMap((r, i) => r.maps.map((m, j) => relativeDiff(m.values, cam.results.tfjs![i]!.maps[j]?.values ?? [])))),
      classifySameAccuracy: JSON.stringify(classify[e]!.result!.overall) === JSON.stringify(classify.tfjs!.result!.overall),
    }
  }

  const rows = ex.run.map((e) => {
    const best = Math.min(...classify[e]!.seconds)
    return {
      executor: e,
      name: ex.names[e]!,
      forward: timed(forward.times[e]!),
      activations: timed(act.times[e]!),
      cam: timed(cam.times[e]!),
      /** Of (b): the map method's own time (ClassMaps.milliseconds: beyond the ranking's forward pass, decoding and boxes). */
      camMapsMedianMs: Number(median(cam.results[e]!.map((r) => r.milliseconds)).toFixed(2)),
      classify: { imagesPerSecond: Number((listed.length / best).toFixed(1)), seconds: classify[e]!.seconds.map((s) => Number(s.toFixed(2))), top1: classify[e]!.result!.overall.top1 },
    }
  })
  const tfjs = rows[0]!
  console.log(`demo gap network (64² input), backend ${backend.active}, ${availableParallelism()} cores; load average ${Object.entries(loads).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  console.log(`in (a): decode + preprocess alone median ${median(decodeMs).toFixed(2)} ms; forward to ${layer} + output alone: ${rows.map((r) => `${r.name} ${r.forward.medianMs} ms`).join(', ')}`)
  console.log('executor            activations ms (median / min)   CAM top-5 ms (median / min)   classify img/s (best of ' + rounds + ')   ×today')
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(18)}  ${`${r.activations.medianMs} / ${r.activations.minMs}`.padStart(29)}   ${`${r.cam.medianMs} / ${r.cam.minMs}`.padStart(27)}   ${String(r.classify.imagesPerSecond).padStart(27)}   ${(r.classify.imagesPerSecond / tfjs.classify.imagesPerSecond).toFixed(2)}`,
    )
  }
  console.log(`in (b): the CAM method itself (ClassMaps.milliseconds; the rest is decoding, the ranking's forward pass, boxes, annotation lookup): ${rows.map((r) => `${r.name} ${r.camMapsMedianMs} ms`).join(', ')}`)
  const decodeOnlyRate = listed.length / Math.min(...decodeOnlySeconds)
  console.log(`in (c): decoding alone through the same dataset loop (no compute): ${decodeOnlyRate.toFixed(1)} img/s (best of ${rounds})`)
  const aheadOneRate = listed.length / Math.min(...aheadOne.seconds)
  console.log(`in (c): ${ex.names[aheadOne.executor]} with 1 batch loading ahead instead of ${LOAD_AHEAD}: ${aheadOneRate.toFixed(1)} img/s (best of ${rounds})`)
  const inThreadRates = Object.fromEntries(ex.run.map((e) => [e, Number((listed.length / Math.min(...inThread[e]!)).toFixed(1))]))
  const decodeOnlyThreadsRate = listed.length / Math.min(...decodeOnlyThreadsSeconds)
  console.log(`in (c): classify with decoding in its own thread (CONVSCOPE_DECODE_THREADS=0): ${ex.run.map((e) => `${ex.names[e]} ${inThreadRates[e]} img/s`).join(', ')} (best of ${rounds}); the rows above use ${threadsUsed} decode thread(s)`)
  console.log(`in (c): decoding alone on ${threadsUsed} decode thread(s) through the same loop: ${decodeOnlyThreadsRate.toFixed(1)} img/s (best of ${rounds})`)
  console.log('targets: activations ≤ 10 ms, CAM top-5 ≤ 15 ms, classify ≥ 3× today (tfjs)')
  if (ex.skipped) console.log(`onnxruntime not run: ${ex.skipped}`)
  for (const [e, a] of Object.entries(agreement)) console.log(`${e} vs tfjs: ${JSON.stringify(a)}`)

  const date = new Date().toISOString().slice(0, 10)
  const file = values.out ?? join(ROOT, 'bench/results', `interactive-${date}.json`)
  await mkdir(join(file, '..'), { recursive: true })
  const commit = gitCommit()
  const machine = { cpu: cpus()[0]?.model ?? '?', cores: availableParallelism(), memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version }
  const report = { date: new Date().toISOString(), commit, machine, backend: backend.active, model: 'demo gap', layer, images: { perCall: images.length, classify: listed.length }, rounds, loadAverages: loads, decodeMedianMs: Number(median(decodeMs).toFixed(2)), classifyDecodeOnlyImagesPerSecond: Number(decodeOnlyRate.toFixed(1)), loadAhead: LOAD_AHEAD, classifyAheadOne: { executor: aheadOne.executor, imagesPerSecond: Number(aheadOneRate.toFixed(1)) }, decodeThreads: threadsUsed, classifyDecodeInThread: inThreadRates, classifyDecodeOnlyThreadsImagesPerSecond: Number(decodeOnlyThreadsRate.toFixed(1)), onnxruntimeSkipped: ex.skipped, rows, agreement }
  await writeFile(file, JSON.stringify(report, null, 2) + '\n')
  console.log(`wrote ${file}`)
  model.dispose()
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err)
  process.exitCode = 1
})
