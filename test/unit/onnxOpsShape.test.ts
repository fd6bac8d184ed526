/**
 * ONNX shape and data-movement ops in tfjs (src/main/engine/graph/ops/shape.ts) against onnxruntime-node,
 * including the attribute → input moves across opsets (Pad 11, Slice 10, Unsqueeze / Squeeze / Split 13) and the
 * Shape → Gather → Unsqueeze → Concat → Reshape chain exporters write for a flatten.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import * as tf from '@tensorflow/tfjs'
import ort from 'onnxruntime-node'
import { kernelFor } from '../../src/main/engine/graph/ops'
import { readOnnxModel, tensorInts } from '../../src/main/engine/models/onnx'
import { buildOnnxModel, float, tensor, writeOnnxModel, type ModelSpec } from '../helpers/onnxBuilder'
import { checkOp, useEngineBackend, type Feed, type OpCase } from '../helpers/onnxOpHarness'

const x = (dims: number[]): Feed => ({ name: 'x', dims })
const ints = (name: string, values: number[], dims = [values.length]): Feed => ({ name, dims, dtype: 'int64', values })
const INT64_MAX = Number.MAX_SAFE_INTEGER // what exporters write for "to the end" (9223372036854775807), as large as a double holds exactly

async function each(cases: OpCase[]): Promise<void> {
  for (const c of cases) await checkOp(c)
}

test('Flatten, Reshape (0, −1, allowzero), Transpose, Concat', () =>
  each([
    { name: 'flatten default axis 1', op: 'Flatten', feeds: [x([2, 3, 4, 5])] },
    { name: 'flatten axis 0', op: 'Flatten', feeds: [x([2, 3, 4])], attributes: { axis: 0 } },
    { name: 'flatten axis 2', op: 'Flatten', feeds: [x([2, 3, 4, 5])], attributes: { axis: 2 } },
    { name: 'flatten axis −1', op: 'Flatten', feeds: [x([2, 3, 4, 5])], attributes: { axis: -1 } },
    { name: 'reshape 0 and −1', op: 'Reshape', feeds: [x([2, 3, 4, 5]), ints('shape', [0, -1])] },
    { name: 'reshape 0 in the middle', op: 'Reshape', feeds: [x([2, 3, 4, 5]), ints('shape', [4, 0, -1, 5])] },
    { name: 'reshape allowzero (no zeros)', op: 'Reshape', opset: 14, feeds: [x([2, 3, 4]), ints('shape', [6, 4])], attributes: { allowzero: 1 } },
    { name: 'reshape allowzero: 0 is a size', op: 'Reshape', opset: 14, feeds: [x([3, 0]), ints('shape', [0, 4])], attributes: { allowzero: 1 } },
    { name: 'transpose perm', op: 'Transpose', feeds: [x([2, 3, 4, 5])], attributes: { perm: [0, 2, 3, 1] } },
    { name: 'transpose default (reverse)', op: 'Transpose', feeds: [x([2, 3, 4])] },
    { name: 'concat axis 1', op: 'Concat', feeds: [{ name: 'a', dims: [2, 3, 4] }, { name: 'b', dims: [2, 1, 4] }, { name: 'c', dims: [2, 2, 4] }], attributes: { axis: 1 } },
    { name: 'concat axis −1', op: 'Concat', feeds: [{ name: 'a', dims: [2, 3] }, { name: 'b', dims: [2, 4] }], attributes: { axis: -1 } },
    { name: 'concat of int64 (shape building)', op: 'Concat', feeds: [ints('a', [1]), ints('b', [-1])], attributes: { axis: 0 }, outputs: ['int64'] },
  ]))

test('Pad: attribute form (opset < 11), input form, constant / reflect / edge, negative pads, axes (opset 18)', () =>
  each([
    { name: 'pad attribute form', op: 'Pad', opset: 10, feeds: [x([1, 2, 3, 4])], attributes: { pads: [0, 0, 1, 2, 0, 0, 2, 1], value: float(0.5) } },
    { name: 'pad constant input form', op: 'Pad', opset: 13, feeds: [x([1, 2, 3, 4]), ints('pads', [0, 0, 1, 2, 0, 0, 2, 1]), { name: 'v', dims: [], values: [1.5] }] },
    { name: 'pad constant no value', op: 'Pad', opset: 11, feeds: [x([2, 3]), ints('pads', [1, 0, 0, 2])] },
    { name: 'pad reflect', op: 'Pad', opset: 13, feeds: [x([1, 2, 4, 5]), ints('pads', [0, 0, 2, 1, 0, 0, 1, 3])], attributes: { mode: 'reflect' } },
    { name: 'pad edge', op: 'Pad', opset: 13, feeds: [x([1, 2, 4, 5]), ints('pads', [0, 0, 2, 1, 0, 0, 1, 3])], attributes: { mode: 'edge' } },
    { name: 'pad negative (crop)', op: 'Pad', opset: 13, feeds: [x([1, 2, 5, 5]), ints('pads', [0, 0, -1, 2, 0, 0, 1, -2])] },
    { name: 'pad axes (opset 18)', op: 'Pad', opset: 18, feeds: [x([1, 2, 4, 5]), ints('pads', [1, 2, 3, 0]), { name: 'v', dims: [], values: [-1] }, ints('axes', [-1, 2])] },
  ]))

test('Shape (start / end since 15), Size, Gather (negative, 2-D and scalar indices), Unsqueeze, Squeeze', () =>
  each([
    { name: 'shape', op: 'Shape', feeds: [x([2, 3, 4, 5])], outputs: ['int64'] },
    { name: 'shape start 1 end −1', op: 'Shape', opset: 15, feeds: [x([2, 3, 4, 5])], attributes: { start: 1, end: -1 }, outputs: ['int64'] },
    { name: 'shape start −2', op: 'Shape', opset: 15, feeds: [x([2, 3, 4, 5])], attributes: { start: -2 }, outputs: ['int64'] },
    { name: 'size', op: 'Size', feeds: [x([2, 3, 4])], outputs: ['int64'] },
    { name: 'gather axis 0, negative index', op: 'Gather', feeds: [x([5, 3]), ints('i', [0, -1, 2])] },
    { name: 'gather axis 1, 2-D indices', op: 'Gather', feeds: [x([2, 5, 3]), ints('i', [4, 0, 1, 1], [2, 2])], attributes: { axis: 1 } },
    { name: 'gather scalar index (shape chain)', op: 'Gather', feeds: [ints('s', [2, 3, 4, 5]), ints('i', [0], [])], outputs: ['int64'] },
    { name: 'unsqueeze attribute (opset 11)', op: 'Unsqueeze', opset: 11, feeds: [x([3, 4])], attributes: { axes: [0, -1] } },
    { name: 'unsqueeze input (opset 13)', op: 'Unsqueeze', opset: 13, feeds: [x([3, 4]), ints('axes', [1, 3])] },
    { name: 'unsqueeze a scalar', op: 'Unsqueeze', opset: 13, feeds: [ints('s', [7], []), ints('axes', [0])], outputs: ['int64'] },
    { name: 'squeeze attribute (opset 11)', op: 'Squeeze', opset: 11, feeds: [x([1, 3, 1, 4])], attributes: { axes: [-2] } },
    { name: 'squeeze input (opset 13)', op: 'Squeeze', opset: 13, feeds: [x([1, 3, 1, 4]), ints('axes', [0, 2])] },
    { name: 'squeeze all ones', op: 'Squeeze', opset: 13, feeds: [x([1, 3, 1, 4, 1])] },
  ]))

test('Slice: attributes (opset 9), inputs with axes and steps (2, −1, −2), clamped bounds', () =>
  each([
    { name: 'slice attributes', op: 'Slice', opset: 9, feeds: [x([4, 5, 6])], attributes: { starts: [1, -4], ends: [3, 1000], axes: [0, 2] } },
    { name: 'slice attributes, no axes', op: 'Slice', opset: 9, feeds: [x([4, 5])], attributes: { starts: [1, 0], ends: [-1, 3] } },
    { name: 'slice inputs', op: 'Slice', opset: 13, feeds: [x([4, 5, 6]), ints('s', [1, 2]), ints('e', [INT64_MAX, -1]), ints('a', [1, -1])] },
    { name: 'slice step 2', op: 'Slice', opset: 13, feeds: [x([4, 7, 6]), ints('s', [0, 1]), ints('e', [7, 6]), ints('a', [1, 2]), ints('st', [2, 3])] },
    { name: 'slice step −1 (reverse)', op: 'Slice', opset: 13, feeds: [x([4, 5]), ints('s', [-1]), ints('e', [-INT64_MAX]), ints('a', [1]), ints('st', [-1])] },
    { name: 'slice step −2 from the middle', op: 'Slice', opset: 13, feeds: [x([4, 9]), ints('s', [7, 3]), ints('e', [0, 0]), ints('a', [1, 0]), ints('st', [-2, -1])] },
    { name: 'slice empty', op: 'Slice', opset: 13, feeds: [x([4, 5]), ints('s', [3]), ints('e', [1]), ints('a', [0])] },
  ]))

test('Split (attribute < 13, input ≥ 13, equal parts, num_outputs ≥ 18), Tile, Expand', () =>
  each([
    { name: 'split attribute', op: 'Split', opset: 11, feeds: [x([2, 6, 3])], attributes: { axis: 1, split: [1, 2, 3] }, outputs: ['float32', 'float32', 'float32'] },
    { name: 'split input', op: 'Split', opset: 13, feeds: [x([2, 6, 3]), ints('sp', [4, 2])], attributes: { axis: 1 }, outputs: ['float32', 'float32'] },
    { name: 'split equal parts', op: 'Split', opset: 13, feeds: [x([2, 6, 3])], attributes: { axis: -2 }, outputs: ['float32', 'float32', 'float32'] },
    { name: 'split num_outputs, uneven', op: 'Split', opset: 18, feeds: [x([7, 2])], attributes: { num_outputs: 3 }, outputs: ['float32', 'float32', 'float32'] },
    { name: 'tile', op: 'Tile', feeds: [x([2, 3]), ints('r', [2, 3])] },
    { name: 'expand [3, 1] to [2, 3, 4]', op: 'Expand', feeds: [x([3, 1]), ints('shape', [2, 3, 4])] },
    { name: 'expand bidirectional [3, 1] with [1, 5]', op: 'Expand', feeds: [x([3, 1]), ints('shape', [1, 5])] },
  ]))

test('Cast, Constant (value, value_float(s), value_int(s)), ConstantOfShape, Identity, Dropout (mask)', () =>
  each([
    { name: 'cast float → int64 truncates', op: 'Cast', feeds: [{ name: 'x', dims: [6], values: [-2.7, -0.5, 0, 0.5, 1.9, 3.2] }], attributes: { to: 7 }, outputs: ['int64'] },
    { name: 'cast int64 → float', op: 'Cast', feeds: [ints('x', [-3, 0, 5])], attributes: { to: 1 }, outputs: ['float32'] },
    { name: 'cast float → bool', op: 'Cast', feeds: [{ name: 'x', dims: [3], values: [0, 0.5, -2] }], attributes: { to: 9 }, outputs: ['bool'] },
    { name: 'constant value tensor', op: 'Constant', feeds: [], attributes: { value: tensor({ dims: [2, 2], values: [1, -2, 3.5, 4] }) } },
    { name: 'constant int64 value tensor', op: 'Constant', feeds: [], attributes: { value: tensor({ dims: [2], dtype: 'int64', values: [-1, 512] }) }, outputs: ['int64'] },
    { name: 'constant value_float', op: 'Constant', feeds: [], attributes: { value_float: float(2.5) } },
    { name: 'constant value_floats', op: 'Constant', feeds: [], attributes: { value_floats: [0.5, 1.5] } },
    { name: 'constant value_int', op: 'Constant', feeds: [], attributes: { value_int: 3 }, outputs: ['int64'] },
    { name: 'constant value_ints', op: 'Constant', feeds: [], attributes: { value_ints: [1, -1] }, outputs: ['int64'] },
    { name: 'constant of shape (default 0)', op: 'ConstantOfShape', feeds: [ints('s', [2, 3])] },
    { name: 'constant of shape, int64 value', op: 'ConstantOfShape', feeds: [ints('s', [4])], attributes: { value: tensor({ dims: [1], dtype: 'int64', values: [7] }) }, outputs: ['int64'] },
    { name: 'identity', op: 'Identity', feeds: [x([2, 3])] },
    { name: 'dropout', op: 'Dropout', feeds: [x([2, 3])] },
    { name: 'dropout with mask', op: 'Dropout', feeds: [x([2, 3])], outputs: ['float32', 'bool'] },
    { name: 'dropout opset 9', op: 'Dropout', opset: 9, feeds: [x([2, 3])], attributes: { ratio: float(0.3) } },
    { name: 'dropout opset 9 with a float mask', op: 'Dropout', opset: 9, feeds: [x([2, 3])], outputs: ['float32', 'float32'] },
    { name: 'dropout opset 10 with a bool mask', op: 'Dropout', opset: 10, feeds: [x([2, 3])], outputs: ['float32', 'bool'] },
  ]))

test('the flatten chain exporters write: Shape → Gather → Unsqueeze → Concat → Reshape, run node by node', async () => {
  await useEngineBackend()
  const spec: ModelSpec = {
    opset: 13,
    inputs: [{ name: 'x', dims: ['batch', 8, 1, 1] }],
    outputs: [{ name: 'y' }],
    initializers: [
      { name: 'zero', dims: [], dtype: 'int64', values: [0] },
      { name: 'axes', dims: [1], dtype: 'int64', values: [0] },
      { name: 'minus1', dims: [1], dtype: 'int64', values: [-1] },
    ],
    nodes: [
      { opType: 'Shape', inputs: ['x'], outputs: ['s'] },
      { opType: 'Gather', inputs: ['s', 'zero'], outputs: ['n'], attributes: { axis: 0 } },
      { opType: 'Unsqueeze', inputs: ['n', 'axes'], outputs: ['n1'] },
      { opType: 'Concat', inputs: ['n1', 'minus1'], outputs: ['shape'], attributes: { axis: 0 } },
      { opType: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'] },
    ],
  }
  const values = Float32Array.from({ length: 16 }, (_, i) => i / 4 - 2)
  const session = await ort.InferenceSession.create(buildOnnxModel(spec))
  const reference = (await session.run({ x: new ort.Tensor('float32', values, [2, 8, 1, 1]) })).y!
  await session.release()

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convscope-chain-'))
  const model = readOnnxModel(writeOnnxModel(path.join(dir, 'chain.onnx'), spec))
  const y = tf.tidy(() => {
    const env = new Map<string, tf.Tensor>([['x', tf.tensor(values, [2, 8, 1, 1])]])
    for (const [name, init] of model.initializers) env.set(name, tf.tensor(tensorInts(init), init.dims, 'int32'))
    for (const n of model.nodes) {
      const outs = kernelFor(n.opType, n.domain)!(n.inputs.map((i) => env.get(i)!), { ...n, opset: model.opset, outputCount: n.outputs.length })
      n.outputs.forEach((o, i) => env.set(o, outs[i]!))
    }
    return env.get('y')!.clone()
  })
  fs.rmSync(dir, { recursive: true, force: true })
  assert.deepEqual(y.shape, [...reference.dims])
  assert.deepEqual(Array.from(y.dataSync()), Array.from(reference.data as Float32Array))
  y.dispose()
})
