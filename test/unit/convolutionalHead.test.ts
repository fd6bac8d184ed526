/**
 * The format-neutral fully-convolutional form (src/main/engine/models/convolutionalHead.ts), opened through
 * loadModel like every other method, for each format, each checked against a reference computed elsewhere:
 * - TF.js layers: the demo fc (flatten → dense) and gap (global pooling) networks give the same grid as the
 *   layers rewrite (test/helpers/layersFullyConvolutional.ts, a separate implementation that builds a tf.LayersModel);
 * - TF.js graph: the tiny graph fixture's Mean head against plain tf ops from its weights, and a hand-written
 *   Reshape → MatMul graph with 'valid' convs against plain tf ops on each cropped window;
 * - ONNX (NCHW, flattened channel-major): a 'valid' Conv → Flatten → Gemm CNN and a GlobalAveragePool head,
 *   against onnxruntime-node on each cropped window / on the same weights as a 1×1 conv head.
 * At the model's own input size a flatten → dense grid is 1×1 and equals the model's output (1e-5).
 * The Classes view's hint and refusals come from the layer table alone.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import * as ort from 'onnxruntime-node'
import { initBackend } from '../../src/main/engine/backend'
import { OUTPUT, type LoadedModel } from '../../src/main/engine/model'
import { classMapGrid } from '../../src/main/engine/models/classGrid'
import { convolutionalHead, planConvolutionalHead } from '../../src/main/engine/models/convolutionalHead'
import { fullyConvolutionalFromFolder } from '../helpers/layersFullyConvolutional'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { makeTinyCnn, makeTinyGraphModel, seededRandom } from '../fixtures/models'
import { buildOnnxModel, type ModelSpec, type TensorSpec } from '../helpers/onnxBuilder'
import { maxAbsDiff } from '../helpers/compare'

const DEMO = join(import.meta.dirname, '../../resources/demo-models')

let scratch: string
before(async () => {
  await initBackend({ forced: 'wasm' })
  scratch = await mkdtemp(join(tmpdir(), 'convscope-convhead-'))
})
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

const random = (shape: number[], seed: number) => tf.randomUniform<tf.Rank>(shape, 0, 1, 'float32', seed) as tf.Tensor4D
const floats = (n: number, rand: () => number, scale: number) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale)

async function withModel<T>(dir: string, use: (m: LoadedModel) => Promise<T>): Promise<T> {
  const model = await loadModel(dir)
  try {
    return await use(model)
  } finally {
    model.dispose()
  }
}

/** At the training size a flatten → dense grid is one position: the model's output. */
async function assertIdentityAtTrainingSize(model: LoadedModel, seed: number): Promise<void> {
  const fcn = convolutionalHead(model)
  const x = random([1, ...model.info.inputShape], seed)
  const grid = await classMapGrid(fcn, x)
  const [want] = model.forward(x, [OUTPUT])
  assert.deepEqual([grid.height, grid.width], [1, 1])
  assert.ok(maxAbsDiff(grid.values, want!.dataSync()) < 1e-5, `max |Δ| ${maxAbsDiff(grid.values, want!.dataSync())}`)
  tf.dispose([x, want!])
}

// ---------------------------------------------------------------------------------------------------
// TF.js layers
// ---------------------------------------------------------------------------------------------------

test('layers, demo fc (flatten → dense): identity at 64×64; at 128×128 the grid of the layers rewrite', async () => {
  await withModel(join(DEMO, 'fc'), async (model) => {
    await assertIdentityAtTrainingSize(model, 1)
    const fcn = convolutionalHead(model)
    assert.equal(fcn.head, 'flatten-dense')
    assert.deepEqual(fcn.steps, [
      'flatten (Flatten of 4×4×192) → fc6 (Dense) became a 4×4 convolution with 192 inputs',
      'fc6_dropout (Dropout) dropped: it is the identity at inference',
      'fc7 (Dense) became a 1×1 convolution',
      'predictions (Dense) became a 1×1 convolution',
      'softmax over the classes at every position',
    ])
    const rewrite = await fullyConvolutionalFromFolder(join(DEMO, 'fc'))
    const big = random([1, 128, 128, 3], 2)
    try {
      const got = await classMapGrid(fcn, big)
      const want = await classMapGrid(rewrite, big)
      assert.deepEqual([got.height, got.width, got.classes], [5, 5, 14])
      assert.ok(maxAbsDiff(got.values, want.values) < 1e-5, `max |Δp| ${maxAbsDiff(got.values, want.values)}`)
      assert.deepEqual(got.argmax, want.argmax)
      // Fields from the layer table: pool_last's field widened by its 4×4 window (as the rewrite's own table says).
      assert.deepEqual(got.receptiveField, want.receptiveField)
      assert.deepEqual(got.cells, want.cells)
    } finally {
      rewrite.dispose()
      big.dispose()
    }
  })
})

test('layers, demo gap (global pooling): the pooling removed, the same grid as the layers rewrite at 128×128', async () => {
  await withModel(join(DEMO, 'gap'), async (model) => {
    const fcn = convolutionalHead(model)
    assert.equal(fcn.head, 'global-pooling')
    assert.match(fcn.steps[0]!, /^gap \(GlobalAveragePooling2D\) removed: .*the spatial mean of the resulting logit map is the original logits/)
    const rewrite = await fullyConvolutionalFromFolder(join(DEMO, 'gap'))
    const big = random([1, 128, 128, 3], 3)
    try {
      const got = await classMapGrid(fcn, big)
      const want = await classMapGrid(rewrite, big)
      assert.deepEqual([got.height, got.width], [16, 16])
      assert.ok(maxAbsDiff(got.values, want.values) < 1e-5, `max |Δp| ${maxAbsDiff(got.values, want.values)}`)
      assert.deepEqual(got.stride, want.stride)
    } finally {
      rewrite.dispose()
      big.dispose()
    }
  })
})

// ---------------------------------------------------------------------------------------------------
// TF.js graph
// ---------------------------------------------------------------------------------------------------

test('graph, Mean → MatMul head: each position is softmax(conv2 map · W + b) from the fixture weights', async () => {
  const fixture = await makeTinyGraphModel(join(scratch, 'graph-gap'))
  await withModel(fixture.dir, async (model) => {
    assert.equal(typeof planConvolutionalHead(model), 'object', 'a plan, not a reason')
    const fcn = convolutionalHead(model)
    assert.equal(fcn.head, 'global-pooling')
    const x = random([1, 32, 32, 3], 4)
    const grid = await classMapGrid(fcn, x)
    const ref = fixture.reference(x)
    const w = fixture.weights
    const want = tf.tidy(() => {
      const map = ref.conv2.reshape([-1, 16]) as tf.Tensor2D
      return tf.softmax(tf.matMul(map, tf.tensor2d(w['dense/kernel']!.values as Float32Array, [16, 10])).add(tf.tensor1d(w['dense/bias']!.values as Float32Array)))
    })
    assert.deepEqual([grid.height, grid.width, grid.classes], [8, 8, 10])
    assert.ok(maxAbsDiff(grid.values, want.dataSync()) < 1e-5)
    // The placeholder fixes 32×32: a larger input is refused with the reason, not a crash.
    const big = random([1, 64, 64, 3], 5)
    await assert.rejects(classMapGrid(fcn, big), /does not run up to "conv2\/Relu" \(Conv2D\) at 64×64 \(its input may be fixed to 32×32\)/)
    tf.dispose([x, big, want, ...Object.values(ref)])
  })
})

/** A graph model: input [-1, -1, -1, 3] (size from convscope.json: 8×8) → 3×3 valid conv → Relu → Reshape [-1, 6·6·4] → MatMul → BiasAdd → Softmax. */
async function writeFlattenGraphModel(dir: string) {
  const rand = seededRandom(21)
  const weights: Record<string, { shape: number[]; dtype: 'float32' | 'int32'; values: Float32Array | Int32Array }> = {
    'conv/kernel': { shape: [3, 3, 3, 4], dtype: 'float32', values: floats(108, rand, 0.5) },
    'conv/bias': { shape: [4], dtype: 'float32', values: floats(4, rand, 0.2) },
    'flatten/shape': { shape: [2], dtype: 'int32', values: Int32Array.from([-1, 144]) },
    'dense/kernel': { shape: [144, 5], dtype: 'float32', values: floats(720, rand, 0.3) },
    'dense/bias': { shape: [5], dtype: 'float32', values: floats(5, rand, 0.2) },
  }
  const T = { type: 'DT_FLOAT' }
  const dims = (shape: number[]) => ({ dim: shape.map((d) => ({ size: String(d) })) })
  const b64 = (s: string) => Buffer.from(s).toString('base64')
  const constNode = (name: string) => {
    const dt = weights[name]!.dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT'
    return { name, op: 'Const', attr: { value: { tensor: { dtype: dt, tensorShape: dims(weights[name]!.shape) } }, dtype: { type: dt } } }
  }
  const conv = { T, strides: { list: { i: ['1', '1', '1', '1'] } }, padding: { s: b64('VALID') }, dilations: { list: { i: ['1', '1', '1', '1'] } }, data_format: { s: b64('NHWC') } }
  const node = [
    { name: 'input', op: 'Placeholder', attr: { dtype: T, shape: { shape: dims([-1, -1, -1, 3]) } } },
    ...Object.keys(weights).map(constNode),
    { name: 'conv/Conv2D', op: 'Conv2D', input: ['input', 'conv/kernel'], attr: conv },
    { name: 'conv/BiasAdd', op: 'BiasAdd', input: ['conv/Conv2D', 'conv/bias'], attr: { T, data_format: { s: b64('NHWC') } } },
    { name: 'conv/Relu', op: 'Relu', input: ['conv/BiasAdd'], attr: { T } },
    { name: 'flatten/Reshape', op: 'Reshape', input: ['conv/Relu', 'flatten/shape'], attr: { T, Tshape: { type: 'DT_INT32' } } },
    { name: 'dense/MatMul', op: 'MatMul', input: ['flatten/Reshape', 'dense/kernel'], attr: { T, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'dense/BiasAdd', op: 'BiasAdd', input: ['dense/MatMul', 'dense/bias'], attr: { T, data_format: { s: b64('NHWC') } } },
    { name: 'probs/Softmax', op: 'Softmax', input: ['dense/BiasAdd'], attr: { T } },
  ]
  const names = Object.keys(weights)
  const json = {
    format: 'graph-model',
    generatedBy: '2.15.0',
    convertedBy: 'convscope test',
    modelTopology: { node, library: {}, versions: { producer: 1482 } },
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: names.map((n) => ({ name: n, shape: weights[n]!.shape, dtype: weights[n]!.dtype })) }],
  }
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'model.json'), JSON.stringify(json))
  await writeFile(join(dir, 'group1-shard1of1.bin'), Buffer.concat(names.map((n) => Buffer.from(weights[n]!.values.buffer))))
  await writeFile(join(dir, 'convscope.json'), JSON.stringify({ inputSize: [8, 8], range: [0, 1] }))
  const t = (n: string) => tf.tensor(weights[n]!.values as Float32Array, weights[n]!.shape)
  /** The network on an 8×8 input, in plain tf ops. */
  const reference = (x: tf.Tensor4D) =>
    tf.tidy(() => tf.softmax(tf.relu(tf.conv2d(x, t('conv/kernel') as tf.Tensor4D, 1, 'valid').add(t('conv/bias'))).reshape([-1, 144]).matMul(t('dense/kernel') as tf.Tensor2D).add(t('dense/bias'))))
  return { reference }
}

test('graph, Reshape → MatMul head: identity at 8×8; at 11×13 each position is the network on its cropped window', async () => {
  const dir = join(scratch, 'graph-flatten')
  const { reference } = await writeFlattenGraphModel(dir)
  await withModel(dir, async (model) => {
    await assertIdentityAtTrainingSize(model, 6)
    const fcn = convolutionalHead(model)
    assert.equal(fcn.head, 'flatten-dense')
    assert.ok(fcn.steps[0]!.includes('became a 6×6 convolution with 4 inputs'), fcn.steps[0])
    const big = random([1, 11, 13, 3], 7)
    const grid = await classMapGrid(fcn, big)
    assert.deepEqual([grid.height, grid.width], [4, 6])
    for (const cell of grid.cells) {
      const want = reference(big.slice([0, cell.y, cell.x, 0], [1, 8, 8, 3]))
      const got = grid.values.subarray((cell.y * grid.width + cell.x) * 5, (cell.y * grid.width + cell.x + 1) * 5)
      assert.ok(maxAbsDiff(got, want.dataSync()) < 1e-5, `cell (${cell.y}, ${cell.x})`)
      assert.deepEqual(cell.window, { top: cell.y, left: cell.x, bottom: cell.y + 7, right: cell.x + 7 })
      want.dispose()
    }
    big.dispose()
  })
})

// ---------------------------------------------------------------------------------------------------
// ONNX
// ---------------------------------------------------------------------------------------------------

/** NHWC [1, h, w, c] → NCHW data for onnxruntime. */
const toNchw = (x: tf.Tensor4D) => tf.tidy(() => x.transpose([0, 3, 1, 2]).dataSync() as Float32Array)

async function runOrt(bytes: Uint8Array, x: tf.Tensor4D): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes)
  try {
    const [, h, w, c] = x.shape
    const out = await session.run({ x: new ort.Tensor('float32', toNchw(x), [1, c, h, w]) })
    return out[session.outputNames[0]!]!.data as Float32Array
  } finally {
    await session.release()
  }
}

/**
 * x [N, 3, H, W] → Conv 3×3 valid (4) → Relu → MaxPool 2 → Conv 3×3 valid (5) → Flatten (c-major) → Gemm (transB, 12)
 * → Relu → Gemm (6) → Softmax: training input 12×12 (sidecar), 3×3×5 map, window 12, stride 2.
 */
function flattenOnnx(): ModelSpec {
  const rand = seededRandom(31)
  const init = (name: string, dims: number[], scale: number): TensorSpec => ({ name, dims, values: floats(dims.reduce((a, b) => a * b, 1), rand, scale) })
  return {
    opset: 13,
    inputs: [{ name: 'x', dims: ['batch', 3, 'height', 'width'] }],
    outputs: [{ name: 'probs' }],
    initializers: [init('conv1.weight', [4, 3, 3, 3], 0.5), init('conv1.bias', [4], 0.2), init('conv2.weight', [5, 4, 3, 3], 0.4), init('conv2.bias', [5], 0.2), init('fc1.weight', [12, 45], 0.3), init('fc1.bias', [12], 0.2), init('fc2.weight', [6, 12], 0.4), init('fc2.bias', [6], 0.2)],
    nodes: [
      { name: '/conv1/Conv', opType: 'Conv', inputs: ['x', 'conv1.weight', 'conv1.bias'], outputs: ['/conv1/Conv_output_0'], attributes: { kernel_shape: [3, 3] } },
      { name: '/relu/Relu', opType: 'Relu', inputs: ['/conv1/Conv_output_0'], outputs: ['/relu/Relu_output_0'] },
      { name: '/pool/MaxPool', opType: 'MaxPool', inputs: ['/relu/Relu_output_0'], outputs: ['/pool/MaxPool_output_0'], attributes: { kernel_shape: [2, 2], strides: [2, 2] } },
      { name: '/conv2/Conv', opType: 'Conv', inputs: ['/pool/MaxPool_output_0', 'conv2.weight', 'conv2.bias'], outputs: ['/conv2/Conv_output_0'], attributes: { kernel_shape: [3, 3] } },
      { name: '/Flatten', opType: 'Flatten', inputs: ['/conv2/Conv_output_0'], outputs: ['/Flatten_output_0'], attributes: { axis: 1 } },
      { name: '/fc1/Gemm', opType: 'Gemm', inputs: ['/Flatten_output_0', 'fc1.weight', 'fc1.bias'], outputs: ['/fc1/Gemm_output_0'], attributes: { transB: 1 } },
      { name: '/relu2/Relu', opType: 'Relu', inputs: ['/fc1/Gemm_output_0'], outputs: ['/relu2/Relu_output_0'] },
      { name: '/fc2/Gemm', opType: 'Gemm', inputs: ['/relu2/Relu_output_0', 'fc2.weight', 'fc2.bias'], outputs: ['/fc2/Gemm_output_0'], attributes: { transB: 1 } },
      { name: '/softmax/Softmax', opType: 'Softmax', inputs: ['/fc2/Gemm_output_0'], outputs: ['probs'], attributes: { axis: 1 } },
    ],
  }
}

async function writeOnnx(dir: string, spec: ModelSpec, inputSize: number): Promise<Uint8Array> {
  const bytes = buildOnnxModel(spec)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'model.onnx'), bytes)
  await writeFile(join(dir, 'convscope.json'), JSON.stringify({ inputSize: [inputSize, inputSize], range: [0, 1] }))
  return bytes
}

test('ONNX, Flatten → Gemm head (NCHW, channel-major flatten): identity at 12×12; at 17×18 every position is onnxruntime on its window', async () => {
  const dir = join(scratch, 'onnx-flatten')
  const bytes = await writeOnnx(dir, flattenOnnx(), 12)
  await withModel(dir, async (model) => {
    await assertIdentityAtTrainingSize(model, 8)
    const fcn = convolutionalHead(model)
    assert.equal(fcn.head, 'flatten-dense')
    assert.match(fcn.steps[0]!, /→ fc1 \(Gemm\) became a 3×3 convolution with 5 inputs, its kernel read channel-major/)
    const big = random([1, 17, 18, 3], 9)
    const grid = await classMapGrid(fcn, big)
    // (17 − 12) / 2 + 1 = 3 rows, (18 − 12) / 2 + 1 = 4 columns.
    assert.deepEqual([grid.height, grid.width, grid.classes], [3, 4, 6])
    assert.deepEqual(grid.stride, [2, 2])
    for (const cell of grid.cells) {
      const { top, left } = cell.window
      const crop = big.slice([0, top, left, 0], [1, 12, 12, 3])
      const want = await runOrt(bytes, crop)
      const got = grid.values.subarray((cell.y * 4 + cell.x) * 6, (cell.y * 4 + cell.x + 1) * 6)
      assert.ok(maxAbsDiff(got, want) < 1e-5, `cell (${cell.y}, ${cell.x}): max |Δp| ${maxAbsDiff(got, want)}`)
      // 'valid' convs and pools: a position sees its window and nothing else.
      assert.deepEqual(cell.field, cell.window)
      crop.dispose()
    }
    big.dispose()
  })
})

test('ONNX, GlobalAveragePool → Flatten → Gemm head: per position equal to onnxruntime running the Gemm as a 1×1 Conv', async () => {
  const rand = seededRandom(41)
  const init = (name: string, dims: number[], scale: number): TensorSpec => ({ name, dims, values: floats(dims.reduce((a, b) => a * b, 1), rand, scale) })
  const conv = [init('conv.weight', [6, 3, 3, 3], 0.5), init('conv.bias', [6], 0.2)]
  const fcW = init('fc.weight', [4, 6], 0.5)
  const fcB = init('fc.bias', [4], 0.2)
  const trunk = [
    { name: '/conv/Conv', opType: 'Conv', inputs: ['x', 'conv.weight', 'conv.bias'], outputs: ['c'], attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
    { name: '/relu/Relu', opType: 'Relu', inputs: ['c'], outputs: ['r'] },
  ]
  const gap: ModelSpec = {
    inputs: [{ name: 'x', dims: ['batch', 3, 'height', 'width'] }],
    outputs: [{ name: 'probs' }],
    initializers: [...conv, fcW, fcB],
    nodes: [
      ...trunk,
      { name: '/avgpool/GlobalAveragePool', opType: 'GlobalAveragePool', inputs: ['r'], outputs: ['g'] },
      { name: '/Flatten', opType: 'Flatten', inputs: ['g'], outputs: ['f'] },
      { name: '/fc/Gemm', opType: 'Gemm', inputs: ['f', 'fc.weight', 'fc.bias'], outputs: ['z'], attributes: { transB: 1 } },
      { name: '/softmax/Softmax', opType: 'Softmax', inputs: ['z'], outputs: ['probs'], attributes: { axis: 1 } },
    ],
  }
  // The reference: the same weights with the Gemm as a 1×1 Conv and a softmax over the channel axis.
  const perPosition = buildOnnxModel({
    inputs: gap.inputs,
    outputs: [{ name: 'probs' }],
    initializers: [...conv, { ...fcW, dims: [4, 6, 1, 1] }, fcB],
    nodes: [
      ...trunk,
      { opType: 'Conv', inputs: ['r', 'fc.weight', 'fc.bias'], outputs: ['z'], attributes: { kernel_shape: [1, 1] } },
      { opType: 'Softmax', inputs: ['z'], outputs: ['probs'], attributes: { axis: 1 } },
    ],
  })
  const dir = join(scratch, 'onnx-gap')
  await writeOnnx(dir, gap, 10)
  await withModel(dir, async (model) => {
    const fcn = convolutionalHead(model)
    assert.equal(fcn.head, 'global-pooling')
    assert.match(fcn.steps[0]!, /^avgpool \(GlobalAveragePool\) removed/)
    const x = random([1, 15, 21, 3], 10)
    const grid = await classMapGrid(fcn, x)
    assert.deepEqual([grid.height, grid.width, grid.classes], [15, 21, 4])
    const nchw = await runOrt(perPosition, x) // [1, 4, 15, 21]
    const want = tf.tidy(() => tf.tensor4d(nchw, [1, 4, 15, 21]).transpose([0, 2, 3, 1]).dataSync())
    assert.ok(maxAbsDiff(grid.values, want) < 1e-5, `max |Δp| ${maxAbsDiff(grid.values, want)}`)
    x.dispose()
  })
})

// ---------------------------------------------------------------------------------------------------
// What is refused
// ---------------------------------------------------------------------------------------------------

test('a model without such a head is refused from its layer table, naming the layer', async () => {
  // The tiny layers CNN: GAP → dense (relu) → dropout → dense (softmax): a global-pooling head.
  const tiny = await makeTinyCnn(join(scratch, 'tiny'), { sidecar: true })
  await withModel(tiny.dir, async (model) => {
    const plan = planConvolutionalHead(model)
    assert.ok(typeof plan !== 'string', String(plan))
    assert.equal(plan.head, 'global-pooling')
    assert.deepEqual(plan.tail.map((l) => l.name), ['fc', 'dropout', 'probs'])
  })
  // An ONNX model whose output is a map, not class scores.
  const dir = join(scratch, 'onnx-map')
  await writeOnnx(
    dir,
    {
      inputs: [{ name: 'x', dims: ['batch', 3, 'height', 'width'] }],
      outputs: [{ name: 'y' }],
      initializers: [{ name: 'w', dims: [2, 3, 1, 1], values: [1, 0, 0, 0, 1, 0] }],
      nodes: [{ name: '/conv/Conv', opType: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attributes: { kernel_shape: [1, 1] } }],
    },
    8,
  )
  await withModel(dir, async (model) => {
    assert.equal(planConvolutionalHead(model), 'its output is not one score per class')
    assert.throws(() => convolutionalHead(model), /has no fully-convolutional form: its output is not one score per class/)
  })
  // A layer between the global pooling and the flatten (convnext's LayerNorm; here a Sigmoid) keeps the map 1×1 at any size.
  const pooledDir = join(scratch, 'onnx-after-pool')
  await writeOnnx(
    pooledDir,
    {
      inputs: [{ name: 'x', dims: ['batch', 3, 'height', 'width'] }],
      outputs: [{ name: 'z' }],
      initializers: [
        { name: 'w', dims: [2, 3, 1, 1], values: [1, 0, 0, 0, 1, 0] },
        { name: 'fc.weight', dims: [3, 2], values: [1, 2, 3, 4, 5, 6] },
      ],
      nodes: [
        { name: '/conv/Conv', opType: 'Conv', inputs: ['x', 'w'], outputs: ['c'], attributes: { kernel_shape: [1, 1] } },
        { name: '/avgpool/GlobalAveragePool', opType: 'GlobalAveragePool', inputs: ['c'], outputs: ['g'] },
        { name: '/norm/Sigmoid', opType: 'Sigmoid', inputs: ['g'], outputs: ['s'] },
        { name: '/Flatten', opType: 'Flatten', inputs: ['s'], outputs: ['f'] },
        { name: '/fc/Gemm', opType: 'Gemm', inputs: ['f', 'fc.weight'], outputs: ['z'], attributes: { transB: 1 } },
      ],
    },
    8,
  )
  await withModel(pooledDir, async (model) => {
    assert.match(String(planConvolutionalHead(model)), /reads "norm" \(Sigmoid\), which comes after the global pooling "avgpool" \(GlobalAveragePool\)/)
  })
})
