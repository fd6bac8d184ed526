/**
 * Activation maximization's quality bars (issue 12) on the bundled demo `gap` network, with the default settings
 * (shared/api/neurons.ts ActmaxSettings) unless flags change them:
 *
 * (a) units: for each unit of conv_last, the optimised image's value of the unit (its spatial max, on the image
 *     as it is) against the unit's top-1 over the demo dataset (1 400 val images, 100 per class, 128² JPEGs,
 *     .cache/bench/: the largest spatial max of the unit over the images, read by a direct forward pass).
 *     Bar: ≥ 90 % of the units beaten.
 * (b) classes: for each of the 14 classes, the optimised image (the class's target with --class-score: probability
 *     by default, or logit) classified as that class with softmax p ≥ 0.9. Bar: every class. (Maximising a logit can
 *     raise a rival's logit more: on 2026-12-05 the logit gave 12/14, the probability 14/14.)
 *
 * Both run optimizers/actmax.ts maximizeScores, the loop startActmax runs, with one image per unit (per class) in
 * one batch: Adam is elementwise and each image draws its own transforms, so the images optimise independently,
 * as one run each would (the random draws differ from a single run's).
 *
 *   node --import tsx bench/actmaxQuality.ts [--units all|N] [--steps 256] [--batch 64] [--settings JSON] [--only units|classes] [--class-score probability|logit] [--out FILE]
 *
 * Results: a summary and bench/results/actmax-quality-<date>.json (per unit: dataset max, actmax value; per class: p).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { execFileSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import * as tf from '@tensorflow/tfjs'
import { ActmaxSettings } from '../src/shared/api'
import { initBackend } from '../src/main/engine/backend'
import { listImageFolder } from '../src/main/engine/images/imageFolder'
import { readModelInput } from '../src/main/engine/images/readImage'
import { toInputTensor } from '../src/main/engine/images/preprocess'
import { classLogits } from '../src/main/engine/maps'
import type { LoadedModel } from '../src/main/engine/model'
import { loadModel } from '../src/main/engine/models/loadModel'
import { maximizeScores } from '../src/main/engine/optimizers/actmax'
import { demoImages } from './demoImages'

const ROOT = resolve(import.meta.dirname, '..')
const LAYER = 'conv_last'
const { values: flags } = parseArgs({
  options: {
    units: { type: 'string', default: 'all' },
    steps: { type: 'string' },
    batch: { type: 'string', default: '64' },
    settings: { type: 'string', default: '{}' },
    out: { type: 'string' },
    only: { type: 'string' },
    'class-score': { type: 'string', default: 'probability' },
  },
})

/** Each unit's largest spatial max over the images of `root`. */
async function datasetMaxima(model: LoadedModel, root: string): Promise<Float32Array> {
  const { images: files } = await listImageFolder(root, 100_000)
  const channels = model.graph.get(LAYER).outputShape.at(-1)!
  const best = new Float32Array(channels).fill(-Infinity)
  for (let i = 0; i < files.length; i += 50) {
    const inputs = await Promise.all(files.slice(i, i + 50).map(async (f) => (await readModelInput(f.path, model.info.preprocessing)).input))
    const x = toInputTensor(inputs)
    const [out] = model.forward(x, [LAYER])
    const maxima = tf.tidy(() => tf.max(out!, [0, 1, 2]))
    const data = await maxima.data()
    tf.dispose([x, out!, maxima])
    data.forEach((v, c) => (best[c] = Math.max(best[c]!, v)))
  }
  return best
}

/** A batch objective: image i scores channel `channels[i]` of LAYER at its spatial max. */
const unitScores = (model: LoadedModel, channels: number[]) => (input: tf.Tensor4D) => {
  const [out] = model.forward(input, [LAYER])
  const width = out!.shape.at(-1)!
  const pick = tf.oneHot(tf.tensor1d(channels, 'int32'), width).reshape([channels.length, 1, 1, width])
  const value = tf.max(tf.sum(tf.mul(out!, pick), 3), [1, 2]) as tf.Tensor1D
  out!.dispose()
  return value
}

/** Image i scores the logit, or the softmax probability, of class `classes[i]` (as targets.ts reads a class). */
const classScores = (model: LoadedModel, classes: number[], count: number, score: string) => (input: tf.Tensor4D) => {
  const logits = classLogits(model, input)
  const scores = score === 'logit' ? logits : tf.softmax(logits)
  const value = tf.sum(tf.mul(scores, tf.oneHot(tf.tensor1d(classes, 'int32'), count)), 1) as tf.Tensor1D
  logits.dispose()
  return value
}

/** One image per class, each maximising its class's logit; p: the softmax of the image as it is. */
async function classRun(model: LoadedModel, classes: number[], settings: ActmaxSettings) {
  const count = model.info.labels!.length
  const run = await maximizeScores(model, classScores(model, classes, count, flags['class-score']!), { ...settings, images: classes.length })
  const images = tf.tensor4d(Float32Array.from(run.images.flatMap((m) => Array.from(m.rgb))), [classes.length, run.size, run.size, 3])
  const probs = tf.tidy(() => tf.softmax(classLogits(model, tf.image.resizeBilinear(images, model.info.inputShape.slice(0, 2) as [number, number]))))
  const p = (await probs.array()) as number[][]
  tf.dispose([images, probs])
  return classes.map((c, i) => ({ class: c, label: model.info.labels![c]!, p: p[i]![c]!, top: p[i]!.indexOf(Math.max(...p[i]!)), value: run.images[i]!.value }))
}

async function main(): Promise<void> {
  const backend = await initBackend({})
  const model = await loadModel(join(ROOT, 'resources/demo-models/gap'))
  const settings = ActmaxSettings.parse({ ...JSON.parse(flags.settings!), ...(flags.steps ? { steps: Number(flags.steps) } : {}) })
  const batch = Number(flags.batch)
  const load = () => loadavg()[0]!.toFixed(1)
  const loads: string[] = [load()]
  const root = await demoImages(128, 100)
  const maxima = await datasetMaxima(model, root)
  const allUnits = Array.from(maxima, (_, c) => c)
  const units = flags.only === 'classes' ? [] : flags.units === 'all' ? allUnits : allUnits.filter((_, i) => i % Math.ceil(allUnits.length / Number(flags.units)) === 0)
  const started = performance.now()
  const unitRows: { unit: number; datasetMax: number; actmax: number }[] = []
  for (let i = 0; i < units.length; i += batch) {
    const chunk = units.slice(i, i + batch)
    const run = await maximizeScores(model, unitScores(model, chunk), { ...settings, images: chunk.length })
    chunk.forEach((unit, j) => unitRows.push({ unit, datasetMax: maxima[unit]!, actmax: run.images[j]!.value }))
    loads.push(load())
    process.stderr.write(`units ${unitRows.length}/${units.length} (${((performance.now() - started) / 1000).toFixed(0)} s, load ${load()})\n`)
  }
  const unitSeconds = (performance.now() - started) / 1000
  const beaten = unitRows.filter((r) => r.actmax > r.datasetMax).length

  const classCount = model.info.labels!.length
  const classes = flags.only === 'units' ? [] : Array.from({ length: classCount }, (_, c) => c)
  const classStarted = performance.now()
  const classRows = classes.length ? await classRun(model, classes, settings) : []
  const classSeconds = (performance.now() - classStarted) / 1000
  loads.push(load())

  const passedClasses = classRows.filter((r) => r.p >= 0.9 && r.top === r.class).length
  const lowest = classRows.length ? Math.min(...classRows.map((r) => r.p)).toFixed(3) : '-'
  const summary = {
    date: new Date().toISOString(),
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim(),
    backend: backend.active,
    loadAverage1min: loads,
    settings,
    units: { layer: LAYER, count: unitRows.length, of: allUnits.length, beaten, fraction: beaten / unitRows.length, bar: 0.9, pass: unitRows.length === allUnits.length && beaten / unitRows.length >= 0.9, seconds: unitSeconds },
    classes: { score: flags['class-score'], count: classRows.length, passed: passedClasses, bar: 'every class p ≥ 0.9', pass: classRows.length === classCount && passedClasses === classCount, seconds: classSeconds },
    unitRows,
    classRows,
  }
  console.log(`units of ${LAYER}: ${beaten}/${unitRows.length} (${((100 * beaten) / unitRows.length).toFixed(1)} %) beat their dataset top-1 (bar 90 %) in ${unitSeconds.toFixed(0)} s`)
  console.log(`classes: ${passedClasses}/${classRows.length} at p ≥ 0.9 (lowest p ${lowest}) in ${classSeconds.toFixed(0)} s; load ${loads.join(' ')}`)
  const out = flags.out ?? join(ROOT, `bench/results/actmax-quality-${summary.date.slice(0, 10)}.json`)
  await mkdir(join(out, '..'), { recursive: true })
  await writeFile(out, JSON.stringify(summary, null, 2) + '\n')
  console.log(`wrote ${out}`)
  model.dispose()
}

await main()
