/**
 * The model graph, its executor and its layer table (src/main/engine/graph/*.ts) on a net named as
 * torch.onnx.export names nodes (test/helpers/scopedOnnxNet.ts). Numbers come from onnxruntime-node on the same
 * model, or by hand from the weights; never from convscope's own output.
 */
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { after, before, test } from 'node:test'
import * as tf from '@tensorflow/tfjs'
import * as ort from 'onnxruntime-node'
import { ConvscopeError } from '../../src/shared/api/errors'
import { GraphExecutor, type KernelLookup } from '../../src/main/engine/graph/executor'
import { graphFromOnnx } from '../../src/main/engine/graph/fromOnnx'
import { buildLayerTable, modulePath } from '../../src/main/engine/graph/layerTable'
import { createModelGraph, type GraphNode, materializeWeights, type ModelGraph } from '../../src/main/engine/graph/modelGraph'
import { kernelFor, UnsupportedOpError } from '../../src/main/engine/graph/ops'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { readOnnxModel } from '../../src/main/engine/models/onnx/reader'
import { buildOnnxModel, type ModelSpec, writeOnnxModel } from '../helpers/onnxBuilder'
import { SCOPED_LAYERS, SCOPED_WEIGHTS, scopedNet, seeded } from '../helpers/scopedOnnxNet'

let dir: string
let graph: ModelGraph
let executor: GraphExecutor
const X = seeded(2 * 3 * 8 * 8, 11)
const T = {
  relu: '/relu/Relu_output_0',
  block: '/layer1/layer1.0/conv1/Conv_output_0',
  ds: '/layer1/layer1.0/downsample/downsample.0/Conv_output_0',
  add: '/layer1/layer1.0/Add_output_0',
  norm: '/norm/Div_output_0',
  flat: '/Reshape_output_0',
}

async function ortRun(spec: ModelSpec, x: Float32Array, dims: number[]): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(buildOnnxModel(spec))
  const out = await session.run({ x: new ort.Tensor('float32', x, dims) })
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]))
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-4): void {
  assert.equal(actual.length, expected.length)
  const scale = Math.max(1, ...Array.from(expected, Math.abs))
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol * scale, `element ${i}: ${actual[i]} vs ${expected[i]}`)
  }
}

/** A kernel lookup that records which nodes run. */
function counting(ran: string[]): KernelLookup {
  return (op, domain) => {
    const k = kernelFor(op, domain)
    return k && ((inputs, node) => (ran.push(node.name), k(inputs, node)))
  }
}

before(async () => {
  await tf.setBackend('cpu')
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convscope-graph-'))
  graph = graphFromOnnx(readOnnxModel(writeOnnxModel(path.join(dir, 'net.onnx'), scopedNet())))
  executor = new GraphExecutor(graph, materializeWeights(graph), kernelFor)
})
after(() => {
  executor.dispose()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('module paths: a segment starting with the previous one plus "." replaces it (nested Sequentials)', () => {
  assert.equal(modulePath(['layer1', 'layer1.0', 'conv1']), 'layer1.0.conv1')
  assert.equal(modulePath(['layer2', 'layer2.0', 'downsample', 'downsample.0']), 'layer2.0.downsample.0')
  assert.equal(modulePath(['features', 'features.13', 'conv', 'conv.0', 'conv.0.2']), 'features.13.conv.0.2')
  assert.equal(modulePath(['features', 'features.1', 'features.1.0', 'block', 'block.0', 'block.0.0']), 'features.1.0.block.0.0')
  assert.equal(modulePath(['inception3a', 'branch2', 'branch2.0']), 'inception3a.branch2.0')
})

test('the graph: topological order whatever the file order; cycles and undefined inputs are BAD_MODEL', () => {
  const node = (name: string, inputs: string[], outputs: string[]): GraphNode => ({ name, opType: 'Relu', domain: '', inputs, outputs, attributes: {}, opset: 13 })
  const parts = (nodes: GraphNode[]) => ({ file: 'm.onnx', nodes, inputs: [{ name: 'x', dtype: 'float32', dims: null }], outputs: [{ name: 'c', dtype: 'float32', dims: null }], valueInfo: new Map(), initializers: new Map() })
  const g = createModelGraph(parts([node('second', ['b'], ['c']), node('first', ['x'], ['b'])]))
  assert.deepEqual(g.nodes.map((n) => n.name), ['first', 'second'])
  assert.deepEqual(g.consumers.get('b')?.map((n) => n.name), ['second'])
  assert.throws(() => createModelGraph(parts([node('a', ['x', 'c'], ['b']), node('b', ['b'], ['c'])])), (e: ConvscopeError) => e.code === 'BAD_MODEL' && /cycle/.test(e.message))
  assert.throws(() => createModelGraph(parts([node('a', ['nowhere'], ['c'])])), (e: ConvscopeError) => e.code === 'BAD_MODEL' && /"nowhere", which nothing defines/.test(e.message))
})

test('the executor equals onnxruntime on every inner tensor and the logits', async () => {
  const ref = await ortRun(scopedNet({ extraOutputs: Object.values(T) }), X, [2, 3, 8, 8])
  const names = [...Object.values(T), 'logits']
  const outs = executor.run(new Map([['x', tf.tensor(X, [2, 3, 8, 8])]]), names)
  names.forEach((n, i) => close(outs[i]!.dataSync(), ref[n]!))
  tf.dispose(outs)
})

test('constants are folded once at open: a run computes only the nodes its outputs need', () => {
  const ran: string[] = []
  const e = new GraphExecutor(graph, materializeWeights(graph), counting(ran))
  assert.deepEqual(ran, ['Identity_0', '/norm/Constant', '/Constant', '/Constant_1', '/Constant_2'], 'folded at open')
  ran.length = 0
  tf.dispose(e.run(new Map([['x', tf.zeros([1, 3, 8, 8])]]), [T.relu]))
  assert.deepEqual(ran, ['/conv1/Conv', '/relu/Relu'])
  ran.length = 0
  tf.dispose(e.run(new Map([['x', tf.zeros([1, 3, 8, 8])]]), ['logits']))
  // Shape of an activation stays dynamic (the batch), the rest of the chain with it; Identity of a weight was folded.
  assert.ok(ran.includes('/Shape') && ran.includes('/Gather') && ran.includes('/Concat'))
  assert.ok(!ran.includes('Identity_0') && !ran.some((n) => n.includes('Constant')))
  e.dispose()
})

test('feeding an inner tensor starts there; a path around it still reads the real input', () => {
  const ran: string[] = []
  const e = new GraphExecutor(graph, materializeWeights(graph), counting(ran))
  ran.length = 0
  const x = tf.tensor(X, [2, 3, 8, 8])
  // relu fed with zeros: both branches see zeros, so the Add is the two biases (hand-computed), and conv1 never runs.
  const [add] = e.run(new Map([['x', x], [T.relu, tf.zeros([2, 4, 4, 4])]]), [T.add])
  assert.ok(!ran.includes('/conv1/Conv'))
  const bias = Array.from({ length: 4 }, (_, c) => SCOPED_WEIGHTS.sharedB[c]! + SCOPED_WEIGHTS.dsB[c]!)
  close(add!.dataSync(), Float32Array.from({ length: 2 * 4 * 16 }, (_, i) => bias[Math.floor(i / 16) % 4]!))
  // The block's conv fed with zeros: the Add is the downsample branch of the real input.
  const [added, ds] = e.run(new Map([['x', x], [T.block, tf.zeros([2, 4, 4, 4])]]), [T.add, T.ds])
  close(added!.dataSync(), ds!.dataSync(), 1e-6)
  tf.dispose([add!, added!, ds!, x])
  e.dispose()
})

test('intermediates are freed as soon as they are read; results are the caller\'s (fed and repeated ones cloned)', () => {
  const x = tf.tensor(X, [2, 3, 8, 8])
  const before = tf.memory().numTensors
  const outs = executor.run(new Map([['x', x]]), ['logits', 'x', 'logits', 'fc.weight'])
  assert.equal(tf.memory().numTensors, before + 4)
  assert.ok(outs[1] !== x && outs[2] !== outs[0])
  tf.dispose(outs)
  assert.equal(tf.memory().numTensors, before)
  assert.ok(!x.isDisposed && executor.constant('fc.weight') !== undefined && !executor.constant('fc.weight')!.isDisposed)
  x.dispose()
})

test('inside tf.grad the intermediates stay: d(sum logits)/d(flatten) is the column sums of fc.weight', () => {
  const x = tf.tensor(X, [2, 3, 8, 8])
  const flat = tf.tidy(() => executor.run(new Map([['x', x]]), [T.flat])[0]!)
  const before = tf.memory().numTensors
  const g = tf.grad((f: tf.Tensor) => tf.sum(executor.run(new Map([['x', x], [T.flat, f]]), ['logits'])[0]!))(flat)
  const w = SCOPED_WEIGHTS.fcW // [2, 4]
  close(g.dataSync(), Float32Array.from({ length: 8 }, (_, i) => w[i % 4]! + w[4 + (i % 4)]!))
  // And through the whole graph: d(sum logits)/dx against onnxruntime's central differences along a direction.
  const dx = tf.grad((input: tf.Tensor) => tf.sum(executor.run(new Map([['x', input]]), ['logits'])[0]!))(x)
  assert.equal(tf.memory().numTensors, before + 2, 'nothing leaked under the tape')
  const v = seeded(X.length, 99)
  const eps = 1e-3
  return Promise.all([1, -1].map((s) => ortRun(scopedNet(), X.map((xi, i) => xi + s * eps * v[i]!), [2, 3, 8, 8]))).then(([plus, minus]) => {
    const numeric = (plus!.logits!.reduce((a, b) => a + b, 0) - minus!.logits!.reduce((a, b) => a + b, 0)) / (2 * eps)
    const analytic = Array.from(dx.dataSync()).reduce((a, d, i) => a + d * v[i]!, 0)
    assert.ok(Math.abs(numeric - analytic) <= 2e-2 * Math.max(1, Math.abs(numeric)), `${analytic} vs ${numeric}`)
    tf.dispose([x, flat, g, dx])
  })
})

test('the override hook runs a node another way (Relu as identity), or leaves it when it returns undefined', () => {
  const x = tf.tensor(X, [2, 3, 8, 8])
  const feeds = new Map([['x', x]])
  const seen: string[] = []
  const [asIs] = executor.run(feeds, [T.relu], { override: (node) => (seen.push(node.opType), undefined) })
  assert.deepEqual(seen, ['Conv', 'Relu'])
  const [conv, linear] = executor.run(feeds, ['/conv1/Conv_output_0', T.relu], { override: (node, inputs) => (node.opType === 'Relu' ? [inputs[0]!.clone()] : undefined) })
  close(linear!.dataSync(), conv!.dataSync(), 0)
  assert.ok(asIs!.min().dataSync()[0]! >= 0 && conv!.min().dataSync()[0]! < 0)
  tf.dispose([asIs!, conv!, linear!, x])
})

test('a kernel failure names op, node and opset: UnsupportedOpError → UNSUPPORTED_OP, anything else → BAD_MODEL', () => {
  const failing = (error: Error): KernelLookup => (op, domain) => (op === 'Add' ? () => { throw error } : kernelFor(op, domain))
  const x = tf.zeros([1, 3, 8, 8])
  const run = (k: KernelLookup) => {
    const e = new GraphExecutor(graph, materializeWeights(graph), k)
    try {
      return e.run(new Map([['x', x]]), ['logits'])
    } finally {
      e.dispose()
    }
  }
  const before = tf.memory().numTensors
  assert.throws(() => run(failing(new UnsupportedOpError('broadcast of rank 5'))), (e: ConvscopeError) =>
    e.code === 'UNSUPPORTED_OP' && e.message.includes('op Add (node "/layer1/layer1.0/Add", opset 13) is not supported: broadcast of rank 5'))
  assert.throws(() => run(failing(new Error('shapes do not match'))), (e: ConvscopeError) =>
    e.code === 'BAD_MODEL' && e.message.includes('op Add (node "/layer1/layer1.0/Add", opset 13) failed: shapes do not match'))
  assert.equal(tf.memory().numTensors, before, 'a failed run frees what it computed')
  x.dispose()
})

test('layer table: PyTorch module names, hidden nodes skipped, inbound through them, params, kinds, [h, w, c] shapes', () => {
  const dynamic = graph.nodes.map((n) => n.outputs[0]!).filter((t) => executor.isDynamic(t))
  const outs = executor.run(new Map([['x', tf.zeros([1, 3, 8, 8])]]), dynamic)
  const shapes = new Map(dynamic.map((t, i) => [t, outs[i]!.shape]))
  tf.dispose(outs)
  shapes.set('x', [1, 3, 8, 8])
  const table = buildLayerTable({
    graph,
    input: 'x',
    shapes,
    constDims: (t) => executor.constant(t)?.shape ?? null,
    constValues: (t) => (executor.constant(t) ? Array.from(executor.constant(t)!.dataSync()) : null),
  })
  const layers = table.architecture.layers
  assert.deepEqual(layers.map((l) => l.name), SCOPED_LAYERS)
  const by = new Map(layers.map((l) => [l.name, l]))
  const row = (name: string) => {
    const l = by.get(name)!
    return [l.type, l.kind, l.inbound.join(','), l.params, JSON.stringify(l.outputShape), l.hasFilters]
  }
  assert.deepEqual(row('conv1'), ['Conv', 'conv', 'x', 4 * 27 + 4, '[4,4,4]', true])
  // Its weight is a folded constant ("onnx::Conv_20", as torch names a Conv with its BatchNorm folded in); bias through Identity.
  assert.deepEqual(row('layer1.0.conv1'), ['Conv (BN folded)', 'conv', 'relu', 4 * 36 + 4, '[4,4,4]', true])
  assert.deepEqual(row('layer1.0.add'), ['Add', 'merge', 'layer1.0.conv1,layer1.0.downsample.0', 0, '[4,4,4]', false])
  assert.deepEqual(row('norm'), ['LayerNormalization', 'norm', 'layer1.0.relu_1', 0, '[4,4,4]', false])
  assert.deepEqual(row('pool'), ['GlobalAveragePool', 'global-pool', 'norm', 0, '[1,1,4]', false]) // through the Dropout
  assert.deepEqual(row('reshape'), ['Reshape', 'reshape', 'pool', 0, '[4]', false])
  assert.deepEqual(row('fc'), ['Gemm', 'dense', 'reshape', 10, '[2]', false])
  assert.equal(table.byName.get('norm')!.tensor, T.norm)
  // Receptive fields by hand: conv1 k3 s2 p1 → 3 / 2 / 0; the block's k3 p1 → 7; the 1×1 branch → 3; the Add encloses
  // both (7, inexact); GAP over 4 positions: from -3 to 3·2 + 3 = 9 → 13, centred on 3.
  const rf = (name: string) => by.get(name)!.receptiveField!
  assert.deepEqual([rf('conv1').size, rf('conv1').jump, rf('conv1').start], [[3, 3], [2, 2], [0, 0]])
  assert.deepEqual(rf('layer1.0.conv1').size, [7, 7])
  assert.deepEqual(rf('layer1.0.downsample.0').size, [3, 3])
  assert.deepEqual([rf('layer1.0.add').size, rf('layer1.0.add').exact], [[7, 7], false])
  assert.deepEqual([rf('norm').size, rf('norm').jump], [[7, 7], [2, 2]])
  assert.deepEqual([rf('pool').size, rf('pool').jump, rf('pool').start], [[13, 13], [0, 0], [3, 3]])
})

test('a leaf module of Pad → AveragePool (DenseNet\'s transition pool) is one layer whose window includes the pad', async () => {
  const file = writeOnnxModel(path.join(dir, 'padpool.onnx'), {
    opset: 13,
    inputs: [{ name: 'x', dims: ['batch', 3, 8, 8] }],
    outputs: [{ name: 'y' }],
    initializers: [{ name: 'pads', dtype: 'int64', dims: [8], values: [0, 0, 1, 2, 0, 0, 0, 0] }],
    nodes: [
      { name: '/relu/Relu', opType: 'Relu', inputs: ['x'], outputs: ['r'] },
      { name: '/pool/Pad', opType: 'Pad', inputs: ['r', 'pads'], outputs: ['p'] },
      { name: '/pool/AveragePool', opType: 'AveragePool', inputs: ['p'], outputs: ['y'], attributes: { kernel_shape: [2, 2], strides: [2, 2] } },
    ],
  })
  const model = await loadModel(file)
  const pool = model.graph.get('pool')
  assert.deepEqual(model.info.layers.map((l) => l.name), ['x', 'relu', 'pool'])
  assert.deepEqual([pool.type, pool.kind, pool.outputShape], ['AveragePool', 'pool', [4, 5, 3]])
  // k2 s2 with 1 row / 2 columns padded before: start = (2 - 1) / 2 - pad.
  assert.deepEqual(pool.receptiveField, { size: [2, 2], jump: [2, 2], start: [-0.5, -1.5], exact: true })
  model.dispose()
})

test('the override hook swaps a node\'s gradient under tf.grad (guided backprop\'s Relu)', () => {
  const x = tf.tensor(X, [2, 3, 8, 8])
  const guided = (node: GraphNode, inputs: readonly (tf.Tensor | null)[]) =>
    node.opType !== 'Relu'
      ? undefined
      : [tf.customGrad(((a: tf.Tensor, save: tf.GradSaveFunc) => {
          save([a])
          return { value: tf.relu(a), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.mul(tf.step(saved[0]!), tf.step(dy))) }
        }) as unknown as Parameters<typeof tf.customGrad>[0])(inputs[0]!) as tf.Tensor]
  // d(Σ c·relu)/d(conv1) with c of both signs: plain Relu passes c where conv1 > 0; guided also drops c < 0.
  const conv = tf.tidy(() => executor.run(new Map([['x', x]]), ['/conv1/Conv_output_0'])[0]!)
  const c = tf.tensor(seeded(conv.size, 77), conv.shape)
  const grad = (override?: typeof guided) => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(c, executor.run(new Map([['x', x], ['/conv1/Conv_output_0', v]]), [T.relu], { override })[0]!)))(conv)
  const [plain, guidedGrad] = [grad(), grad(guided)]
  const cv = c.dataSync()
  const xv = conv.dataSync()
  close(plain.dataSync(), Float32Array.from(cv, (ci, i) => (xv[i]! > 0 ? ci : 0)), 0)
  close(guidedGrad.dataSync(), Float32Array.from(cv, (ci, i) => (xv[i]! > 0 && ci > 0 ? ci : 0)), 0)
  tf.dispose([x, conv, c, plain, guidedGrad])
})

test('naming: a leaf with two outputs leaving it gets "_1", "_2"; unscoped names are kept; names stay unique', async () => {
  const file = writeOnnxModel(path.join(dir, 'names.onnx'), {
    opset: 13,
    inputs: [{ name: 'image', dims: [1, 3, 4, 4] }],
    outputs: [{ name: 'y' }],
    nodes: [
      { name: 'my_relu', opType: 'Relu', inputs: ['image'], outputs: ['a'] },
      { name: '/pair/Neg', opType: 'Neg', inputs: ['a'], outputs: ['n'] },
      { name: '/pair/Relu', opType: 'Relu', inputs: ['n'], outputs: ['p'] },
      { name: '/pair/Sigmoid', opType: 'Sigmoid', inputs: ['a'], outputs: ['s'] },
      { name: '/head/Add', opType: 'Add', inputs: ['p', 's'], outputs: ['t'] },
      { name: '/head/inner/Relu', opType: 'Relu', inputs: ['t'], outputs: ['u'] },
      { name: '/image/Relu', opType: 'Relu', inputs: ['u'], outputs: ['y'] },
    ],
  })
  const model = await loadModel(file)
  // "image" is taken by the input, so the leaf module "image" becomes "image_1".
  assert.deepEqual(model.info.layers.map((l) => [l.name, l.type, l.inbound.join(',')]), [
    ['image', 'Input', ''], ['my_relu', 'Relu', 'image'], ['pair_1', 'Relu', 'my_relu'], ['pair_2', 'Sigmoid', 'my_relu'],
    ['head.add', 'Add', 'pair_1,pair_2'], ['head.inner', 'Relu', 'head.add'], ['image_1', 'Relu', 'head.inner'],
  ])
  model.dispose()
  // A forward of functional ops only: every node sits at the root.
  const flat = await loadModel(writeOnnxModel(path.join(dir, 'root.onnx'), {
    inputs: [{ name: 'x', dims: [1, 3, 4, 4] }],
    outputs: [{ name: 'y' }],
    nodes: [{ name: '/Relu', opType: 'Relu', inputs: ['x'], outputs: ['r'] }, { name: '/Add', opType: 'Add', inputs: ['r', 'x'], outputs: ['y'] }],
  }))
  assert.deepEqual(flat.info.layers.map((l) => l.name), ['x', 'relu', 'add'])
  flat.dispose()
})

test('int64 weights are held as int32, saturated: a Slice to INT64_MAX ("to the end", as torch writes it) keeps the rest', async () => {
  const spec: ModelSpec = {
    inputs: [{ name: 'x', dims: ['batch', 3, 4, 4] }],
    outputs: [{ name: 'y' }],
    initializers: [
      { name: 'starts', dtype: 'int64', dims: [1], values: [1] },
      { name: 'ends', dtype: 'int64', dims: [1], values: [2 ** 63] },
      { name: 'axes', dtype: 'int64', dims: [1], values: [3] },
    ],
    nodes: [{ name: '/Slice', opType: 'Slice', inputs: ['x', 'starts', 'ends', 'axes'], outputs: ['y'] }],
  }
  const g = graphFromOnnx(readOnnxModel(writeOnnxModel(path.join(dir, 'slice.onnx'), spec)))
  const weights = materializeWeights(g)
  assert.deepEqual([weights.get('ends')!.dtype, weights.get('ends')!.dataSync()[0]], ['int32', 2 ** 31 - 1])
  const e = new GraphExecutor(g, weights, kernelFor)
  const x = seeded(48, 3)
  const [y] = e.run(new Map([['x', tf.tensor(x, [1, 3, 4, 4])]]), ['y'])
  const ref = await ortRun(spec, x, [1, 3, 4, 4])
  close(y!.dataSync(), ref.y!)
  assert.deepEqual(y!.shape, [1, 3, 4, 3])
  tf.dispose(y!)
  e.dispose()
})
