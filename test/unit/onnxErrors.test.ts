/**
 * Opening a broken or unusable ONNX model gives one clear message (issue 10): a truncated file, a file that is
 * not protobuf, missing external data, an unsupported op (named with its node and opset, found at open before
 * anything runs), two inputs, and inputs that are not one batch of images.
 */
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import * as tf from '@tensorflow/tfjs'
import type { ConvscopeError } from '../../src/shared/api/errors'
import { kernelFor } from '../../src/main/engine/graph/ops'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { loadOnnxModel } from '../../src/main/engine/models/onnxModel'
import { type ModelSpec, writeOnnxModel } from '../helpers/onnxBuilder'

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'onnx')
let dir: string

before(async () => {
  await tf.setBackend('cpu')
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convscope-onnx-errors-'))
})
after(() => fs.rmSync(dir, { recursive: true, force: true }))

/** A Relu model with the given input(s). */
function reluOn(inputs: ModelSpec['inputs']): ModelSpec {
  return { inputs, outputs: [{ name: 'y' }], nodes: [{ name: 'relu', opType: 'Relu', inputs: [inputs[0]!.name], outputs: ['y'] }] }
}

async function rejects(pathOrDir: string, code: string, message: RegExp): Promise<void> {
  await assert.rejects(loadModel(pathOrDir), (e: ConvscopeError) => {
    assert.equal(e.code, code, e.message)
    assert.match(e.message, message)
    return true
  })
}

test('a truncated .onnx names the file and says it is truncated', async () => {
  await rejects(path.join(FIXTURES, 'truncated.onnx'), 'BAD_MODEL', /truncated\.onnx: the file is truncated/)
})

test('a file that is not protobuf is "not an ONNX file"', async () => {
  await rejects(path.join(FIXTURES, 'not_onnx.onnx'), 'BAD_MODEL', /not_onnx\.onnx: not an ONNX file/)
})

test('missing external data names the data file and the folder it was looked for in', async () => {
  await rejects(path.join(FIXTURES, 'external_missing'), 'BAD_MODEL', /missing external data file 'weights\.bin' \(initializer '[^']+'; looked in .*external_missing\)/)
})

test('an unsupported op names op, node and opset, at open, before any kernel runs', async () => {
  const file = writeOnnxModel(path.join(dir, 'unsupported.onnx'), {
    opset: 17,
    inputs: [{ name: 'x', dims: ['batch', 3, 8, 8] }],
    outputs: [{ name: 'y' }],
    nodes: [
      { name: '/relu/Relu', opType: 'Relu', inputs: ['x'], outputs: ['r'] },
      { name: '/layer1/Det', opType: 'Det', inputs: ['r'], outputs: ['d'] },
      { name: '/layer1/Frob', opType: 'Frobnicate', domain: 'com.example', inputs: ['d'], outputs: ['y'] },
    ],
    opsets: { 'com.example': 1 },
  })
  let ran = 0
  const spy = (op: string, domain: string) => {
    const k = kernelFor(op, domain)
    return k && ((...args: Parameters<typeof k>) => (ran++, k(...args)))
  }
  await assert.rejects(loadOnnxModel(file, { kernels: spy }), (e: ConvscopeError) => {
    assert.equal(e.code, 'UNSUPPORTED_OP')
    assert.match(e.message, /unsupported\.onnx: op Det \(node "\/layer1\/Det", opset 17\) is not supported by convscope/)
    assert.match(e.message, /also unsupported: com\.example\.Frobnicate/)
    return true
  })
  assert.equal(ran, 0)
})

test('two inputs: the model needs exactly one image input', async () => {
  const file = writeOnnxModel(path.join(dir, 'two.onnx'), {
    inputs: [{ name: 'image', dims: [1, 3, 8, 8] }, { name: 'mask', dims: [1, 3, 8, 8] }],
    outputs: [{ name: 'y' }],
    nodes: [{ opType: 'Add', inputs: ['image', 'mask'], outputs: ['y'] }],
  })
  await rejects(file, 'BAD_MODEL', /two\.onnx: the model has 2 inputs \("image", "mask"\); convscope needs exactly one image input/)
})

test('an input that is not a batch of 1- or 3-channel float images says what it is and what is needed', async () => {
  const cases: [string, ModelSpec['inputs'][number], RegExp][] = [
    ['rank2', { name: 'features', dims: ['batch', 10] }, /the input "features" has shape \[batch, 10\] \(rank 2\); convscope needs one float image input \[batch, channels, height, width\] \(NCHW/],
    ['seven', { name: 'x', dims: ['batch', 7, 32, 32] }, /the input "x" has shape \[batch, 7, 32, 32\]: 7 channels; convscope shows images with 1 or 3 channels/],
    ['nhwc', { name: 'x', dims: ['batch', 224, 224, 3] }, /\[batch, 224, 224, 3\]: 224 channels/],
    ['ints', { name: 'tokens', dtype: 'int64', dims: ['batch', 3, 8, 8] }, /the input "tokens" is int64; convscope needs one float image input/],
    ['anyc', { name: 'x', dims: ['batch', 'c', 8, 8] }, /its number of channels is not fixed/],
  ]
  for (const [name, input, message] of cases) await rejects(writeOnnxModel(path.join(dir, `${name}.onnx`), reluOn([input])), 'BAD_MODEL', message)
})

test('a folder with several .onnx files asks for one of them', async () => {
  const folder = path.join(dir, 'several')
  fs.mkdirSync(folder)
  for (const n of ['a', 'b']) writeOnnxModel(path.join(folder, `${n}.onnx`), reluOn([{ name: 'x', dims: [1, 3, 4, 4] }]))
  await rejects(folder, 'BAD_MODEL', /the folder holds 2 \.onnx files \(a\.onnx, b\.onnx\); open one of them/)
})
