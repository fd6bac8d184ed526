/**
 * ONNX models' forward-only scan work on onnxruntime-node (issue 11, first slice: executors/onnxRuntime.ts)
 * gives the tfjs executor's results:
 * - every layer of the tiny fixture (also exported with a fixed batch of 1: run image by image) and of
 *   torchvision's resnet18 (112², batch 2) to 1e-4 relative;
 * - a scan of the ONNX port of the demo `gap` network over demo images: the same top-K images and positions on
 *   both executors, values to 1e-4; the manifest names its executor;
 * - a checkpoint of one executor is not resumed on the other; dispose releases the sessions;
 * - a scan's maxima reduced inside the onnxruntime graph (runOnnxRuntimeMaxima: Reshape + ReduceMax + ArgMax
 *   nodes, models/onnx/addOutputs.ts) equal spatialMaxOf on the full maps of the same batch, exactly, ties
 *   included (a constant image makes equal values at many positions: the first one wins on both), for every
 *   layer of the tiny fixture and resnet18, at opsets 8, 13 and 22 (ReduceMax's axes an attribute / an input)
 *   and on NHWC maps.
 * resnet18 and the demo port need Debian's python3-torch / python3-torchvision / python3-onnx (skipped otherwise).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { initBackend } from '../../src/main/engine/backend'
import { generateDemoDataset } from '../../src/main/engine/demo'
import * as ort from 'onnxruntime-node'
import {
  executorChoice,
  forwardExecutor,
  imageBatch,
  moveChannelAxis,
  ONNX_RUNTIME_CPU,
  openSessions,
  runOnnxRuntime,
  runOnnxRuntimeMaxima,
  runtimeThreads,
  type Values,
} from '../../src/main/engine/executors/onnxRuntime'
import { listImageFolder } from '../../src/main/engine/images/imageFolder'
import { OUTPUT, type LoadedModel } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { defaultOpset, withGraphOutputs, withSpatialMaxima, type MapMaxima } from '../../src/main/engine/models/onnx/addOutputs'
import { ModelProtoType } from '../../src/main/engine/models/onnx/proto'
import { readManifest, topkFiles } from '../../src/main/engine/scan/manifest'
import { runScan, type ScanOptions } from '../../src/main/engine/scan/runScan'
import { describeScanLayer } from '../../src/main/engine/scan/scanLayer'
import { spatialMaxOf, type SpatialMax } from '../../src/main/engine/scan/spatialMax'
import { readNpy } from '../../src/main/engine/store/npy'
import { defaultScanLayers } from '../../src/shared/scanLayers'
import { makeTinyCnn } from '../fixtures/models'
import { makeFakeModel } from './fakeModel'
import { assertExecutorsAgree } from '../helpers/executorCompare'
import { buildOnnxModel } from '../helpers/onnxBuilder'
import { exportTorchvision, relativeError, torchvisionSkipReason, TORCHVISION_CACHE } from '../helpers/torchvisionReference'

const ROOT = join(import.meta.dirname, '../..')
const TINY = join(ROOT, 'test/fixtures/onnx/tiny_cnn.onnx')
const PORTS = join(ROOT, 'test/.cache/demo-onnx')
const skip = torchvisionSkipReason()

let scratch = ''
let images: string[] = []

before(async () => {
  await initBackend({ forced: 'wasm' })
  scratch = await mkdtemp(join(tmpdir(), 'convscope-ort-scan-'))
  await generateDemoDataset({ out: join(scratch, 'demo'), count: { train: 0, val: 2 }, size: 128, seed: 3 })
  images = (await listImageFolder(join(scratch, 'demo', 'val'))).images.map((i) => i.path)
  if (skip) return
  if (!existsSync(join(PORTS, 'gap', 'model.onnx'))) {
    const run = spawnSync('/usr/bin/python3', [join(ROOT, 'scripts/onnx/portDemoModels.py'), '--out', PORTS], { encoding: 'utf8' })
    if (run.status !== 0) throw new Error(`portDemoModels.py failed: ${run.stderr}`)
  }
})

/** Two finished scans in `scratch` found the same top-K images and positions, values to 1e-4 relative. */
async function assertSameTopK(a: string, b: string, layers: readonly { name: string; file: string }[]): Promise<void> {
  for (const l of layers) {
    const f = topkFiles(l.file)
    const read = (dir: string, file: string) => readNpy(join(scratch, dir, file)).then((n) => Array.from(n.data as ArrayLike<number>))
    assert.deepEqual(await read(a, f.images), await read(b, f.images), `${l.name}: top-K images`)
    assert.deepEqual(await read(a, f.yx), await read(b, f.yx), `${l.name}: top-K positions`)
    const err = relativeError(await read(a, f.values), await read(b, f.values))
    assert.ok(err <= 1e-4, `${l.name}: top-K values relative error ${err}`)
  }
}
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

/** Seeded values in [-2, 2): an NHWC batch. */
function randomBatch(shape: [number, number, number, number], seed: number): Float32Array {
  return tf.tidy(() => tf.randomUniform(shape, -2, 2, 'float32', seed).dataSync() as Float32Array)
}

/** A seeded batch whose last image is one colour: equal values at many places of every map (ties for argmax). */
function batchWithTies(shape: [number, number, number, number], seed: number): Float32Array {
  const data = randomBatch(shape, seed)
  const [, h, w, c] = shape
  const last = data.subarray(data.length - h * w * c)
  for (let p = 0; p < h * w; p++) last.set([0.5, -0.25, 1].slice(0, c), p * c)
  return data
}

/** Per unit whose max occurs at several places: how many such units there are (ties that argmax must break). */
function tiesOf(data: Float32Array, n: number, positions: number, units: number, ref: SpatialMax): number {
  let ties = 0
  for (let b = 0; b < n; b++)
    for (let u = 0; u < units; u++) {
      let count = 0
      for (let p = 0; p < positions; p++) if (data[(b * positions + p) * units + u] === ref.max[b * units + u]) count++
      if (count > 1) ties++
    }
  return ties
}

/** The graph's maxima equal spatialMaxOf on the NHWC maps `full` (same batch), exactly; returns the ties seen. */
function assertSameMaxima(name: string, got: SpatialMax, full: Values): number {
  const n = full.shape[0]!
  const units = full.shape.at(-1)!
  const positions = full.data.length / (n * units)
  const ref = spatialMaxOf(full.data, n, positions, units)
  assert.deepEqual(got.max, ref.max, `${name}: max`)
  assert.deepEqual(got.arg, ref.arg, `${name}: argmax`)
  return tiesOf(full.data, n, positions, units, ref)
}

/** Layers a scan can take ([h, w, c] or [units]), as scans describe them. */
const scanLayersOf = (model: LoadedModel) => model.info.layers.filter((l) => l.outputShape.length === 3 || l.outputShape.length === 1).map((l) => describeScanLayer(model, l.name))

/** Every scan layer's maxima reduced in the onnxruntime graph vs spatialMaxOf on its full maps; returns the ties. */
async function compareMaxima(model: LoadedModel, shape: [number, number, number, number]): Promise<number> {
  const layers = scanLayersOf(model)
  const data = batchWithTies(shape, 7)
  const full = await runOnnxRuntime(model, { data, shape }, layers.map((l) => l.name))
  const maxima = await runOnnxRuntimeMaxima(model, { data, shape }, layers)
  return layers.reduce((ties, l, i) => ties + assertSameMaxima(l.name, maxima[i]!, full.layers[i]!), 0)
}

/** Every layer (and the output) on onnxruntime vs the tfjs forward, to 1e-4 relative; returns the worst. */
const compareLayers = (model: LoadedModel, shape: [number, number, number, number]) =>
  assertExecutorsAgree(model, randomBatch(shape, 7), shape, model.info.layers.map((l) => l.name))

test('every layer of the tiny fixture: onnxruntime equals tfjs, graph maxima equal JS maxima; dispose releases the sessions', async () => {
  const model = await loadModel(TINY)
  const [h, w, c] = model.info.inputShape
  const worst = await compareLayers(model, [3, h, w, c])
  await runOnnxRuntime(model, { data: randomBatch([1, h, w, c], 1), shape: [1, h, w, c] }, [model.info.layers[1]!.name])
  assert.equal(openSessions(model), 2, 'one session per set of requested layers')
  await runOnnxRuntime(model, { data: randomBatch([2, h, w, c], 2), shape: [2, h, w, c] }, [model.info.layers[1]!.name])
  assert.equal(openSessions(model), 2, 'the same set reuses its session')
  const ties = await compareMaxima(model, [3, h, w, c])
  console.log(`tiny_cnn: ${model.info.layers.length} layers, worst relative error ${worst.toExponential(2)}; graph maxima = JS maxima, ${ties} tied units`)
  assert.ok(ties > 0, 'the one-colour image gives ties')
  // Every layer of the fixture is a scan layer: their maps came from compareLayers' session, their maxima from a new one.
  assert.equal(openSessions(model), 3, 'one more session: the scan layers\' maxima')
  await compareMaxima(model, [1, h, w, c])
  assert.equal(openSessions(model), 3, 'the same scan layers reuse their sessions')
  model.dispose()
  assert.equal(openSessions(model), 0)
  await assert.rejects(runOnnxRuntime(model, { data: randomBatch([1, h, w, c], 1), shape: [1, h, w, c] }, [OUTPUT]), /disposed/)
})

test('a model with a fixed batch of 1 runs image by image, as the tfjs executor does', async () => {
  // The tiny fixture with its symbolic batch dimension made 1 (decoded and re-encoded: it is a few kB).
  const proto = ModelProtoType.toObject(ModelProtoType.decode(await readFile(TINY))) as { graph: { input: { type: { tensor_type: { shape: { dim: object[] } } } }[] } }
  proto.graph.input[0]!.type.tensor_type.shape.dim[0] = { dim_value: 1 }
  await mkdir(join(scratch, 'batch1'))
  await writeFile(join(scratch, 'batch1', 'model.onnx'), ModelProtoType.encode(ModelProtoType.fromObject(proto)).finish())
  const model = await loadModel(join(scratch, 'batch1'))
  try {
    assert.equal(model.runtimeSource?.input.batch, 1)
    const [h, w, c] = model.info.inputShape
    await compareLayers(model, [3, h, w, c])
  } finally {
    model.dispose()
  }
})

test('the executor: onnxruntime for ONNX models and TF.js models written as ONNX, tfjs for a model without an ONNX form or when forced', async () => {
  const onnx = await loadModel(TINY)
  await makeTinyCnn(join(scratch, 'tiny-tfjs'))
  const tfjsModel = await loadModel(join(scratch, 'tiny-tfjs'))
  const fake = makeFakeModel()
  try {
    assert.equal(forwardExecutor(onnx, 'auto'), ONNX_RUNTIME_CPU)
    assert.equal(forwardExecutor(onnx, 'tfjs'), 'tfjs-wasm')
    // TF.js models are written as ONNX (executors/toOnnx, test/unit/toOnnx.test.ts).
    assert.equal(forwardExecutor(tfjsModel, 'auto'), ONNX_RUNTIME_CPU)
    assert.equal(forwardExecutor(tfjsModel, 'tfjs'), 'tfjs-wasm')
    assert.equal(forwardExecutor(fake.model, 'auto'), 'tfjs-wasm')
    assert.throws(() => forwardExecutor(fake.model, 'onnxruntime'), /no ONNX form/)
    assert.equal(executorChoice(''), 'auto')
    assert.equal(executorChoice('tfjs'), 'tfjs')
    assert.throws(() => executorChoice('gpu'), /CONVSCOPE_EXECUTOR is "gpu"/)
    // Scan workers (scan/workers.ts) set OMP_NUM_THREADS=1: one compute thread per worker process.
    assert.equal(runtimeThreads({ OMP_NUM_THREADS: '1' }), 1)
    assert.equal(runtimeThreads({}), availableParallelism())
  } finally {
    onnx.dispose()
    tfjsModel.dispose()
    fake.model.dispose()
  }
})

test('every layer of torchvision resnet18 at 112²: onnxruntime equals tfjs; at 224² graph maxima equal JS maxima', { skip }, async () => {
  exportTorchvision(['resnet18'])
  const model = await loadModel(join(TORCHVISION_CACHE, 'resnet18'))
  try {
    const worst = await compareLayers(model, [2, 112, 112, 3])
    const ties = await compareMaxima(model, [2, ...model.info.inputShape]) // scan layers have the model's grid (224²)
    console.log(`resnet18: ${model.info.layers.length} layers, worst relative error ${worst.toExponential(2)}; graph maxima = JS maxima, ${ties} tied units`)
    assert.ok(ties > 0, 'the one-colour image gives ties')
  } finally {
    model.dispose()
  }
})

test('a scan of the ONNX demo port: the same top-K on onnxruntime and tfjs; no resume across executors', { skip }, async () => {
  const model = await loadModel(join(PORTS, 'gap'))
  try {
    const layers = defaultScanLayers(model.info)
    const scan = (out: string, extra: Partial<ScanOptions>) => runScan({ model, images, layers, k: 5, batchSize: 8, out: join(scratch, out), checkpointMs: 1e9, ...extra })
    const [a, b] = [await scan('ort', { executor: 'auto' }), await scan('tfjs', { executor: 'tfjs' })]
    assert.equal(a.executor, ONNX_RUNTIME_CPU)
    assert.equal(b.executor, 'tfjs-wasm')
    assert.equal((await readManifest(join(scratch, 'ort'))).executor, ONNX_RUNTIME_CPU)
    await assertSameTopK('ort', 'tfjs', a.layers)
    console.log(`demo gap port: ${images.length} images, ${layers.length} layers, identical top-5 on both executors`)

    // A scan cancelled on tfjs is not continued on onnxruntime (nor reused when finished).
    const abort = new AbortController()
    await assert.rejects(scan('cut', { executor: 'tfjs', signal: abort.signal, onProgress: (p) => p.done >= 8 && abort.abort() }), /cancelled/)
    await assert.rejects(scan('cut', { executor: 'auto' }), /unfinished scan made with the executor tfjs-wasm, not onnxruntime-cpu/)
    await assert.rejects(scan('tfjs', { executor: 'auto' }), /made with the executor tfjs-wasm/)
    assert.equal((await scan('cut', { executor: 'tfjs' })).timing.resumed, true)
  } finally {
    model.dispose()
  }
})

/** One run of `bytes` with the maps as graph outputs and their maxima reduced in the graph: both, per map. */
async function runWithMaxima(bytes: Uint8Array, maps: readonly MapMaxima[], feeds: Record<string, ort.Tensor>) {
  const added = withSpatialMaxima(bytes, maps, maps.map((m) => m.tensor))
  const session = await ort.InferenceSession.create(added.bytes)
  try {
    const out = await session.run(feeds)
    return maps.map((m, i) => ({ full: out[m.tensor]!, max: out[added.maxima[i]!.max]!, arg: out[added.maxima[i]!.arg]! }))
  } finally {
    await session.release()
  }
}

const asSpatialMax = (r: { max: ort.Tensor; arg: ort.Tensor }): SpatialMax => ({ max: r.max.data as Float32Array, arg: Int32Array.from(r.arg.data as BigInt64Array, Number) })

test('maxima nodes at opsets 8, 13 and 22 (ReduceMax axes as attribute and as input) equal the JS reduction', async () => {
  // The fixtures take NCHW: a random image and a one-colour one (each channel's plane constant).
  const nchw = randomBatch([2, 3, 16, 16], 5)
  for (let k = 0; k < 3; k++) nchw.fill(k - 0.5, (3 + k) * 256, (4 + k) * 256)
  for (const [file, opset] of [['opset8', 8], ['tiny_cnn', 13], ['opset22', 22]] as const) {
    const bytes = new Uint8Array(await readFile(join(ROOT, 'test/fixtures/onnx', `${file}.onnx`)))
    assert.equal(defaultOpset(bytes), opset)
    const input = new ort.Tensor('float32', nchw, [2, 3, 16, 16])
    const probe = await ort.InferenceSession.create(withGraphOutputs(bytes, ['r1', 'c2']))
    const dims = Object.fromEntries(Object.entries(await probe.run({ input }, ['r1', 'c2'])).map(([k, t]) => [k, t.dims]))
    await probe.release()
    const maps = (['r1', 'c2'] as const).map((tensor): MapMaxima => ({ tensor, layout: 'nchw', units: dims[tensor]![1]!, positions: dims[tensor]![2]! * dims[tensor]![3]! }))
    let ties = 0
    for (const [i, r] of (await runWithMaxima(bytes, maps, { input })).entries()) {
      const full = { data: moveChannelAxis(r.full.data as Float32Array, r.full.dims), shape: [...r.full.dims] }
      ties += assertSameMaxima(`${file} ${maps[i]!.tensor}`, asSpatialMax(r), { data: full.data, shape: [full.shape[0]!, full.shape[2]!, full.shape[3]!, full.shape[1]!] })
    }
    assert.ok(ties > 0, `${file}: ties`)
  }
})

test('maxima nodes on an NHWC map; added names never clash with the model\'s', async () => {
  // y = Relu(x) on an NHWC input, its tensor named as the first added output would be without the check.
  const y = 'convscope_spatial_max/0/max'
  const bytes = buildOnnxModel({ opset: 18, inputs: [{ name: 'x', dims: ['n', 5, 6, 4] }], outputs: [{ name: y }], nodes: [{ opType: 'Relu', inputs: ['x'], outputs: [y] }] })
  const shape: [number, number, number, number] = [3, 5, 6, 4]
  const data = batchWithTies(shape, 9)
  const [r] = await runWithMaxima(bytes, [{ tensor: y, layout: 'nhwc', units: 4, positions: 30 }], { x: new ort.Tensor('float32', data, shape) })
  assert.deepEqual(r!.full.data, data.map((v) => Math.max(v, 0)))
  assert.ok(assertSameMaxima('relu', asSpatialMax(r!), { data: r!.full.data as Float32Array, shape }) > 0)
})

test('a fixed batch of 1 and an image batch: maxima image by image, concatenated in scan order', async () => {
  const proto = ModelProtoType.toObject(ModelProtoType.decode(await readFile(TINY))) as { graph: { input: { type: { tensor_type: { shape: { dim: object[] } } } }[] } }
  proto.graph.input[0]!.type.tensor_type.shape.dim[0] = { dim_value: 1 }
  await mkdir(join(scratch, 'batch1-maxima'))
  await writeFile(join(scratch, 'batch1-maxima', 'model.onnx'), ModelProtoType.encode(ModelProtoType.fromObject(proto)).finish())
  const [fixed, dynamic] = [await loadModel(join(scratch, 'batch1-maxima')), await loadModel(TINY)]
  try {
    const [h, w, c] = dynamic.info.inputShape
    const shape: [number, number, number, number] = [3, h, w, c]
    const data = batchWithTies(shape, 11)
    const layers = scanLayersOf(dynamic)
    const images = [0, 1, 2].map((i) => data.slice(i * h * w * c, (i + 1) * h * w * c))
    const whole = await runOnnxRuntimeMaxima(dynamic, { data, shape }, layers)
    assert.deepEqual(await runOnnxRuntimeMaxima(dynamic, imageBatch(images, [h, w, c]), layers), whole)
    assert.deepEqual(await runOnnxRuntimeMaxima(fixed, imageBatch(images, [h, w, c]), layers), whole)
    assert.throws(() => imageBatch([images[0]!, images[1]!.subarray(1)], [h, w, c]), /differ in size/)
  } finally {
    fixed.dispose()
    dynamic.dispose()
  }
})

test('a TF.js model written as ONNX (demo gap, NHWC maps): graph maxima equal JS maxima; its scan finds tfjs\'s top-K', async () => {
  const model = await loadModel(join(ROOT, 'resources/demo-models/gap'))
  try {
    assert.equal(model.runtimeSource?.input.layout, 'nhwc')
    const ties = await compareMaxima(model, [4, ...model.info.inputShape])
    const layers = defaultScanLayers(model.info)
    const scan = (out: string, executor: ScanOptions['executor']) => runScan({ model, images, layers, k: 5, batchSize: 8, out: join(scratch, out), checkpointMs: 1e9, executor })
    const [a, b] = [await scan('tfjs-gap-ort', 'onnxruntime'), await scan('tfjs-gap-tfjs', 'tfjs')]
    assert.deepEqual([a.executor, b.executor], [ONNX_RUNTIME_CPU, 'tfjs-wasm'])
    await assertSameTopK('tfjs-gap-ort', 'tfjs-gap-tfjs', a.layers)
    console.log(`demo gap (TF.js): ${layers.length} layers, graph maxima = JS maxima (${ties} tied units), identical top-5 over ${images.length} images`)
  } finally {
    model.dispose()
  }
})
