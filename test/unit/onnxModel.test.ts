/**
 * ONNX models as LoadedModels (src/main/engine/models/onnxModel.ts): NHWC outside, NCHW inside. Numbers come from
 * onnxruntime-node on the same file, from the weights written by scripts/onnx/makeFixtures.py
 * (test/fixtures/onnx/expected.json), or by hand; the id from sha256 over the files, computed here.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import * as tf from '@tensorflow/tfjs'
import * as ort from 'onnxruntime-node'
import { type ModelInfo, parseResult } from '../../src/shared/api'
import type { ConvscopeError } from '../../src/shared/api/errors'
import { noopContext } from '../../src/main/engine/context'
import { createEngine, type EngineService } from '../../src/main/engine/engine'
import { type LoadedModel, OUTPUT } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { modelName } from '../../src/main/engine/models/onnxModel'
import { buildOnnxModel, writeOnnxModel } from '../helpers/onnxBuilder'
import { SCOPED_LAYERS, SCOPED_WEIGHTS, scopedNet, seeded } from '../helpers/scopedOnnxNet'

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'onnx')
type Expected = Record<string, Record<string, { dims: number[]; values: number[] }>>
const all = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as Expected
const expected = all.tiny_cnn!

/** makeFixtures.py's conv_net with the given weights inline. */
function tinyCnnSpec(w: Expected[string]) {
  const init = (name: string, dtype?: 'int64') => ({ name, dims: w[name]!.dims, values: w[name]!.values, ...(dtype ? { dtype } : {}) })
  return {
    opset: 13,
    inputs: [{ name: 'input', dims: ['batch', 3, 'height', 'width'] }],
    outputs: [{ name: 'logits' }],
    initializers: [init('conv1.weight'), init('conv1.bias'), init('conv2.weight'), init('fc.weight'), init('fc.bias'), init('flat_shape', 'int64')],
    nodes: [
      { opType: 'Conv', inputs: ['input', 'conv1.weight', 'conv1.bias'], outputs: ['c1'], attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] } },
      { opType: 'Relu', inputs: ['c1'], outputs: ['r1'] },
      { opType: 'Conv', inputs: ['r1', 'conv2.weight'], outputs: ['c2'], attributes: { kernel_shape: [3, 3], pads: [0, 1, 2, 1], group: 4 } },
      { opType: 'GlobalAveragePool', inputs: ['c2'], outputs: ['gap'] },
      { opType: 'Reshape', inputs: ['gap', 'flat_shape'], outputs: ['flat'] },
      { opType: 'Gemm', inputs: ['flat', 'fc.weight', 'fc.bias'], outputs: ['logits'], attributes: { transB: 1 } },
    ],
  }
}

let dir: string
let tiny: LoadedModel
let scoped: LoadedModel
const INNER = ['/relu/Relu_output_0', '/layer1/layer1.0/Add_output_0', '/norm/Div_output_0', '/pool/GlobalAveragePool_output_0']

/** NHWC input of `n` seeded images h×w×3, and the same values NCHW for onnxruntime. */
function images(n: number, h: number, w: number, seed = 5): { nhwc: tf.Tensor4D; nchw: Float32Array } {
  const nchw = seeded(n * 3 * h * w, seed)
  return { nhwc: tf.tidy(() => tf.transpose(tf.tensor4d(nchw, [n, 3, h, w]), [0, 2, 3, 1]) as tf.Tensor4D), nchw }
}

async function ortRun(bytes: Uint8Array, input: string, x: Float32Array, dims: number[]): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(bytes)
  return session.run({ [input]: new ort.Tensor('float32', x, dims) })
}

/** An onnxruntime NCHW result as NHWC values (4-D) or as is. */
function nhwc(t: ort.Tensor): Float32Array {
  const data = t.data as Float32Array
  if (t.dims.length !== 4) return data
  return tf.tidy(() => tf.transpose(tf.tensor(data, t.dims as number[]), [0, 2, 3, 1]).dataSync() as Float32Array)
}

function close(actual: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-4): void {
  assert.equal(actual.length, want.length)
  const scale = Math.max(1, ...Array.from(want, Math.abs))
  for (let i = 0; i < actual.length; i++) assert.ok(Math.abs(actual[i]! - want[i]!) <= tol * scale, `element ${i}: ${actual[i]} vs ${want[i]}`)
}

const sha16 = (...files: string[]) => {
  const h = createHash('sha256')
  for (const f of files) h.update(fs.readFileSync(f))
  return h.digest('hex').slice(0, 16)
}

before(async () => {
  await tf.setBackend('cpu')
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convscope-onnx-model-'))
  tiny = await loadModel(path.join(FIXTURES, 'tiny_cnn.onnx'))
  const folder = path.join(dir, 'scoped-net')
  fs.mkdirSync(folder)
  writeOnnxModel(path.join(folder, 'net.onnx'), scopedNet())
  fs.writeFileSync(path.join(folder, 'convscope.json'), JSON.stringify({ inputSize: [8, 8] }))
  scoped = await loadModel(folder)
})
after(() => {
  tiny.dispose()
  scoped.dispose()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('an .onnx file opens as a model: format, content-hash id, name, dir, input [h, w, c], layer table', () => {
  const file = path.join(FIXTURES, 'tiny_cnn.onnx')
  const info = tiny.info
  assert.deepEqual([info.format, info.id, info.name, info.dir], ['onnx', sha16(file), 'tiny_cnn', file])
  assert.deepEqual(info.inputShape, [224, 224, 3]) // dynamic h / w, no sidecar: the default size
  assert.deepEqual(
    info.layers.map((l) => [l.name, l.kind, l.outputShape.join('×'), l.params]),
    [['input', 'input', '224×224×3', 0], ['conv1', 'conv', '112×112×4', 112], ['relu1', 'activation', '112×112×4', 0], ['conv2', 'depthwise', '112×112×4', 36], ['gap', 'global-pool', '1×1×4', 0], ['flatten', 'reshape', '4', 0], ['fc', 'dense', '3', 15]],
  )
  assert.equal(info.totalParams, 112 + 36 + 15)
  // conv2's asymmetric pads [top 0, left 1, bottom 2, right 1] move its field's start by (1 - 0)·2 down, (1 - 1)·2 across.
  assert.deepEqual(info.layers[3]!.receptiveField, { size: [7, 7], jump: [2, 2], start: [2, 0], exact: true })
})

test('a folder with one .onnx opens too: named after the folder, sidecar read beside the file', () => {
  assert.deepEqual([scoped.info.format, scoped.info.name, scoped.info.inputShape], ['onnx', 'scoped-net', [8, 8, 3]])
  assert.deepEqual(scoped.info.layers.map((l) => l.name), SCOPED_LAYERS)
  assert.equal(scoped.info.preprocessingDefaulted, false)
})

test('forward takes NHWC and gives NHWC layers equal to onnxruntime (layers, OUTPUT, node names, tensor names)', async () => {
  const { nhwc: x, nchw } = images(2, 8, 8)
  const ref = await ortRun(buildOnnxModel(scopedNet({ extraOutputs: INNER })), 'x', nchw, [2, 3, 8, 8])
  const outs = scoped.forward(x, ['relu', 'layer1.0.add', 'norm', 'pool', 'fc', OUTPUT, '/layer1/layer1.0/Add', '/norm/Div_output_0'])
  assert.deepEqual(outs.map((t) => t.shape), [[2, 4, 4, 4], [2, 4, 4, 4], [2, 4, 4, 4], [2, 1, 1, 4], [2, 2], [2, 2], [2, 4, 4, 4], [2, 4, 4, 4]])
  const want = [...INNER, 'logits', 'logits', INNER[1]!, INNER[2]!].map((n) => nhwc(ref[n]!))
  outs.forEach((t, i) => close(t.dataSync(), want[i]!))
  tf.dispose([...outs, x])
})

test('the tiny_cnn fixture equals onnxruntime at any input size (dynamic height / width)', async () => {
  const { nhwc: x, nchw } = images(3, 20, 12, 9)
  const ref = await ortRun(fs.readFileSync(path.join(FIXTURES, 'tiny_cnn.onnx')), 'input', nchw, [3, 3, 20, 12])
  const [logits] = tiny.forward(x, [OUTPUT])
  close(logits!.dataSync(), ref.logits!.data as Float32Array)
  tf.dispose([logits!, x])
})

test('kernel() is [kh, kw, in, out] (depthwise [kh, kw, C, k]); linearWeights() gives Gemm [in, out] + bias and conv kernels', () => {
  const w1 = expected['conv1.weight']!.values // [4, 3, 3, 3]
  const k1 = tiny.kernel('conv1')!
  assert.deepEqual(k1.shape, [3, 3, 3, 4])
  const a1 = k1.arraySync()
  for (const [o, i, y, x] of [[0, 0, 0, 0], [3, 2, 1, 2], [1, 2, 2, 0]] as const) assert.equal(a1[y][x][i][o], w1[((o * 3 + i) * 3 + y) * 3 + x])
  const k2 = tiny.kernel('conv2')!
  assert.deepEqual(k2.shape, [3, 3, 4, 1])
  assert.equal(k2.arraySync()[2][1][3][0], expected['conv2.weight']!.values[3 * 9 + 2 * 3 + 1])
  assert.equal(tiny.kernel('fc'), null)
  assert.equal(tiny.kernel('conv1'), k1, 'cached')

  const fc = tiny.linearWeights!('fc')!
  assert.deepEqual(fc.kernel.shape, [4, 3])
  const wfc = expected['fc.weight']!.values // [3, 4], transB
  close(fc.kernel.dataSync(), Float32Array.from({ length: 12 }, (_, k) => wfc[(k % 3) * 4 + Math.floor(k / 3)]!), 0)
  close(fc.bias!.dataSync(), expected['fc.bias']!.values, 0)
  const conv = tiny.linearWeights!('conv1')!
  close(conv.kernel.dataSync(), k1.dataSync(), 0)
  close(conv.bias!.dataSync(), expected['conv1.bias']!.values, 1e-7)
  assert.equal(tiny.linearWeights!('conv2'), null, 'depthwise is not a linear layer of the head')
  assert.equal(tiny.linearWeights!('relu1'), null)
})

test('replace: later layers read the given value, skip paths the real input; inside tf.grad for Grad-CAM', () => {
  const { nhwc: x } = images(2, 8, 8)
  // The block's conv replaced by zeros: the residual Add is the downsample branch, computed from the real input.
  const [add, ds] = scoped.forward(x, ['layer1.0.add', 'layer1.0.downsample.0'], { replace: { layer: 'layer1.0.conv1', value: tf.zeros([2, 4, 4, 4]) } })
  close(add!.dataSync(), ds!.dataSync(), 1e-6)
  // d(sum of logits)/d(pool) through reshape and fc: the column sums of fc.weight, at every image (NHWC [n, 1, 1, 4]).
  const pool = tf.tidy(() => scoped.forward(x, ['pool'])[0]!)
  const g = tf.grad((p: tf.Tensor) => tf.sum(scoped.forward(x, [OUTPUT], { replace: { layer: 'pool', value: p } })[0]!))(pool)
  const w = SCOPED_WEIGHTS.fcW
  assert.deepEqual(g.shape, [2, 1, 1, 4])
  close(g.dataSync(), Float32Array.from({ length: 8 }, (_, i) => w[i % 4]! + w[4 + (i % 4)]!))
  assert.throws(() => scoped.forward(x, ['fc'], { replace: { layer: 'relu', value: tf.zeros([2, 4, 4, 5]) } }), (e: ConvscopeError) => e.code === 'BAD_REQUEST' && /\[n, 4, 4, 4\]/.test(e.message))
  tf.dispose([add!, ds!, pool, g, x])
})

test('a model fixed to batch 1 runs a batch image by image', async () => {
  const file = writeOnnxModel(path.join(dir, 'batch1.onnx'), scopedNet({ inputDims: [1, 3, 8, 8] }))
  const model = await loadModel(file)
  const { nhwc: x, nchw } = images(3, 8, 8, 21)
  const [logits] = model.forward(x, [OUTPUT])
  const bytes = fs.readFileSync(file)
  const per = await Promise.all([0, 1, 2].map((i) => ortRun(bytes, 'x', nchw.slice(i * 192, (i + 1) * 192), [1, 3, 8, 8])))
  close(logits!.dataSync(), Float32Array.from(per.flatMap((r) => Array.from(r.logits!.data as Float32Array))))
  tf.dispose([logits!, x])
  model.dispose()
})

test('external data: the id hashes the .onnx and its data file; the numbers are onnxruntime\'s', async () => {
  const folder = path.join(FIXTURES, 'external')
  const model = await loadModel(folder)
  assert.equal(model.info.id, sha16(path.join(folder, 'model.onnx'), path.join(folder, 'weights.bin')))
  assert.equal(model.info.name, 'external')
  const { nhwc: x, nchw } = images(1, 16, 16)
  const [logits] = model.forward(x, [OUTPUT])
  // onnxruntime cannot take the shape tensor from external data: it runs the same net with the weights inline.
  const ref = await ortRun(buildOnnxModel(tinyCnnSpec(all.external!)), 'input', nchw, [1, 3, 16, 16])
  close(logits!.dataSync(), ref.logits!.data as Float32Array)
  tf.dispose([logits!, x])
  model.dispose()
})

test('unknown names are BAD_REQUEST naming similar layers; opening and disposing leaves no tensor behind', async () => {
  const { nhwc: x } = images(1, 8, 8)
  assert.throws(() => scoped.forward(x, ['layer1.0.relu']), (e: ConvscopeError) => e.code === 'BAD_REQUEST' && /layer1\.0\.relu_1/.test(e.message))
  x.dispose()
  const before = tf.memory().numTensors
  const model = await loadModel(path.join(FIXTURES, 'tiny_cnn.onnx'))
  model.kernel('conv1')
  model.linearWeights!('fc')
  model.dispose()
  assert.equal(tf.memory().numTensors, before)
})

test('openModel takes an .onnx file; a fresh engine on the same workspace reopens it by id from the recent list', async () => {
  const workspace = path.join(dir, 'workspace')
  const file = path.join(FIXTURES, 'tiny_cnn.onnx')
  const call = (e: EngineService, method: Parameters<EngineService['handle']>[0], params: unknown) => e.handle(method, params, noopContext())
  const first = createEngine({ workspace, backend: 'cpu' })
  await first.init()
  const info = parseResult('openModel', await call(first, 'openModel', { path: file })) as ModelInfo
  first.dispose()
  const second = createEngine({ workspace, backend: 'cpu' })
  await second.init()
  try {
    const recent = parseResult('listRecentModels', await call(second, 'listRecentModels', {}))
    assert.deepEqual([recent[0]!.id, recent[0]!.dir, recent[0]!.name], [info.id, file, 'tiny_cnn'])
    const filters = parseResult('getFilters', await call(second, 'getFilters', { modelId: info.id, layer: 'conv1' }))
    assert.deepEqual([filters.shape, filters.rgb], [[3, 3, 3, 4], true])
  } finally {
    second.dispose()
  }
})

test('a block that permutes to NHWC (ConvNeXt\'s Linear = MatMul + Add): layouts followed, one dense layer, its weights', async () => {
  const W = seeded(3 * 5, 31)
  const B = seeded(5, 32)
  const spec = {
    opset: 13,
    inputs: [{ name: 'x', dims: ['batch', 3, 'height', 'width'] }],
    outputs: [{ name: 'y' }, { name: '/fc/Add_output_0' }],
    initializers: [{ name: 'fc.weight', dims: [3, 5], values: W }, { name: 'fc.bias', dims: [5], values: B }],
    nodes: [
      { name: '/perm/Transpose', opType: 'Transpose', inputs: ['x'], outputs: ['/perm/Transpose_output_0'], attributes: { perm: [0, 2, 3, 1] } },
      { name: '/fc/MatMul', opType: 'MatMul', inputs: ['/perm/Transpose_output_0', 'fc.weight'], outputs: ['/fc/MatMul_output_0'] },
      { name: '/fc/Add', opType: 'Add', inputs: ['fc.bias', '/fc/MatMul_output_0'], outputs: ['/fc/Add_output_0'] },
      { name: '/back/Transpose', opType: 'Transpose', inputs: ['/fc/Add_output_0'], outputs: ['y'], attributes: { perm: [0, 3, 1, 2] } },
    ],
  }
  const file = writeOnnxModel(path.join(dir, 'permuted.onnx'), spec)
  const model = await loadModel(file)
  assert.deepEqual(model.info.layers.map((l) => [l.name, l.type, l.kind, l.outputShape.join('×')]), [
    ['x', 'Input', 'input', '224×224×3'], ['perm', 'Transpose', 'reshape', '224×224×3'], ['fc', 'MatMul', 'dense', '224×224×5'], ['back', 'Transpose', 'reshape', '224×224×5'],
  ])
  assert.deepEqual(model.graph.get('back').receptiveField, { size: [1, 1], jump: [1, 1], start: [0, 0], exact: true })
  const { nhwc: x, nchw } = images(2, 4, 6)
  const ref = await ortRun(buildOnnxModel(spec), 'x', nchw, [2, 3, 4, 6])
  const [fc, back] = model.forward(x, ['fc', 'back'])
  close(fc!.dataSync(), ref['/fc/Add_output_0']!.data as Float32Array) // already NHWC inside the block
  close(back!.dataSync(), nhwc(ref.y!))
  const lin = model.linearWeights!('fc')!
  close(lin.kernel.dataSync(), W, 0)
  close(lin.bias!.dataSync(), B, 0)
  tf.dispose([fc!, back!, x])
  model.dispose()
})

test('a model is named after its file, and a generic model.onnx after its folder', () => {
  assert.equal(modelName('/m/resnet18.onnx', '/m/resnet18.onnx'), 'resnet18')
  assert.equal(modelName('/m/resnet18/model.onnx', '/m/resnet18/model.onnx'), 'resnet18')
  assert.equal(modelName('/m/resnet18/Model.ONNX', '/m/resnet18/Model.ONNX'), 'resnet18')
  assert.equal(modelName('/m/nets/model.onnx', '/m/nets'), 'nets')
})
