/**
 * Forward-only methods on both executors (issue 11, item 1: executors/forward.ts): activations, classify, CAM,
 * localization with CAM and the fully-convolutional class grid give the same results with CONVSCOPE_EXECUTOR=tfjs
 * and =onnxruntime, and on onnxruntime the model's tfjs forward is never called (a wrapper counts its calls), so
 * the comparison is between two executors, not one executor twice.
 * Models: the tiny ONNX fixture, the ONNX ports of the demo `gap` / `fc` networks (scripts/onnx/portDemoModels.py,
 * cached in test/.cache/demo-onnx; skipped without Debian's python3-torch / python3-onnx), the demo `gap` TF.js
 * model itself where it has a runtime source, and a test model without one (tfjs only).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { initBackend } from '../../src/main/engine/backend'
import type { JobContext } from '../../src/main/engine/context'
import { DEMO_CLASSES, generateDemoDataset } from '../../src/main/engine/demo'
import { chosenExecutor, forwardLayers, pinExecutor } from '../../src/main/engine/executors/forward'
import { ONNX_RUNTIME_CPU } from '../../src/main/engine/executors/onnxRuntime'
import { toInputTensor, toModelInput } from '../../src/main/engine/images/preprocess'
import { readImage } from '../../src/main/engine/images/readImage'
import { evaluateLocalization } from '../../src/main/engine/localization/evaluate'
import { imageClassMaps } from '../../src/main/engine/localization/imageMaps'
import { mapMethod } from '../../src/main/engine/maps'
import { computeActivations } from '../../src/main/engine/methods/activations'
import { classifyFolder } from '../../src/main/engine/methods/classify'
import { OUTPUT, type LoadedModel } from '../../src/main/engine/model'
import { classMapGrid, type ClassGridNetwork } from '../../src/main/engine/models/classGrid'
import { convolutionalHead } from '../../src/main/engine/models/convolutionalHead'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { relativeError, torchvisionSkipReason } from '../helpers/torchvisionReference'
import { makeFakeModel } from './fakeModel'

const ROOT = join(import.meta.dirname, '../..')
const TINY = join(ROOT, 'test/fixtures/onnx/tiny_cnn.onnx')
const PORTS = join(ROOT, 'test/.cache/demo-onnx')
const DEMO_GAP = join(ROOT, 'resources/demo-models/gap')
const skipPorts = torchvisionSkipReason()
const ctx: JobContext = { progress: () => {}, signal: new AbortController().signal }

let scratch = ''
let val = ''
const image = (k: number) => join(val, DEMO_CLASSES[k]!.id, `c${String(k).padStart(2, '0')}_val_00000.jpg`)

before(async () => {
  await initBackend({ forced: 'wasm' })
  scratch = await mkdtemp(join(tmpdir(), 'convscope-forward-'))
  await generateDemoDataset({ out: join(scratch, 'demo'), count: { train: 0, val: 1 }, size: 128, seed: 0 })
  val = join(scratch, 'demo', 'val')
  if (!skipPorts && !existsSync(join(PORTS, 'fc', 'model.onnx'))) {
    const run = spawnSync('/usr/bin/python3', [join(ROOT, 'scripts/onnx/portDemoModels.py'), '--out', PORTS], { encoding: 'utf8' })
    if (run.status !== 0) throw new Error(`portDemoModels.py failed: ${run.stderr}`)
  }
})
after(async () => {
  delete process.env.CONVSCOPE_EXECUTOR
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

/** `model` with its tfjs forward counted: on onnxruntime a forward-only method must not call it. */
function counted(model: LoadedModel): { model: LoadedModel; calls: () => number } {
  let calls = 0
  const wrapped = Object.create(model) as LoadedModel & { forward: LoadedModel['forward'] }
  wrapped.forward = (...args) => (calls++, model.forward(...args))
  return { model: wrapped, calls: () => calls }
}

/**
 * Run `work` under CONVSCOPE_EXECUTOR=tfjs, then =onnxruntime (read at call time), on one counted model: checks made
 * once per model on tfjs (the CAM head's proof, classifierHead.ts) are made in the first run, so the second calls
 * no tfjs forward at all.
 */
async function onBoth<T>(model: LoadedModel, work: (m: LoadedModel) => Promise<T>): Promise<{ tfjs: T; ort: T }> {
  const c = counted(model)
  const run = async (choice: string) => {
    process.env.CONVSCOPE_EXECUTOR = choice
    const before = c.calls()
    try {
      return { result: await work(c.model), calls: c.calls() - before }
    } finally {
      delete process.env.CONVSCOPE_EXECUTOR
    }
  }
  const tfjs = await run('tfjs')
  const ort = await run('onnxruntime')
  assert.ok(tfjs.calls > 0, 'CONVSCOPE_EXECUTOR=tfjs ran the tfjs forward')
  assert.equal(ort.calls, 0, 'CONVSCOPE_EXECUTOR=onnxruntime did not run the tfjs forward')
  return { tfjs: tfjs.result, ort: ort.result }
}

/** The class grid of `model` at `size`: the rewrite built (and checked, on tfjs) once, in the first run. */
async function sameClassGrid(model: LoadedModel, k: number, size: [number, number]) {
  const x = toInputTensor(await toModelInput(await readImage(image(k)), { ...model.info.preprocessing, inputSize: size }))
  try {
    let fcn: ClassGridNetwork | undefined
    const { tfjs, ort } = await onBoth(model, async (m) => classMapGrid((fcn ??= convolutionalHead(m)), x))
    assert.deepEqual([ort.height, ort.width], [tfjs.height, tfjs.width])
    assert.ok(ort.height > 1 && ort.width > 1)
    assert.deepEqual(ort.argmax, tfjs.argmax)
    assert.ok(relativeError(ort.values, tfjs.values) <= 1e-4, `grid relative error ${relativeError(ort.values, tfjs.values)}`)
    return ort
  } finally {
    x.dispose()
  }
}

async function withModel(path: string, work: (m: LoadedModel) => Promise<void>): Promise<void> {
  const model = await loadModel(path)
  try {
    await work(model)
  } finally {
    model.dispose()
  }
}

async function sameActivations(model: LoadedModel, layers: string[], k: number): Promise<void> {
  for (const layer of layers) {
    const { tfjs, ort } = await onBoth(model, (m) => computeActivations(m, layer, image(k)))
    assert.deepEqual(ort.shape, tfjs.shape, `${layer}: shape`)
    const err = relativeError(ort.values, tfjs.values)
    assert.ok(err <= 1e-4, `${layer}: values relative error ${err}`)
    assert.deepEqual(ort.channelArgmax, tfjs.channelArgmax, `${layer}: channel argmax`)
    assert.deepEqual(ort.predictions.map((p) => p.index), tfjs.predictions.map((p) => p.index), `${layer}: top-5 order`)
    assert.ok(relativeError(ort.predictions.map((p) => p.score), tfjs.predictions.map((p) => p.score)) <= 1e-4)
  }
}

async function sameCamMaps(model: LoadedModel, k: number): Promise<void> {
  const { tfjs, ort } = await onBoth(model, (m) => imageClassMaps(m, image(k), { method: mapMethod('cam'), top: 5 }))
  assert.deepEqual(ort.ranking.slice(0, 5), tfjs.ranking.slice(0, 5), 'top-5 classes')
  assert.equal(ort.maps.length, Math.min(5, ort.probabilities.length))
  for (const [i, m] of tfjs.maps.entries()) {
    const o = ort.maps[i]!
    assert.equal(o.classIndex, m.classIndex)
    assert.ok(relativeError(o.map.values, m.map.values) <= 1e-4, `class ${m.classIndex}: map relative error ${relativeError(o.map.values, m.map.values)}`)
    assert.ok(Math.abs(o.map.score - m.map.score) <= 1e-4 * Math.max(1, Math.abs(m.map.score)), `class ${m.classIndex}: logit ${o.map.score} vs ${m.map.score}`)
    assert.deepEqual(o.box, m.box, `class ${m.classIndex}: box`)
  }
}

test('forwardLayers: the executor is read at call time (option first), values as forward presents them', async () => {
  await withModel(TINY, async (model) => {
    const [h, w, c] = model.info.inputShape
    const x = tf.randomUniform([2, h, w, c], -2, 2, 'float32', 3) as tf.Tensor4D
    try {
      const names = ['relu1', 'conv2', 'flatten', OUTPUT]
      process.env.CONVSCOPE_EXECUTOR = 'tfjs'
      const a = await forwardLayers(model, x, names)
      const b = await forwardLayers(model, x, names, { executor: 'onnxruntime' })
      process.env.CONVSCOPE_EXECUTOR = 'onnxruntime'
      assert.equal(chosenExecutor(model), ONNX_RUNTIME_CPU)
      const pinned = pinExecutor(model)
      process.env.CONVSCOPE_EXECUTOR = 'tfjs'
      assert.equal(chosenExecutor(model, pinned.request), ONNX_RUNTIME_CPU, 'a pinned request keeps its executor')
      delete process.env.CONVSCOPE_EXECUTOR
      assert.deepEqual([a.executor, b.executor, chosenExecutor(model)], ['tfjs-wasm', ONNX_RUNTIME_CPU, ONNX_RUNTIME_CPU])
      for (const [i, name] of names.entries()) {
        assert.deepEqual(b.values[i]!.shape, a.values[i]!.shape, `${name}: shape`)
        assert.ok(relativeError(b.values[i]!.data, a.values[i]!.data) <= 1e-4, `${name}: relative error`)
      }
      assert.deepEqual(a.values[0]!.shape, [2, 112, 112, 4], 'NHWC on both')
    } finally {
      delete process.env.CONVSCOPE_EXECUTOR
      x.dispose()
    }
  })
})

test('tiny ONNX fixture: activations, CAM maps and the class grid agree across executors', async () => {
  await withModel(TINY, async (model) => {
    await sameActivations(model, ['relu1', 'conv2', 'fc'], 3)
    await sameCamMaps(model, 3)
    // Global-pooling head, dynamic height and width: the grid's trunk runs on onnxruntime.
    await sameClassGrid(model, 5, [320, 288])
  })
})

test('demo gap port: activations, classify, CAM top-5, localization with CAM and the class grid agree', { skip: skipPorts }, async () => {
  await withModel(join(PORTS, 'gap'), async (model) => {
    await sameActivations(model, ['conv1_1_relu', 'conv_last_relu', 'predictions', 'probs'], 6)
    await sameCamMaps(model, 6)
    await sameCamMaps(model, 11)

    const { tfjs, ort } = await onBoth(model, (m) => classifyFolder(m, val, { batchSize: 5 }))
    assert.deepEqual([tfjs.executor, ort.executor], ['tfjs-wasm', ONNX_RUNTIME_CPU])
    assert.equal(ort.overall.images, 14)
    // One image per class: per class, right or wrong, and the wrong class predicted, is every image's top-1.
    assert.deepEqual(ort.perClass, tfjs.perClass)
    assert.deepEqual(ort.overall, tfjs.overall)

    const loc = await onBoth(model, (m) => evaluateLocalization(m, val, { methods: [mapMethod('cam')] }, ctx))
    assert.equal(loc.ort.images, 14)
    assert.deepEqual(loc.ort.rows, loc.tfjs.rows)
    assert.deepEqual(loc.ort.failures.map((f) => [f.path, f.box]), loc.tfjs.failures.map((f) => [f.path, f.box]))

    const grid = await sameClassGrid(model, 6, [128, 128])
    assert.deepEqual([grid.height, grid.width], [16, 16])
  })
})

test('demo fc port: a flatten → dense head keeps its class grid on tfjs (onnxruntime runs the whole graph)', { skip: skipPorts }, async () => {
  await withModel(join(PORTS, 'fc'), async (model) => {
    const x = toInputTensor(await toModelInput(await readImage(image(6)), { ...model.info.preprocessing, inputSize: [128, 128] }))
    try {
      process.env.CONVSCOPE_EXECUTOR = 'onnxruntime'
      const c = counted(model)
      const grid = await classMapGrid(convolutionalHead(c.model), x)
      assert.ok(c.calls() >= 2, 'the head check and the trunk ran on tfjs')
      assert.deepEqual([grid.height, grid.width], [5, 5])
    } finally {
      delete process.env.CONVSCOPE_EXECUTOR
      x.dispose()
    }
  })
})

test('the demo gap TF.js model: the same results on its ONNX form (where it has one)', async (t) => {
  await withModel(DEMO_GAP, async (model) => {
    const why = model.runtimeSource ? model.runtimeSource.unsupported : 'it has no runtime source yet'
    if (why !== null) return t.skip(`the TF.js model does not run on onnxruntime: ${why}`)
    await sameActivations(model, ['conv_last', 'predictions', 'probs'], 2)
    await sameCamMaps(model, 2)
    const { tfjs, ort } = await onBoth(model, (m) => classifyFolder(m, val, { batchSize: 7 }))
    assert.deepEqual(ort.perClass, tfjs.perClass)
    const size = model.runtimeSource!.input.size
    if (size?.[0] === null && size[1] === null) await sameClassGrid(model, 2, [128, 128])
    else {
      // A fixed input size: onnxruntime would refuse the larger image, so the grid's trunk stays on tfjs.
      process.env.CONVSCOPE_EXECUTOR = 'onnxruntime'
      const c = counted(model)
      const fcn = convolutionalHead(c.model)
      const before = c.calls()
      const x = toInputTensor(await toModelInput(await readImage(image(2)), { ...model.info.preprocessing, inputSize: [128, 128] }))
      try {
        assert.deepEqual([(await classMapGrid(fcn, x)).height, c.calls() - before], [16, 1])
      } finally {
        delete process.env.CONVSCOPE_EXECUTOR
        x.dispose()
      }
    }
  })
})

test('a model without a runtime source runs on tfjs, and refuses a forced onnxruntime with the reason', async () => {
  const fake = makeFakeModel()
  try {
    const c = counted(fake.model)
    const a = await computeActivations(c.model, 'relu1', image(0))
    assert.equal(a.shape.join(','), '8,8,4')
    assert.ok(c.calls() > 0)
    assert.equal((await forwardLayers(fake.model, toInputTensor(await toModelInput(await readImage(image(0)), fake.model.info.preprocessing)), [OUTPUT])).executor, 'tfjs-wasm')
    process.env.CONVSCOPE_EXECUTOR = 'onnxruntime'
    await assert.rejects(computeActivations(fake.model, 'relu1', image(0)), /CONVSCOPE_EXECUTOR=onnxruntime: fake-cnn has no ONNX form/)
  } finally {
    delete process.env.CONVSCOPE_EXECUTOR
    fake.model.dispose()
  }
})
