/**
 * The same trained network in two formats gives the same results (issue 10): the bundled demo `gap` and `fc`
 * TF.js layers models, ported to PyTorch and exported to ONNX by scripts/onnx/portDemoModels.py (into
 * test/.cache/demo-onnx; it permutes fc6's rows from TF.js's (h, w, c) flatten to PyTorch's (c, h, w) in numpy).
 * - Both formats compute PyTorch's probabilities (port.json) on the script's random input (1e-5).
 * - gap: CAM and Grad-CAM maps of demo images agree (1e-4 of the map's range), and the localization table over
 *   one image per class is the same.
 * - fc: deletion / insertion AUCs (Grad-CAM order and the seeded random order) agree, and so does the
 *   fully-convolutional grid at 128 px (the ONNX fc6 kernel read channel-major, the TF.js one (h, w, c)).
 * Skipped, with the reason, where Debian's python3-torch / python3-onnx are missing.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import type { JobContext } from '../../src/main/engine/context'
import { initBackend } from '../../src/main/engine/backend'
import { DEMO_CLASSES, generateDemoDataset } from '../../src/main/engine/demo'
import { folderFaithfulness } from '../../src/main/engine/faithfulness/deletionInsertion'
import { toInputTensor, toModelInput } from '../../src/main/engine/images/preprocess'
import { readImage } from '../../src/main/engine/images/readImage'
import { evaluateLocalization } from '../../src/main/engine/localization/evaluate'
import { imageClassMaps } from '../../src/main/engine/localization/imageMaps'
import { mapMethod } from '../../src/main/engine/maps'
import { defaultMapLayer, mapLayers } from '../../src/main/engine/maps/mapLayers'
import { OUTPUT, type LoadedModel } from '../../src/main/engine/model'
import { classMapGrid } from '../../src/main/engine/models/classGrid'
import { convolutionalHead } from '../../src/main/engine/models/convolutionalHead'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { maxAbsDiff } from '../helpers/compare'

const ROOT = join(import.meta.dirname, '../..')
const PYTHON = '/usr/bin/python3'
const PORTS = join(ROOT, 'test/.cache/demo-onnx')
const DEMO = join(ROOT, 'resources/demo-models')

const probe = spawnSync(PYTHON, ['-c', 'import torch, onnx'], { encoding: 'utf8' })
const skip = probe.status === 0 ? false : `${PYTHON} cannot import torch and onnx (apt-get install python3-torch python3-onnx): ${(probe.stderr || String(probe.error)).trim().split('\n').pop()}`

const SCRIPT = join(ROOT, 'scripts/onnx/portDemoModels.py')

/** Whether every port was written after the script and the TF.js files it reads last changed. */
async function portsUpToDate(): Promise<boolean> {
  const mtime = (f: string) => stat(f).then((s) => s.mtimeMs, () => NaN)
  for (const name of ['gap', 'fc']) {
    const written = await mtime(join(PORTS, name, 'port.json'))
    const sources = await Promise.all([SCRIPT, ...(await readdir(join(DEMO, name))).map((f) => join(DEMO, name, f))].map(mtime))
    if (!(written > Math.max(...sources))) return false
  }
  return true
}

let scratch = ''
let val = ''
const ctx: JobContext = { progress: () => {}, signal: new AbortController().signal }
const models: Record<string, LoadedModel> = {}

before(async () => {
  if (skip) return
  if (!(await portsUpToDate())) {
    const run = spawnSync(PYTHON, [SCRIPT, '--out', PORTS], { encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } })
    if (run.status !== 0) throw new Error(`portDemoModels.py failed: ${run.stderr}`)
  }
  await initBackend({ forced: 'wasm' })
  scratch = await mkdtemp(join(tmpdir(), 'convscope-demo-onnx-'))
  await generateDemoDataset({ out: join(scratch, 'demo'), count: { train: 0, val: 1 }, size: 128, seed: 0 })
  val = join(scratch, 'demo', 'val')
  for (const name of ['gap', 'fc']) {
    models[`${name}.tfjs`] = await loadModel(join(DEMO, name))
    models[`${name}.onnx`] = await loadModel(join(PORTS, name))
  }
})
after(async () => {
  for (const m of Object.values(models)) m.dispose()
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

const image = (k: number) => join(val, DEMO_CLASSES[k]!.id, `c${String(k).padStart(2, '0')}_val_00000.jpg`)

test('the ONNX ports and the TF.js originals compute PyTorch’s probabilities', { skip }, async () => {
  for (const name of ['gap', 'fc']) {
    const port = JSON.parse(await readFile(join(PORTS, name, 'port.json'), 'utf8')) as { input: { shape: number[]; values: number[] }; probs: number[] }
    const [n, c, h, w] = port.input.shape as [number, number, number, number]
    const x = tf.tidy(() => tf.tensor4d(port.input.values, [n, c, h, w]).transpose([0, 2, 3, 1])) as tf.Tensor4D
    for (const format of ['onnx', 'tfjs']) {
      const [probs] = models[`${name}.${format}`]!.forward(x, [OUTPUT])
      assert.ok(maxAbsDiff(probs!.dataSync(), port.probs) < 1e-5, `${name}.${format}: max |Δp| ${maxAbsDiff(probs!.dataSync(), port.probs)}`)
      probs!.dispose()
    }
    x.dispose()
  }
})

test('gap: the same CAM and Grad-CAM maps and the same localization table in both formats', { skip }, async () => {
  const [tfjs, onnx] = [models['gap.tfjs']!, models['gap.onnx']!]
  assert.equal(onnx.info.format, 'onnx')
  // The Grad-CAM layers: the ONNX pooling keeps a 1×1 map, which is no map layer; the default reads the same values (conv_last's ReLU).
  assert.deepEqual([mapLayers(onnx).at(-1), defaultMapLayer(onnx), defaultMapLayer(tfjs)], ['conv_last_relu', 'conv_last_relu', 'conv_last'])
  for (const method of ['cam', 'gradcam']) {
    for (const k of [0, 6, 11]) {
      const request = { method: mapMethod(method), top: 2, layer: method === 'gradcam' ? 'conv_last' : undefined }
      const [a, b] = [await imageClassMaps(tfjs, image(k), request), await imageClassMaps(onnx, image(k), { ...request, layer: request.layer && 'conv_last_relu' })]
      assert.deepEqual(b.ranking.slice(0, 2), a.ranking.slice(0, 2))
      for (const [i, m] of a.maps.entries()) {
        const range = Math.max(...m.map.values) - Math.min(...m.map.values)
        assert.ok(maxAbsDiff(b.maps[i]!.map.values, m.map.values) <= 1e-4 * range, `${method}, image ${k}, class ${m.classIndex}`)
        assert.deepEqual(b.maps[i]!.box, m.box)
      }
    }
  }
  const methods = ['cam', 'gradcam'].map(mapMethod)
  const [a, b] = [await evaluateLocalization(tfjs, val, { methods }, ctx), await evaluateLocalization(onnx, val, { methods }, ctx)]
  assert.equal(a.images, 14)
  assert.deepEqual(b.rows, a.rows)
})

test('fc: the same deletion / insertion AUCs and the same fully-convolutional grid in both formats', { skip }, async () => {
  const [tfjs, onnx] = [models['fc.tfjs']!, models['fc.onnx']!]
  const methods = () => [mapMethod('gradcam'), 'random' as const]
  const options = { limit: 3, points: 11, mapOptions: { layer: undefined } }
  const [a, b] = [await folderFaithfulness(tfjs, val, methods(), options, ctx), await folderFaithfulness(onnx, val, methods(), options, ctx)]
  for (const [i, m] of a.methods.entries()) {
    assert.ok(Math.abs(b.methods[i]!.deletionAuc - m.deletionAuc) < 1e-4, `${m.method} deletion ${b.methods[i]!.deletionAuc} vs ${m.deletionAuc}`)
    assert.ok(Math.abs(b.methods[i]!.insertionAuc - m.insertionAuc) < 1e-4, `${m.method} insertion ${b.methods[i]!.insertionAuc} vs ${m.insertionAuc}`)
  }

  const grids = []
  for (const model of [tfjs, onnx]) {
    const fcn = convolutionalHead(model)
    const x = toInputTensor(await toModelInput(await readImage(image(6)), { ...model.info.preprocessing, inputSize: [128, 128] }))
    grids.push({ steps: fcn.steps, grid: await classMapGrid(fcn, x) })
    x.dispose()
  }
  const [g, h] = grids as [(typeof grids)[0], (typeof grids)[0]]
  assert.match(h.steps[0]!, /fc6 \(Gemm\) became a 4×4 convolution with 192 inputs, its kernel read channel-major/)
  assert.deepEqual([h.grid.height, h.grid.width], [5, 5])
  assert.ok(maxAbsDiff(h.grid.values, g.grid.values) < 1e-5, `max |Δp| ${maxAbsDiff(h.grid.values, g.grid.values)}`)
  assert.deepEqual(h.grid.argmax, g.grid.argmax)
})
