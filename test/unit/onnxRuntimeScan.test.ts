/**
 * ONNX models' forward-only scan work on onnxruntime-node (issue 11, first slice: executors/onnxRuntime.ts)
 * gives the tfjs executor's results:
 * - every layer of the tiny fixture (also exported with a fixed batch of 1: run image by image) and of
 *   torchvision's resnet18 (112², batch 2) to 1e-4 relative;
 * - a scan of the ONNX port of the demo `gap` network over demo images: the same top-K images and positions on
 *   both executors, values to 1e-4; the manifest names its executor;
 * - a checkpoint of one executor is not resumed on the other; dispose releases the sessions.
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
import { executorChoice, forwardExecutor, ONNX_RUNTIME_CPU, openSessions, runOnnxRuntime, runtimeThreads } from '../../src/main/engine/executors/onnxRuntime'
import { listImageFolder } from '../../src/main/engine/images/imageFolder'
import { OUTPUT, type LoadedModel } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { ModelProtoType } from '../../src/main/engine/models/onnx/proto'
import { readManifest, topkFiles } from '../../src/main/engine/scan/manifest'
import { runScan, type ScanOptions } from '../../src/main/engine/scan/runScan'
import { readNpy } from '../../src/main/engine/store/npy'
import { defaultScanLayers } from '../../src/shared/scanLayers'
import { makeTinyCnn } from '../fixtures/models'
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
  if (skip) return
  if (!existsSync(join(PORTS, 'gap', 'model.onnx'))) {
    const run = spawnSync('/usr/bin/python3', [join(ROOT, 'scripts/onnx/portDemoModels.py'), '--out', PORTS], { encoding: 'utf8' })
    if (run.status !== 0) throw new Error(`portDemoModels.py failed: ${run.stderr}`)
  }
  await generateDemoDataset({ out: join(scratch, 'demo'), count: { train: 0, val: 2 }, size: 128, seed: 3 })
  images = (await listImageFolder(join(scratch, 'demo', 'val'))).images.map((i) => i.path)
})
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

/** Seeded values in [-2, 2): an NHWC batch. */
function randomBatch(shape: [number, number, number, number], seed: number): Float32Array {
  return tf.tidy(() => tf.randomUniform(shape, -2, 2, 'float32', seed).dataSync() as Float32Array)
}

/** Every layer (and the output) on onnxruntime vs the tfjs forward, to 1e-4 relative; returns the worst. */
async function compareLayers(model: LoadedModel, shape: [number, number, number, number]): Promise<number> {
  const names = [...model.info.layers.map((l) => l.name), OUTPUT]
  const data = randomBatch(shape, 7)
  const ort = await runOnnxRuntime(model, { data, shape }, names)
  const x = tf.tensor4d(data, shape)
  const outs = model.forward(x, names)
  let worst = 0
  try {
    for (const [i, name] of names.entries()) {
      assert.deepEqual(ort.layers[i]!.shape, outs[i]!.shape, `${name}: shape`)
      const err = relativeError(ort.layers[i]!.data, outs[i]!.dataSync())
      assert.ok(err <= 1e-4, `${name}: relative error ${err}`)
      worst = Math.max(worst, err)
    }
    assert.deepEqual(ort.output.data, ort.layers.at(-1)!.data)
  } finally {
    tf.dispose([x, ...outs])
  }
  return worst
}

test('every layer of the tiny fixture: onnxruntime equals tfjs; dispose releases the sessions', async () => {
  const model = await loadModel(TINY)
  const [h, w, c] = model.info.inputShape
  const worst = await compareLayers(model, [3, h, w, c])
  console.log(`tiny_cnn: ${model.info.layers.length} layers, worst relative error ${worst.toExponential(2)}`)
  await runOnnxRuntime(model, { data: randomBatch([1, h, w, c], 1), shape: [1, h, w, c] }, [model.info.layers[1]!.name])
  assert.equal(openSessions(model), 2, 'one session per set of requested layers')
  await runOnnxRuntime(model, { data: randomBatch([2, h, w, c], 2), shape: [2, h, w, c] }, [model.info.layers[1]!.name])
  assert.equal(openSessions(model), 2, 'the same set reuses its session')
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

test('the executor: onnxruntime for ONNX models, tfjs for the others or when forced', async () => {
  const onnx = await loadModel(TINY)
  await makeTinyCnn(join(scratch, 'tiny-tfjs'))
  const tfjsModel = await loadModel(join(scratch, 'tiny-tfjs'))
  try {
    assert.equal(forwardExecutor(onnx, 'auto'), ONNX_RUNTIME_CPU)
    assert.equal(forwardExecutor(onnx, 'tfjs'), 'tfjs-wasm')
    assert.equal(forwardExecutor(tfjsModel, 'auto'), 'tfjs-wasm')
    assert.throws(() => forwardExecutor(tfjsModel, 'onnxruntime'), /no ONNX form/)
    assert.equal(executorChoice(''), 'auto')
    assert.equal(executorChoice('tfjs'), 'tfjs')
    assert.throws(() => executorChoice('gpu'), /CONVSCOPE_EXECUTOR is "gpu"/)
    // Scan workers (scan/workers.ts) set OMP_NUM_THREADS=1: one compute thread per worker process.
    assert.equal(runtimeThreads({ OMP_NUM_THREADS: '1' }), 1)
    assert.equal(runtimeThreads({}), availableParallelism())
  } finally {
    onnx.dispose()
    tfjsModel.dispose()
  }
})

test('every layer of torchvision resnet18 at 112²: onnxruntime equals tfjs', { skip }, async () => {
  exportTorchvision(['resnet18'])
  const model = await loadModel(join(TORCHVISION_CACHE, 'resnet18'))
  try {
    const worst = await compareLayers(model, [2, 112, 112, 3])
    console.log(`resnet18: ${model.info.layers.length} layers, worst relative error ${worst.toExponential(2)}`)
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
    for (const l of a.layers) {
      const f = topkFiles(l.file)
      const read = (dir: string, file: string) => readNpy(join(scratch, dir, file)).then((n) => Array.from(n.data as ArrayLike<number>))
      assert.deepEqual(await read('ort', f.images), await read('tfjs', f.images), `${l.name}: top-K images`)
      assert.deepEqual(await read('ort', f.yx), await read('tfjs', f.yx), `${l.name}: top-K positions`)
      const err = relativeError(await read('ort', f.values), await read('tfjs', f.values))
      assert.ok(err <= 1e-4, `${l.name}: top-K values relative error ${err}`)
    }
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
