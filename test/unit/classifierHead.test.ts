/**
 * Finding a CAM-able classifier head: the demo gap network has one, gmp (global max pooling) and fc
 * (flatten → fully connected) do not and say why; small hand-built models of every recognised form
 * (GAP → dropout → dense → softmax, dense with a softmax activation, an average pool over the whole map,
 * a 1×1-conv class map averaged over space, a graph model's Mean → MatMul) are found, and near misses are
 * refused: an average pool that covers only part of the map, a dense layer with a ReLU.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { initBackend } from '../../src/main/engine/backend'
import type { LoadedModel } from '../../src/main/engine/model'
import { classWeights, findClassifierHead, type HeadSearch } from '../../src/main/engine/models/classifierHead'
import { fsIOHandler } from '../../src/main/engine/models/fsIOHandler'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { classLogits, defaultMapLayer, mapMethod } from '../../src/main/engine/maps'
import { makeTinyGraphModel } from '../fixtures/models'

const DEMO = join(import.meta.dirname, '../../resources/demo-models')
let root: string
let n = 0
const opened: LoadedModel[] = []

before(async () => {
  await initBackend({ forced: 'wasm' })
  root = await mkdtemp(join(tmpdir(), 'convscope-head-'))
})
after(async () => {
  for (const m of opened) m.dispose()
  await rm(root, { recursive: true, force: true })
})

async function open(dir: string): Promise<LoadedModel> {
  const model = await loadModel(dir)
  opened.push(model)
  return model
}

/** Save a functional model built by `build` from an 8×8×3 input and open it with convscope. */
async function built(build: (input: tf.SymbolicTensor, layer: <L extends tf.layers.Layer>(l: L, x: tf.SymbolicTensor) => tf.SymbolicTensor) => tf.SymbolicTensor): Promise<LoadedModel> {
  const input = tf.input({ shape: [8, 8, 3], name: 'input' })
  const output = build(input, (l, x) => l.apply(x) as tf.SymbolicTensor)
  const model = tf.model({ inputs: input, outputs: output })
  const dir = join(root, `m${n++}`)
  await model.save(fsIOHandler(dir))
  model.dispose()
  return open(dir)
}

const conv = (name: string, filters: number, kernelSize = 3, activation: 'relu' | 'linear' = 'relu') =>
  tf.layers.conv2d({ name, filters, kernelSize, padding: 'same', activation, biasInitializer: tf.initializers.randomUniform({ minval: -0.2, maxval: 0.2, seed: filters }) })
const dense = (name: string, units: number, activation: 'linear' | 'softmax' | 'relu' = 'linear') =>
  tf.layers.dense({ name, units, activation, biasInitializer: tf.initializers.randomUniform({ minval: -0.2, maxval: 0.2, seed: units }) })

function found(search: HeadSearch) {
  assert.equal(search.reason, null, `expected a head, got: ${search.reason}`)
  return search.head!
}

/** CAM through the head found: mean_xy CAM_c + b_c = logit_c for every class on a random image (to 1e-4). */
async function assertCamIdentity(model: LoadedModel): Promise<void> {
  const head = found(findClassifierHead(model))
  const x = tf.randomUniform([1, ...model.info.inputShape], 0, 1, 'float32', 2) as tf.Tensor4D
  const logitsTensor = classLogits(model, x)
  const logits = logitsTensor.dataSync()
  const bias = head.weights.bias?.dataSync() ?? new Float32Array(head.classes)
  const classes = Array.from({ length: head.classes }, (_, i) => i)
  const r = await mapMethod('cam').compute(model, x, classes)
  for (const m of r.maps) {
    const mean = m.values.reduce((a, b) => a + b, 0) / m.values.length
    assert.ok(Math.abs(mean + bias[m.classIndex]! - logits[m.classIndex]!) < 1e-4, `class ${m.classIndex}: ${mean + bias[m.classIndex]!} vs logit ${logits[m.classIndex]}`)
  }
  tf.dispose([x, logitsTensor])
}

test('the demo gap network has a CAM head: conv_last → gap → predictions, 192 channels × 14 classes, default map layer conv_last', async () => {
  const model = await open(join(DEMO, 'gap'))
  const before = tf.memory().numTensors
  const head = found(findClassifierHead(model))
  assert.equal(tf.memory().numTensors, before, 'the search (and its numeric proof) leaves no tensor behind')
  assert.deepEqual([head.form, head.featureLayer, head.poolLayer, head.classifierLayer], ['pooled-dense', 'conv_last', 'gap', 'predictions'])
  assert.deepEqual([head.channels, head.classes], [192, 14])
  assert.deepEqual(head.weights.kernel.shape, [192, 14])
  assert.deepEqual(head.weights.bias?.shape, [14])
  const w = classWeights(head, [3, 1])
  assert.deepEqual(w.shape, [192, 2])
  const direct = tf.tidy(() => head.weights.kernel.slice([0, 3], [192, 1]))
  assert.ok(w.slice([0, 0], [192, 1]).sub(direct).abs().max().dataSync()[0] === 0, 'column 0 is class 3')
  tf.dispose([w, direct])
  assert.equal(defaultMapLayer(model), 'conv_last')
})

test('the demo gmp network has no CAM head: global max pooling is not linear, and the reason says so', async () => {
  const model = await open(join(DEMO, 'gmp'))
  const search = findClassifierHead(model)
  assert.equal(search.head, null)
  assert.match(search.reason!, /max pooling is not linear/)
  assert.match(search.reason!, /"gmp" \(GlobalMaxPooling2D\)/)
  assert.equal(defaultMapLayer(model), 'conv_last')
})

test('the demo fc network has no CAM head (predictions reads fc7, a dense layer); Grad-CAM defaults to conv_last, not the pooled copy before flatten', async () => {
  const model = await open(join(DEMO, 'fc'))
  const search = findClassifierHead(model)
  assert.equal(search.head, null)
  assert.match(search.reason!, /"predictions" \(Dense\) reads "fc7" \(Dense\)/)
  assert.equal(defaultMapLayer(model), 'conv_last')
})

test('GAP → dropout → linear dense → softmax layer is found through the dropout, and CAM obeys its identity through it', async () => {
  const model = await built((x, l) => l(tf.layers.softmax({ name: 'probs' }), l(dense('logits', 4), l(tf.layers.dropout({ name: 'drop', rate: 0.5 }), l(tf.layers.globalAveragePooling2d({ name: 'gap' }), l(conv('features', 6), x))))))
  const head = found(findClassifierHead(model))
  assert.deepEqual([head.form, head.featureLayer, head.poolLayer, head.classifierLayer, head.channels, head.classes], ['pooled-dense', 'features', 'gap', 'logits', 6, 4])
  await assertCamIdentity(model)
})

test('a dense layer with a softmax activation right after GAP is a CAM head (its pre-activation is the logit)', async () => {
  const model = await built((x, l) => l(dense('probs', 3, 'softmax'), l(tf.layers.globalAveragePooling2d({ name: 'gap' }), l(conv('features', 5), x))))
  const head = found(findClassifierHead(model))
  assert.deepEqual([head.featureLayer, head.classifierLayer, head.classes], ['features', 'probs', 3])
  await assertCamIdentity(model)
})

test('an average pool covering the whole 8×8 map, then flatten and dense, is a CAM head; one covering 5×5 of it is refused by the numeric check', async () => {
  const whole = await built((x, l) => l(dense('logits', 3), l(tf.layers.flatten({ name: 'flat' }), l(tf.layers.averagePooling2d({ name: 'avg', poolSize: 8 }), l(conv('features', 4), x)))))
  const head = found(findClassifierHead(whole))
  assert.deepEqual([head.featureLayer, head.poolLayer], ['features', 'avg'])
  await assertCamIdentity(whole)
  const partial = await built((x, l) => l(dense('logits', 3), l(tf.layers.flatten({ name: 'flat' }), l(tf.layers.averagePooling2d({ name: 'avg', poolSize: 5, strides: 5 }), l(conv('features', 4), x)))))
  const search = findClassifierHead(partial)
  assert.equal(search.head, null)
  assert.match(search.reason!, /do not compute mean\(features\) · W \+ b/)
})

test('a 1×1-conv class map followed by a spatial mean is a CAM head whose features are the conv before it', async () => {
  const model = await built((x, l) =>
    l(tf.layers.softmax({ name: 'probs' }), l(tf.layers.globalAveragePooling2d({ name: 'gap' }), l(conv('classmap', 4, 1, 'linear'), l(conv('features', 6), x)))),
  )
  const head = found(findClassifierHead(model))
  assert.deepEqual([head.form, head.featureLayer, head.poolLayer, head.classifierLayer, head.channels, head.classes], ['class-map-conv', 'features', 'gap', 'classmap', 6, 4])
  const w = classWeights(head)
  assert.deepEqual(w.shape, [6, 4])
  w.dispose()
  await assertCamIdentity(model)
})

test('near misses are refused with a reason: a ReLU dense after GAP, a 3×3 conv class map', async () => {
  const relu = await built((x, l) => l(dense('scores', 3, 'relu'), l(tf.layers.globalAveragePooling2d({ name: 'gap' }), l(conv('features', 4), x))))
  assert.match(findClassifierHead(relu).reason!, /relu activation; CAM needs a linear layer/)
  const wide = await built((x, l) => l(tf.layers.globalAveragePooling2d({ name: 'gap' }), l(conv('classmap', 3, 3, 'linear'), l(conv('features', 4), x))))
  assert.match(findClassifierHead(wide).reason!, /not a 1×1 convolution/)
})

test('graph model: Mean over H, W → MatMul → BiasAdd → Softmax is a CAM head with the MatMul kernel and the BiasAdd bias', async () => {
  const graph = await makeTinyGraphModel(join(root, 'graph'))
  const model = await open(graph.dir)
  const head = found(findClassifierHead(model))
  assert.deepEqual([head.featureLayer, head.poolLayer, head.classifierLayer], [graph.rows.conv2, graph.rows.gap, graph.rows.logits])
  assert.deepEqual(Array.from(head.weights.kernel.dataSync()), Array.from(graph.weights['dense/kernel']!.values))
  assert.deepEqual(Array.from(head.weights.bias!.dataSync()), Array.from(graph.weights['dense/bias']!.values))
})
