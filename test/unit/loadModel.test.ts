/**
 * Opening model folders: layers and graph models round trip, forward() agrees with tfjs, the sidecar and
 * label files, and every broken folder gives the right error code with the file named in the message.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, readdir, rm, truncate, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, ModelInfo } from '../../src/shared/api'
import { OUTPUT } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { fsIOHandler } from '../../src/main/engine/models/fsIOHandler'
import { makeTinyCnn, makeTinyGraphModel, tinyLabels, type TinyCnn, type TinyGraphModel } from '../fixtures/models'

let root: string
let cnn: TinyCnn
let graph: TinyGraphModel
let n = 0
const fresh = () => join(root, `m${n++}`)

before(async () => {
  await tf.setBackend('cpu')
  root = await mkdtemp(join(tmpdir(), 'convscope-models-'))
  cnn = await makeTinyCnn(fresh())
  graph = await makeTinyGraphModel(fresh())
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

/** Expect `p` to reject with a ConvscopeError of `code` whose message matches every pattern. */
async function rejects(p: Promise<unknown>, code: string, ...patterns: (RegExp | string)[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ConvscopeError, `not a ConvscopeError: ${e}`)
    assert.equal(e.code, code, e.message)
    for (const p of patterns) {
      if (typeof p === 'string') assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`)
      else assert.match(e.message, p)
    }
    return true
  })
}

const randomInput = (shape: [number, number, number], batch = 2, seed = 3) => tf.randomUniform([batch, ...shape], 0, 1, 'float32', seed) as tf.Tensor4D

function assertClose(a: tf.Tensor, b: tf.Tensor, what: string, tol = 1e-5): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`)
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!)
  assert.ok(diff <= tol, `${what}: max difference ${diff}`)
}

// ---------------------------------------------------------------------------------------------------
// Layers models
// ---------------------------------------------------------------------------------------------------

test('layers model: info, identity by content, defaults with a warning when there is no convscope.json', async () => {
  const m = await loadModel(cnn.dir)
  try {
    ModelInfo.parse(m.info)
    assert.equal(m.info.format, 'layers')
    assert.match(m.info.id, /^[0-9a-f]{16}$/)
    assert.deepEqual(m.info.inputShape, [32, 32, 3])
    assert.deepEqual(m.info.layers.map((l) => l.name), cnn.layerNames)
    assert.equal(m.info.preprocessingDefaulted, true)
    assert.deepEqual(m.info.preprocessing, { inputSize: [32, 32], channelOrder: 'RGB', range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1], resize: 'stretch', labels: null })
    assert.equal(m.info.labels, null)
    assert.equal(m.info.warnings.length, 1)
    assert.match(m.info.warnings[0]!, /No convscope\.json.*assumed.*32×32.*\[0, 1\].*RGB/)
  } finally {
    m.dispose()
  }
  // Same seed, same bytes, same id; another seed, another id.
  const again = await makeTinyCnn(fresh())
  const other = await makeTinyCnn(fresh(), { seed: 2 })
  const [a, b] = [await loadModel(again.dir), await loadModel(other.dir)]
  const first = await loadModel(cnn.modelJson) // the model.json path works too
  assert.equal(a.info.id, first.info.id)
  assert.notEqual(b.info.id, first.info.id)
  ;[a, b, first].forEach((x) => x.dispose())
})

test('layers model: forward() is one pass to the named layers and equals tfjs predict', async () => {
  const m = await loadModel(cnn.dir)
  const ref = await tf.loadLayersModel(fsIOHandler(cnn.dir))
  const x = randomInput(cnn.inputShape)
  const names = ['conv1', 'add3', 'gap', OUTPUT, 'conv1', 'input']
  const refHead = tf.model({ inputs: ref.inputs, outputs: ['conv1', 'add3', 'gap'].map((n) => ref.getLayer(n).output as tf.SymbolicTensor) })
  const refs = refHead.predict(x) as tf.Tensor[]
  const predicted = ref.predict(x) as tf.Tensor
  const before = tf.memory().numTensors
  const outs = m.forward(x, names)
  assert.equal(outs.length, names.length)
  assertClose(outs[0]!, refs[0]!, 'conv1')
  assertClose(outs[1]!, refs[1]!, 'add3')
  assertClose(outs[2]!, refs[2]!, 'gap')
  assertClose(outs[3]!, predicted, 'output')
  assertClose(outs[4]!, refs[0]!, 'conv1 again')
  assertClose(outs[5]!, x, 'input')
  assert.notEqual(outs[0], outs[4], 'a repeated name gets its own tensor')
  tf.dispose(outs)
  assert.equal(tf.memory().numTensors, before, 'forward leaks no tensors')
  // The cached head is reused and still right.
  const again = m.forward(x, ['conv1', 'add3', 'gap', OUTPUT, 'conv1', 'input'])
  assertClose(again[3]!, predicted, 'output, second call')
  tf.dispose([again, refs, predicted, x])
  assert.throws(() => m.forward(x, ['nope']), (e: ConvscopeError) => e.code === 'BAD_REQUEST' && /"nope"/.test(e.message))
  ref.dispose()
  m.dispose()
})

test('layers model: kernels of conv and depthwise layers, null elsewhere', async () => {
  const m = await loadModel(cnn.dir)
  const ref = await tf.loadLayersModel(fsIOHandler(cnn.dir))
  const conv = m.kernel('conv1')!
  assert.deepEqual(conv.shape, [3, 3, 3, 8])
  assertClose(conv, ref.getLayer('conv1').getWeights()[0]!, 'conv1 kernel', 0)
  const dw = m.kernel('dw2')!
  assert.deepEqual(dw.shape, [3, 3, 8, 1])
  assertClose(dw, ref.getLayer('dw2').getWeights()[0]!, 'dw2 kernel', 0)
  assert.equal(m.kernel('gap'), null)
  assert.equal(m.kernel('fc'), null)
  assert.throws(() => m.kernel('nope'), (e: ConvscopeError) => e.code === 'BAD_REQUEST')
  ref.dispose()
  m.dispose()
})

test('dispose() frees every tensor the model held', async () => {
  const baseline = tf.memory().numTensors
  const m = await loadModel(cnn.dir)
  assert.ok(tf.memory().numTensors > baseline)
  const x = randomInput(cnn.inputShape, 1)
  tf.dispose(m.forward(x, ['conv4', OUTPUT]))
  x.dispose()
  m.dispose()
  assert.equal(tf.memory().numTensors, baseline)
})

test('a tf.Sequential model: its input layer is a row too, and dispose frees its weights', async () => {
  const dir = fresh()
  const net = tf.sequential({
    layers: [tf.layers.conv2d({ inputShape: [16, 16, 3], kernelSize: 3, filters: 2, name: 'c1' }), tf.layers.flatten({ name: 'flat' }), tf.layers.dense({ units: 3, name: 'd' })],
  })
  await net.save(fsIOHandler(dir))
  const x = randomInput([16, 16, 3])
  const want = net.predict(x) as tf.Tensor
  net.dispose()
  const baseline = tf.memory().numTensors
  const m = await loadModel(dir)
  assert.deepEqual(m.info.layers.map((l) => [l.kind, l.inbound]), [['input', []], ['conv', ['c1_input']], ['reshape', ['c1']], ['dense', ['flat']]])
  assert.deepEqual(m.info.layers[2]!.receptiveField, { size: [16, 16], jump: [0, 0], start: [7.5, 7.5], exact: true })
  const [c1, out] = m.forward(x, ['c1', OUTPUT])
  assert.deepEqual(c1!.shape, [2, 14, 14, 2])
  assertClose(out!, want, 'output')
  tf.dispose([c1!, out!])
  m.dispose()
  assert.equal(tf.memory().numTensors, baseline)
  tf.dispose([x, want])
})

test('the fs IOHandler saves in shards and loads them back', async () => {
  const dir = fresh()
  const sharded = await makeTinyCnn(dir, { shardBytes: 5000 })
  const files = (await readdir(dir)).filter((f) => f.endsWith('.bin')).sort()
  assert.ok(files.length >= 4, `shards: ${files}`)
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'))
  assert.deepEqual(json.weightsManifest[0].paths.slice().sort(), files)
  const a = await loadModel(sharded.dir)
  const b = await loadModel(cnn.dir)
  const x = randomInput(cnn.inputShape)
  const [ya, yb] = [a.forward(x, [OUTPUT])[0]!, b.forward(x, [OUTPUT])[0]!]
  assertClose(ya, yb, 'same weights in shards', 0)
  tf.dispose([ya, yb, x])
  a.dispose()
  b.dispose()
})

test('a model that accepts any size: convscope.json fixes it, else 224×224 with a warning', async () => {
  const open = await makeTinyCnn(fresh(), { anySize: true })
  const m = await loadModel(open.dir)
  assert.deepEqual(m.info.inputShape, [224, 224, 3])
  assert.deepEqual(m.info.layers.find((l) => l.name === 'conv4')!.outputShape, [55, 55, 16])
  m.dispose()
  const sized = await makeTinyCnn(fresh(), { anySize: true, sidecar: { inputSize: [40, 48] } })
  const s = await loadModel(sized.dir)
  assert.deepEqual(s.info.inputShape, [40, 48, 3])
  assert.deepEqual(s.info.layers.find((l) => l.name === 'conv1')!.outputShape, [40, 48, 8])
  assert.deepEqual(s.info.warnings, [])
  s.dispose()
})

// ---------------------------------------------------------------------------------------------------
// Sidecar and labels
// ---------------------------------------------------------------------------------------------------

for (const format of ['txt', 'json', 'imagenet'] as const) {
  test(`convscope.json with a ${format} label file`, async () => {
    const t = await makeTinyCnn(fresh(), { labels: format, sidecar: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], channelOrder: 'BGR' } })
    const m = await loadModel(t.dir)
    assert.equal(m.info.preprocessingDefaulted, false)
    assert.deepEqual(m.info.labels, tinyLabels(10))
    assert.deepEqual(m.info.preprocessing.mean, [0.5, 0.5, 0.5])
    assert.equal(m.info.preprocessing.channelOrder, 'BGR')
    assert.deepEqual(m.info.preprocessing.inputSize, [32, 32])
    assert.deepEqual(m.info.warnings, [])
    m.dispose()
  })
}

test('convscope.json: unknown keys, wrong values, wrong input size and missing labels are errors naming the file', async () => {
  const t = await makeTinyCnn(fresh())
  const sidecar = join(t.dir, 'convscope.json')
  await writeFile(sidecar, JSON.stringify({ mean: [0, 0, 0], colour: 'RGB' }))
  await rejects(loadModel(t.dir), 'BAD_MODEL', 'convscope.json', '"colour"', 'unknown key')
  await writeFile(sidecar, JSON.stringify({ range: [0, 'a'] }))
  await rejects(loadModel(t.dir), 'BAD_MODEL', 'convscope.json', 'range')
  await writeFile(sidecar, '{ "range": [0, 1], }')
  await rejects(loadModel(t.dir), 'BAD_MODEL', 'convscope.json', 'not valid JSON')
  await writeFile(sidecar, JSON.stringify({ inputSize: [64, 64] }))
  await rejects(loadModel(t.dir), 'BAD_MODEL', 'convscope.json', '[64, 64]', '[32, 32]')
  await writeFile(sidecar, JSON.stringify({ labels: 'classes.txt' }))
  await rejects(loadModel(t.dir), 'NOT_FOUND', 'classes.txt', 'convscope.json')
  await writeFile(join(t.dir, 'classes.txt'), 'a\nb\nc\n')
  const m = await loadModel(t.dir)
  assert.deepEqual(m.info.labels, ['a', 'b', 'c'])
  assert.match(m.info.warnings.join('\n'), /3 labels but the model's output has 10 classes/)
  m.dispose()
})

// ---------------------------------------------------------------------------------------------------
// Graph models
// ---------------------------------------------------------------------------------------------------

test('graph model: rows, shapes, fields and weights of the hand-written GraphDef', async () => {
  const m = await loadModel(graph.dir)
  ModelInfo.parse(m.info)
  assert.equal(m.info.format, 'graph')
  assert.deepEqual(m.info.layers.map((l) => l.name), graph.layerNames)
  const row = (name: string) => m.info.layers.find((l) => l.name === name)!
  const { rows } = graph
  assert.deepEqual(
    m.info.layers.map((l) => [l.type, l.kind, l.activation]),
    [
      ['Placeholder', 'input', null],
      ['Conv2D', 'conv', 'relu'],
      ['MaxPool', 'pool', null],
      ['Conv2D', 'conv', 'relu'],
      ['Mean', 'global-pool', null],
      ['MatMul', 'dense', 'linear'],
      ['Softmax', 'activation', 'softmax'],
    ],
  )
  assert.deepEqual(row(rows.conv2).outputShape, [8, 8, 16])
  assert.deepEqual(row(rows.gap).outputShape, [16])
  assert.deepEqual(row(rows.conv2).inbound, [rows.pool1])
  assert.deepEqual([row(rows.conv1).params, row(rows.conv2).params, row(rows.logits).params], [3 * 3 * 3 * 8 + 8, 3 * 3 * 8 * 16, 16 * 10 + 10])
  assert.equal(m.info.totalParams, 224 + 1152 + 170)
  assert.deepEqual(m.info.layers.map((l) => l.hasFilters), [false, true, false, true, false, false, false])
  // conv 3×3 → pool 2/2 → conv 3×3 s2 'same' on 16 (pad 0 before, 1 after) → mean over 8×8.
  assert.deepEqual(row(rows.conv2).receptiveField, { size: [8, 8], jump: [4, 4], start: [2.5, 2.5], exact: true })
  assert.deepEqual(row(rows.gap).receptiveField, { size: [36, 36], jump: [0, 0], start: [16.5, 16.5], exact: true })
  assert.deepEqual(row(rows.probs).receptiveField, row(rows.gap).receptiveField)
  m.dispose()
})

test('graph model: forward() equals the same network written with tf ops; kernels are the weights', async () => {
  const m = await loadModel(graph.dir)
  const x = randomInput(graph.inputShape)
  const want = graph.reference(x)
  const names = [...Object.values(graph.rows), OUTPUT]
  const before = tf.memory().numTensors
  const got = m.forward(x, names)
  Object.keys(graph.rows).forEach((role, i) => assertClose(got[i]!, want[role as keyof typeof want], role))
  assertClose(got[names.length - 1]!, want.probs, 'output')
  tf.dispose(got)
  assert.equal(tf.memory().numTensors, before, 'forward leaks no tensors')
  const kernel = m.kernel(graph.rows.conv1)!
  assert.deepEqual(kernel.shape, [3, 3, 3, 8])
  assert.deepEqual(Array.from(kernel.dataSync()), Array.from(graph.weights['conv1/kernel']!.values))
  assert.equal(m.kernel(graph.rows.pool1), null)
  // Nodes folded into a row can still be asked for by name.
  const [pre] = m.forward(x, ['conv1/BiasAdd'])
  assert.ok(tf.min(pre!).dataSync()[0]! < 0, 'pre-activation has negatives')
  tf.dispose([pre!, x, ...Object.values(want)])
  m.dispose()
})

test('graph model fixed to batch 1: forward() still takes a batch', async () => {
  const g = await makeTinyGraphModel(fresh(), { batch: 1 })
  const m = await loadModel(g.dir)
  const x = randomInput(g.inputShape, 3)
  const want = g.reference(x)
  const before = tf.memory().numTensors
  const [conv2, out] = m.forward(x, [g.rows.conv2, OUTPUT])
  assertClose(conv2!, want.conv2, 'conv2')
  assertClose(out!, want.probs, 'output')
  tf.dispose([conv2!, out!])
  assert.equal(tf.memory().numTensors, before)
  tf.dispose([x, ...Object.values(want)])
  m.dispose()
})

// ---------------------------------------------------------------------------------------------------
// Broken folders
// ---------------------------------------------------------------------------------------------------

/** A copy of a fixture folder to break. */
async function copyOf(kind: 'cnn' | 'graph', options: Parameters<typeof makeTinyCnn>[1] = {}): Promise<string> {
  const dir = fresh()
  if (kind === 'cnn') await makeTinyCnn(dir, options)
  else await makeTinyGraphModel(dir)
  return dir
}

test('missing folder, folder without model.json: NOT_FOUND naming the path', async () => {
  const missing = join(root, 'does-not-exist')
  await rejects(loadModel(missing), 'NOT_FOUND', missing)
  const empty = fresh()
  await makeTinyCnn(empty)
  await unlink(join(empty, 'model.json'))
  await rejects(loadModel(empty), 'NOT_FOUND', 'model.json', empty, 'group1-shard1of1.bin')
})

test('model.json that is not JSON: BAD_MODEL with the parse error and where it is', async () => {
  const dir = await copyOf('cnn')
  const file = join(dir, 'model.json')
  await writeFile(file, '{\n  "modelTopology": ,\n  "weightsManifest": []\n}')
  await rejects(loadModel(dir), 'BAD_MODEL', file, 'not valid JSON', "Unexpected token ','", 'line 2, column 20')
  const text = await readFile(join(cnn.dir, 'model.json'), 'utf8')
  await writeFile(file, text.slice(0, 100))
  await rejects(loadModel(dir), 'BAD_MODEL', file, 'not valid JSON', 'end of file (after 100 characters')
})

test('JSON that is not a TF.js model: BAD_MODEL saying what is missing', async () => {
  const dir = await copyOf('cnn')
  const file = join(dir, 'model.json')
  await writeFile(file, JSON.stringify({ name: 'something else', version: 3 }))
  await rejects(loadModel(dir), 'BAD_MODEL', file, 'not a TensorFlow.js model', 'modelTopology', 'weightsManifest')
  await writeFile(file, JSON.stringify([1, 2, 3]))
  await rejects(loadModel(dir), 'BAD_MODEL', file, 'not a TensorFlow.js model')
})

test('missing or truncated weight shards: BAD_MODEL naming the shard and the byte counts', async () => {
  const dir = await copyOf('cnn')
  const shard = join(dir, 'group1-shard1of1.bin')
  const size = (await readFile(shard)).byteLength
  await truncate(shard, size - 10)
  await rejects(loadModel(dir), 'BAD_MODEL', 'group1-shard1of1.bin', 'truncated', `expected ${size} bytes, found ${size - 10}`, 'model.json')
  await unlink(shard)
  await rejects(loadModel(dir), 'BAD_MODEL', 'group1-shard1of1.bin', 'missing', 'model.json')
  // Several shards: the short one is named.
  const multi = await copyOf('cnn', { shardBytes: 5000 })
  const shards = (await readdir(multi)).filter((f) => f.endsWith('.bin')).sort()
  await truncate(join(multi, shards[1]!), 4000)
  await rejects(loadModel(multi), 'BAD_MODEL', shards[1]!, 'truncated', 'expected 5000 bytes, found 4000')
})

test('a layer class or op tfjs cannot run: UNSUPPORTED_OP naming it', async () => {
  const dir = await copyOf('cnn')
  const file = join(dir, 'model.json')
  await writeFile(file, (await readFile(file, 'utf8')).replace('"class_name":"ReLU"', '"class_name":"FancyReLU"'))
  await rejects(loadModel(dir), 'UNSUPPORTED_OP', 'FancyReLU', file)

  const g = await copyOf('graph')
  const gfile = join(g, 'model.json')
  const json = JSON.parse(await readFile(gfile, 'utf8'))
  json.modelTopology.node.find((n: { name: string }) => n.name === 'conv2/Relu').op = 'FancyRelu'
  await writeFile(gfile, JSON.stringify(json))
  await rejects(loadModel(g), 'UNSUPPORTED_OP', 'FancyRelu', gfile)
})

test('a graph node reading a node that is not there: BAD_MODEL', async () => {
  const g = await copyOf('graph')
  const file = join(g, 'model.json')
  const json = JSON.parse(await readFile(file, 'utf8'))
  json.modelTopology.node.find((n: { name: string }) => n.name === 'pool1/MaxPool').input = ['conv1/Relux']
  await writeFile(file, JSON.stringify(json))
  await rejects(loadModel(g), 'BAD_MODEL', file, 'pool1/MaxPool', 'conv1/Relux')
})

test('a model whose input is not an image: BAD_MODEL explaining the rank', async () => {
  const dir = fresh()
  const mlp = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 10 })] })
  await mlp.save(fsIOHandler(dir))
  mlp.dispose()
  await rejects(loadModel(dir), 'BAD_MODEL', 'model.json', 'rank 2', '[batch, height, width, channels]')
})

test('DepthwiseConv2D with dilation: UNSUPPORTED_OP (tfjs would silently ignore the dilation)', async () => {
  const dir = fresh()
  const net = tf.sequential({ layers: [tf.layers.depthwiseConv2d({ inputShape: [16, 16, 3], kernelSize: 3, dilationRate: 2, name: 'dw' })] })
  await net.save(fsIOHandler(dir))
  net.dispose()
  await rejects(loadModel(dir), 'UNSUPPORTED_OP', '"dw"', 'dilation')
})

test('no tensors are left behind by failed loads', async () => {
  const dir = await copyOf('cnn')
  const file = join(dir, 'model.json')
  await writeFile(join(dir, 'convscope.json'), JSON.stringify({ inputSize: [64, 64] }))
  const baseline = tf.memory().numTensors
  await rejects(loadModel(dir), 'BAD_MODEL', 'convscope.json')
  assert.equal(tf.memory().numTensors, baseline)
  await rm(join(dir, 'convscope.json'))
  await writeFile(file, (await readFile(file, 'utf8')).replace('"class_name":"ReLU"', '"class_name":"FancyReLU"'))
  await rejects(loadModel(dir), 'UNSUPPORTED_OP')
  assert.equal(tf.memory().numTensors, baseline)
  // The graph loader fails in its test run, after the weights are on the backend.
  const g = await copyOf('graph')
  const gfile = join(g, 'model.json')
  const json = JSON.parse(await readFile(gfile, 'utf8'))
  json.modelTopology.node.find((n: { name: string }) => n.name === 'conv2/Relu').op = 'FancyRelu'
  await writeFile(gfile, JSON.stringify(json))
  await rejects(loadModel(g), 'UNSUPPORTED_OP')
  assert.equal(tf.memory().numTensors, baseline)
})
