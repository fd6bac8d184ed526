/**
 * Time per image of each class-map method beyond the forward pass, on the demo gap network (issue 5's goal:
 * CAM ≤ 50 ms beyond the forward pass), with the ratio to the forward pass measured in the same process.
 *
 *   node --import tsx bench/classMaps.ts [--images 28] [--classes 5] [--backend wasm]
 *
 * Inputs are real demo images (generated into a temporary folder). "Forward" is model.forward to the output;
 * a method's "beyond" is its median time for one image minus the median forward time (both measured image by
 * image, interleaved). --classes maps that
 * many classes per image (the paper's Fig. 4 shows the top 5).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as tf from '@tensorflow/tfjs'
import { initBackend } from '../src/main/engine/backend'
import { generateDemoDataset } from '../src/main/engine/demo'
import { toInputTensor, toModelInput } from '../src/main/engine/images/preprocess'
import { readImage } from '../src/main/engine/images/readImage'
import { MAP_METHOD_NAMES, MAP_METHODS } from '../src/main/engine/maps'
import { OUTPUT } from '../src/main/engine/model'
import { loadModel } from '../src/main/engine/models/loadModel'

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '28' },
    classes: { type: 'string', default: '5' },
    backend: { type: 'string', default: 'wasm' },
  },
})
const imageCount = Number(values.images)
const classCount = Number(values.classes)

const report = await initBackend({ forced: values.backend })
const model = await loadModel(join(import.meta.dirname, '../resources/demo-models/gap'))
const scratch = await mkdtemp(join(tmpdir(), 'convscope-bench-maps-'))
const perClass = Math.ceil(imageCount / 14)
await generateDemoDataset({ out: scratch, count: { train: 0, val: perClass }, size: 64, seed: 11 })
const files: string[] = []
for (const dir of (await readdir(join(scratch, 'val'))).sort()) for (const f of (await readdir(join(scratch, 'val', dir))).sort()) files.push(join(scratch, 'val', dir, f))
const inputs = await Promise.all(files.slice(0, imageCount).map(async (f) => toInputTensor([await toModelInput(await readImage(f), model.info.preprocessing)])))

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!

/** The top-k classes of one image, as a user asking for "top 5" gets them. */
function topClasses(x: tf.Tensor4D, k: number): number[] {
  const [probs] = model.forward(x, [OUTPUT])
  const order = Array.from(probs!.dataSync()).map((p, i) => [p, i] as const).sort((a, b) => b[0] - a[0])
  probs!.dispose()
  return order.slice(0, k).map(([, i]) => i)
}

/** One forward pass to the output, read back as a method's maps are. */
async function forwardPass(x: tf.Tensor4D): Promise<void> {
  const [y] = model.forward(x, [OUTPUT])
  await y!.data()
  y!.dispose()
}

const runs: Record<string, (x: tf.Tensor4D, classes: number[]) => Promise<unknown>> = {
  forward: (x) => forwardPass(x),
  ...Object.fromEntries(MAP_METHOD_NAMES.map((name) => [name, (x: tf.Tensor4D, classes: number[]) => MAP_METHODS[name].compute(model, x, classes)])),
}
const classes = inputs.map((x) => topClasses(x, classCount))
// Warm-up, then each image through the forward pass and every method in turn, so load changes hit all alike.
for (const run of Object.values(runs)) await run(inputs[0]!, classes[0]!)
const times: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]))
for (const [i, x] of inputs.entries()) {
  for (const [name, run] of Object.entries(runs)) {
    const t0 = performance.now()
    await run(x, classes[i]!)
    times[name]!.push(performance.now() - t0)
  }
}
const forward = median(times.forward!)
console.log(`backend ${report.active}, ${inputs.length} demo images 64×64, gap network, ${classCount} classes per image (median ms per image)`)
console.log(`forward pass: ${forward.toFixed(2)} ms`)
console.log('method      total ms  beyond forward ms  ratio to forward')
for (const name of MAP_METHOD_NAMES) {
  const total = median(times[name]!)
  console.log(`${name.padEnd(10)}  ${total.toFixed(2).padStart(8)}  ${(total - forward).toFixed(2).padStart(17)}  ${(total / forward).toFixed(2).padStart(16)}`)
}
tf.dispose(inputs)
model.dispose()
await rm(scratch, { recursive: true, force: true })
