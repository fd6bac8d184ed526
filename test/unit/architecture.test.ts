/**
 * The architecture table: the tiny layers CNN as loadModel describes it, and graph-model rows made from
 * a converted-style GraphDef (fused ops, Identity on weights, Pad, merges, shape bookkeeping).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { finishArchitecture, type Shape, sketchGraphModel, type WeightSpec } from '../../src/main/engine/models/architecture'
import type { GraphDefJSON, NodeDefJSON } from '../../src/main/engine/models/graphDef'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { fsIOHandler } from '../../src/main/engine/models/fsIOHandler'
import { makeTinyCnn } from '../fixtures/models'

let root: string
before(async () => {
  await tf.setBackend('cpu')
  root = await mkdtemp(join(tmpdir(), 'convscope-arch-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

test('tiny CNN: kinds, inbound, filters, activations, params and fields', async () => {
  const cnn = await makeTinyCnn(join(root, 'cnn'))
  const m = await loadModel(cnn.dir)
  const table = Object.fromEntries(m.info.layers.map((l) => [l.name, l]))
  const row = (name: string) => table[name]!
  assert.deepEqual(
    m.info.layers.map((l) => [l.name, l.type, l.kind, l.activation]),
    [
      ['input', 'InputLayer', 'input', null],
      ['conv1', 'Conv2D', 'conv', 'relu'],
      ['bn1', 'BatchNormalization', 'norm', null],
      ['pool1', 'MaxPooling2D', 'pool', null],
      ['dw2', 'DepthwiseConv2D', 'depthwise', 'relu'],
      ['pw2', 'Conv2D', 'conv', 'relu'],
      ['conv3', 'Conv2D', 'conv', 'linear'],
      ['add3', 'Add', 'merge', null],
      ['relu3', 'ReLU', 'activation', 'relu'],
      ['conv4', 'Conv2D', 'conv', 'relu'],
      ['gap', 'GlobalAveragePooling2D', 'global-pool', null],
      ['fc', 'Dense', 'dense', 'relu'],
      ['dropout', 'Dropout', 'other', null],
      ['probs', 'Dense', 'dense', 'softmax'],
    ],
  )
  assert.deepEqual(row('add3').inbound, ['pw2', 'conv3'])
  assert.deepEqual(row('conv1').inbound, ['input'])
  assert.deepEqual(row('input').inbound, [])
  assert.deepEqual(
    m.info.layers.filter((l) => l.hasFilters).map((l) => l.name),
    [...cnn.convLayers.slice(0, 1), ...cnn.depthwiseLayers, ...cnn.convLayers.slice(1)],
  )
  assert.deepEqual(
    m.info.layers.filter((l) => l.spatial).map((l) => l.name),
    cnn.spatialLayers,
  )
  assert.deepEqual(row('conv4').outputShape, [7, 7, 16])
  assert.deepEqual(row('probs').outputShape, [10])
  const ref = await tf.loadLayersModel(fsIOHandler(cnn.dir))
  assert.equal(m.info.totalParams, ref.countParams())
  assert.equal(row('conv1').params, 3 * 3 * 3 * 8 + 8)
  ref.dispose()

  // conv 3 → pool 2/2 → dw 3 → pw 1 → conv 3 (| identity) → add → conv 3/2 valid → global.
  const rf = (name: string) => row(name).receptiveField
  assert.deepEqual(rf('conv1'), { size: [3, 3], jump: [1, 1], start: [0, 0], exact: true })
  assert.deepEqual(rf('pool1'), { size: [4, 4], jump: [2, 2], start: [0.5, 0.5], exact: true })
  assert.deepEqual(rf('pw2'), { size: [8, 8], jump: [2, 2], start: [0.5, 0.5], exact: true })
  assert.deepEqual(rf('add3'), { size: [12, 12], jump: [2, 2], start: [0.5, 0.5], exact: false })
  assert.deepEqual(rf('conv4'), { size: [16, 16], jump: [4, 4], start: [2.5, 2.5], exact: false })
  assert.deepEqual(rf('gap'), { size: [40, 40], jump: [0, 0], start: [14.5, 14.5], exact: false })
  assert.deepEqual(rf('probs'), rf('gap'))
  m.dispose()
})

// A converted-style graph: Pad → _FusedConv2D(BiasAdd, Relu6) with its filter behind an Identity →
// FusedDepthwiseConv2dNative(BiasAdd, Relu) → Conv2D → BiasAdd → Relu, a 3×3 branch, AddV2, ConcatV2 on
// channels, Mean(H, W, keep_dims) → Reshape → MatMul → Softmax → Identity; a Shape op on the input.
const b64 = (s: string) => Buffer.from(s).toString('base64')
const ints = (...v: number[]) => ({ list: { i: v.map(String) } })
const node = (name: string, op: string, input: string[] = [], attr: NodeDefJSON['attr'] = {}): NodeDefJSON => ({ name, op, input, attr })
const conv = (stride: number, padding: string, fused?: string[]) => ({
  strides: ints(1, stride, stride, 1),
  padding: { s: b64(padding) },
  dilations: ints(1, 1, 1, 1),
  data_format: { s: b64('NHWC') },
  ...(fused ? { fused_ops: { list: { s: fused.map(b64) } } } : {}),
})

const specs: WeightSpec[] = [
  { name: 'pad/paddings', shape: [4, 2], dtype: 'int32' },
  { name: 'conv1/filter', shape: [3, 3, 3, 8] },
  { name: 'conv1/bias', shape: [8] },
  { name: 'dw/filter', shape: [3, 3, 8, 1] },
  { name: 'dw/bias', shape: [8] },
  { name: 'pw/filter', shape: [1, 1, 8, 8] },
  { name: 'pw/bias', shape: [8] },
  { name: 'br/filter', shape: [3, 3, 8, 8] },
  { name: 'cat/axis', shape: [], dtype: 'int32' },
  { name: 'gap/axes', shape: [2], dtype: 'int32' },
  { name: 'flat/shape', shape: [2], dtype: 'int32' },
  { name: 'fc/w', shape: [16, 4] },
]
const consts: Record<string, number[]> = { 'pad/paddings': [0, 0, 1, 1, 1, 1, 0, 0], 'cat/axis': [-1], 'gap/axes': [1, 2], 'flat/shape': [-1, 16] }

const graph: GraphDefJSON = {
  node: [
    ...specs.map((s) => node(s.name, 'Const')),
    node('x', 'Placeholder', [], { shape: { shape: { dim: [{ size: '-1' }, { size: '16' }, { size: '16' }, { size: '3' }] } } }),
    node('x/shape', 'Shape', ['x']),
    node('pad', 'Pad', ['x', 'pad/paddings']),
    node('conv1/filter/read', 'Identity', ['conv1/filter']),
    node('conv1', '_FusedConv2D', ['pad', 'conv1/filter/read', 'conv1/bias'], conv(2, 'VALID', ['BiasAdd', 'Relu6'])),
    node('dw', 'FusedDepthwiseConv2dNative', ['conv1', 'dw/filter', 'dw/bias'], conv(1, 'SAME', ['BiasAdd', 'Relu'])),
    node('pw/Conv2D', 'Conv2D', ['dw', 'pw/filter'], conv(1, 'VALID')),
    node('pw/BiasAdd', 'BiasAdd', ['pw/Conv2D', 'pw/bias']),
    node('pw/Relu', 'Relu', ['pw/BiasAdd']),
    node('br/Conv2D', 'Conv2D', ['pw/Relu', 'br/filter'], conv(1, 'SAME')),
    node('add', 'AddV2', ['pw/Relu', 'br/Conv2D']),
    node('cat', 'ConcatV2', ['add', 'pw/Relu', 'cat/axis']),
    node('gap', 'Mean', ['cat', 'gap/axes'], { keep_dims: { b: true } }),
    node('flat', 'Reshape', ['gap', 'flat/shape']),
    node('fc', 'MatMul', ['flat', 'fc/w']),
    node('probs', 'Softmax', ['fc']),
    node('out', 'Identity', ['probs']),
  ],
}

test('graph rows: fused chains, weights behind Identity, merges, and shape bookkeeping left out', () => {
  const { sketches, warnings } = sketchGraphModel(graph, specs, (name) => consts[name] ?? null)
  assert.deepEqual(warnings, [])
  assert.deepEqual(
    sketches.map((s) => [s.name, s.type, s.kind, s.activation, s.params, s.kernelConst]),
    [
      ['x', 'Placeholder', 'input', null, 0, null],
      ['pad', 'Pad', 'other', null, 0, null],
      ['conv1', '_FusedConv2D', 'conv', 'relu6', 224, 'conv1/filter'],
      ['dw', 'FusedDepthwiseConv2dNative', 'depthwise', 'relu', 80, 'dw/filter'],
      ['pw/Relu', 'Conv2D', 'conv', 'relu', 72, 'pw/filter'],
      ['br/Conv2D', 'Conv2D', 'conv', 'linear', 576, 'br/filter'],
      ['add', 'AddV2', 'merge', null, 0, null],
      ['cat', 'ConcatV2', 'merge', null, 0, null],
      ['gap', 'Mean', 'global-pool', null, 0, null],
      ['flat', 'Reshape', 'reshape', null, 0, null],
      ['fc', 'MatMul', 'dense', 'linear', 64, null],
      ['probs', 'Softmax', 'activation', 'softmax', 0, null],
    ],
  )
  const inbound = Object.fromEntries(sketches.map((s) => [s.name, s.inbound]))
  assert.deepEqual(inbound['pw/Relu'], ['dw'])
  assert.deepEqual(inbound['add'], ['pw/Relu', 'br/Conv2D'])
  assert.deepEqual(inbound['cat'], ['add', 'pw/Relu'])

  const shapes = new Map<string, Shape>(
    Object.entries({
      x: [16, 16, 3],
      pad: [18, 18, 3],
      conv1: [8, 8, 8],
      dw: [8, 8, 8],
      'pw/Relu': [8, 8, 8],
      'br/Conv2D': [8, 8, 8],
      add: [8, 8, 8],
      cat: [8, 8, 16],
      gap: [1, 1, 16],
      flat: [16],
      fc: [4],
      probs: [4],
    }),
  )
  const arch = finishArchitecture(sketches, shapes)
  const rf = (name: string) => arch.layers.find((l) => l.name === name)!.receptiveField
  // Pad 1 → 3×3/2 valid: start -1 + 1 = 0; depthwise 3×3 'same' on 8: 3 + 2·2 = 7.
  assert.deepEqual(rf('pad'), { size: [1, 1], jump: [1, 1], start: [-1, -1], exact: true })
  assert.deepEqual(rf('conv1'), { size: [3, 3], jump: [2, 2], start: [0, 0], exact: true })
  assert.deepEqual(rf('pw/Relu'), { size: [7, 7], jump: [2, 2], start: [0, 0], exact: true })
  assert.deepEqual(rf('add'), { size: [11, 11], jump: [2, 2], start: [0, 0], exact: false })
  assert.deepEqual(rf('cat'), rf('add'))
  // Mean over 8×8 positions: from 0 - 5 to 14 + 5, whatever keep_dims; then everything after it keeps that field.
  assert.deepEqual(rf('gap'), { size: [25, 25], jump: [0, 0], start: [7, 7], exact: false })
  assert.deepEqual(rf('probs'), rf('gap'))
  assert.deepEqual(
    arch.layers.filter((l) => l.spatial).map((l) => l.name),
    ['x', 'pad', 'conv1', 'dw', 'pw/Relu', 'br/Conv2D', 'add', 'cat', 'gap'],
  )
})

test('graph rows: an op we cannot model gives null fields from there on, with a warning', () => {
  const g: GraphDefJSON = {
    node: [
      node('x', 'Placeholder'),
      node('t', 'Transpose', ['x', 'perm']),
      node('perm', 'Const'),
      node('r', 'Relu', ['t']),
    ],
  }
  const { sketches } = sketchGraphModel(g, [{ name: 'perm', shape: [4], dtype: 'int32' }], () => [0, 2, 1, 3])
  const arch = finishArchitecture(sketches, new Map([['x', [4, 4, 3]], ['t', [4, 4, 3]], ['r', [4, 4, 3]]]))
  assert.deepEqual(arch.layers.map((l) => l.receptiveField === null), [false, true, true])
  assert.match(arch.warnings.join('\n'), /"t" \(Transpose\)/)
})
