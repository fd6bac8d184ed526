/**
 * Pixel maps (issue 12): one unit's map on the bundled demo `gap` network, per method, on the backend convscope
 * picks (initBackend). Done-when target: guided backprop for one unit ≤ 300 ms here.
 *
 * For each method of the registry (engine/pixels): a unit of conv_last at its max (channel i mod K on image i,
 * over --repeats demo images, 128² JPEGs from .cache/bench/), after one warm-up call:
 *   compute  the method's compute on the preprocessed input (locate the max, forward and backward under the rule);
 *   request  getPixelMap as the engine serves it (methods/neurons/pixelMaps.ts: decoding and preprocessing included).
 * Also, for scale: plain tf.grad of the same target with no rule in force (locating included, as in compute). Median ms, the 1-minute load average before each method (the machine may be shared).
 *
 *   node --import tsx bench/pixelMaps.ts [--repeats 30] [--layer conv_last] [--out FILE]
 *
 * Results: a table on stderr and bench/results/pixelmaps-<date>.json.
 */
import { execFileSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import * as tf from '@tensorflow/tfjs'
import { parseParams, Target } from '../src/shared/api'
import { initBackend } from '../src/main/engine/backend'
import { listImageFolder } from '../src/main/engine/images/imageFolder'
import { toInputTensor, toModelInput } from '../src/main/engine/images/preprocess'
import { readImage } from '../src/main/engine/images/readImage'
import { getPixelMap } from '../src/main/engine/methods/neurons/pixelMaps'
import { loadModel } from '../src/main/engine/models/loadModel'
import { PIXEL_METHOD_LIST } from '../src/main/engine/pixels'
import { locateTarget, planTarget, targetScores } from '../src/main/engine/targets'
import { withoutFilterGradients } from '../src/main/engine/wasmGradients'
import { demoImages } from './demoImages'

const ROOT = resolve(import.meta.dirname, '..')
const { values } = parseArgs({ options: { repeats: { type: 'string', default: '30' }, layer: { type: 'string', default: 'conv_last' }, out: { type: 'string' } } })
const repeats = Number(values.repeats)
const layer = values.layer!

const median = (v: readonly number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!
const load1 = () => Number(loadavg()[0]!.toFixed(2))
const log = (s: string) => process.stderr.write(s + '\n')
const commit = () => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return process.env.CONVSCOPE_BENCH_COMMIT ?? 'unknown (not a git checkout)'
  }
}

const backend = await initBackend({})
const model = await loadModel(join(ROOT, 'resources/demo-models/gap'))
const channels = model.graph.get(layer).outputShape.at(-1)!
const folder = await demoImages(128, Math.ceil(repeats / 14) + 1)
const paths = (await listImageFolder(folder)).images.map((i) => i.path).slice(0, repeats + 1)
const inputs = await Promise.all(paths.map(async (p) => toInputTensor(await toModelInput(await readImage(p), model.info.preprocessing))))
const targetOf = (i: number) => Target.parse({ kind: 'unit', layer, channel: i % channels })
const ctx = { progress: () => {}, signal: new AbortController().signal }

/** Median ms of `call` over images 1..repeats, after a warm-up call on image 0. */
async function timed(call: (i: number) => Promise<unknown>): Promise<{ medianMs: number; minMs: number; load1: number }> {
  const load = load1()
  await call(0)
  const times: number[] = []
  for (let i = 1; i < paths.length; i++) {
    const t0 = performance.now()
    await call(i)
    times.push(performance.now() - t0)
  }
  return { medianMs: Number(median(times).toFixed(1)), minMs: Number(Math.min(...times).toFixed(1)), load1: load }
}

const results: Record<string, unknown> = {}
const PLAIN = 'plain tf.grad, no rule (locating included, as compute)'
results[PLAIN] = await timed(async (i) => {
  const plan = planTarget(model, targetOf(i))
  const { position } = await locateTarget(model, inputs[i]!, plan)
  const g = withoutFilterGradients(() => tf.grad((x: tf.Tensor) => tf.sum(targetScores(model, x as tf.Tensor4D, plan, position)))(inputs[i]!))
  await g.data()
  g.dispose()
})
for (const method of PIXEL_METHOD_LIST) {
  const compute = await timed(async (i) => method.compute(model, inputs[i]!, planTarget(model, targetOf(i))))
  const request = await timed(async (i) => getPixelMap(model, parseParams('getPixelMap', { modelId: 'bench', image: paths[i]!, method: method.name, target: targetOf(i) }), ctx))
  results[method.name] = { compute, request }
  log(`${method.name.padEnd(15)} compute ${String(compute.medianMs).padStart(6)} ms   getPixelMap ${String(request.medianMs).padStart(6)} ms   (load ${compute.load1})`)
}
log(`plain tf.grad   ${String((results[PLAIN] as { medianMs: number }).medianMs).padStart(6)} ms (no rule; locating included, as in compute)`)
tf.dispose(inputs)
model.dispose()

const date = new Date().toISOString().slice(0, 10)
const out = values.out ? resolve(values.out) : join(ROOT, 'bench/results', `pixelmaps-${date}.json`)
await mkdir(join(out, '..'), { recursive: true })
await writeFile(
  out,
  JSON.stringify(
    {
      bench: 'bench/pixelMaps.ts',
      date: new Date().toISOString(),
      commit: commit(),
      backend: backend.active,
      cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
      model: 'resources/demo-models/gap (64² input)',
      target: `${layer} channel i mod ${channels} at its max, one per image`,
      images: `${repeats} demo images (128² JPEG) after 1 warm-up`,
      targetMs: { guided: 300 },
      results,
    },
    null,
    2,
  ) + '\n',
)
log(`wrote ${out}`)
