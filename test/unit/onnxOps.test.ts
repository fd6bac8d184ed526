/**
 * The ONNX op registry (src/main/engine/graph/ops): what it lists, gradients through the kernels (tf.grad on the
 * engine's backend against a central finite difference along a random direction), and UnsupportedOpError for
 * attribute values no kernel implements. The values of every op are checked against onnxruntime-node in
 * onnxOpsConv / onnxOpsMath / onnxOpsShape.test.ts.
 */
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import * as tf from '@tensorflow/tfjs'
import { SUPPORTED_OPS, UnsupportedOpError, holdPreparedWeights, kernelFor, releasePreparedWeights } from '../../src/main/engine/graph/ops'
import { int32Values } from '../../src/main/engine/graph/ops/attributes'
import { float, tensor } from '../helpers/onnxBuilder'
import { opModel, Random, useEngineBackend, type OpCase } from '../helpers/onnxOpHarness'

before(useEngineBackend)

test('the registry lists every op of the 11 torchvision exports, and only default-domain ops', () => {
  // the ops of alexnet … convnext_tiny exported by torch 1.13 at opset 13 (measured)
  const torchvision = 'Add AveragePool BatchNormalization Clip Concat Constant Conv Div Erf Flatten Gemm GlobalAveragePool Identity MatMul MaxPool Mul Pad Pow ReduceMean Relu Sigmoid Sqrt Sub Transpose'
  for (const op of torchvision.split(' ')) {
    assert.ok(SUPPORTED_OPS.includes(op), `${op} is not supported`)
    assert.equal(typeof kernelFor(op, ''), 'function')
    assert.equal(kernelFor(op, 'ai.onnx'), kernelFor(op, ''))
  }
  assert.deepEqual([...SUPPORTED_OPS], [...SUPPORTED_OPS].sort())
  assert.equal(kernelFor('Conv', 'com.microsoft'), undefined)
  assert.equal(kernelFor('NonMaxSuppression', ''), undefined)
  assert.equal(kernelFor('toString', ''), undefined)
})

test('int64 constants saturate to int32 (INT64_MAX "to the end" stays the end, never wraps to 0)', () => {
  const { node } = opModel({ name: 'ends', op: 'Constant', feeds: [], attributes: { value: tensor({ dims: [3], dtype: 'int64', values: [2 ** 63, -(2 ** 63), -5] }) }, outputs: ['int64'] })
  const [t] = kernelFor('Constant', '')!([], node)
  assert.deepEqual(Array.from(t!.dataSync()), [2 ** 31 - 1, -(2 ** 31), -5])
  t!.dispose()
  assert.deepEqual(Array.from(int32Values([9223372036854775807, -9223372036854775808, 7])), [2147483647, -2147483648, 7])
})

test('a held Conv weight is prepared once: later runs make no tensors, give the same values, and release frees it', () => {
  const { node } = opModel({ name: 'grouped dilated conv', op: 'Conv', feeds: [x([1, 4, 7, 7]), w([6, 2, 3, 3])], attributes: { group: 2, dilations: [2, 1], pads: [2, 1, 2, 1] } })
  const conv = kernelFor('Conv', '')!
  const random = new Random(7)
  const input = tf.tensor(random.values(4 * 49), [1, 4, 7, 7])
  const weight = tf.tensor(random.values(6 * 2 * 9), [6, 2, 3, 3])
  const run = (): Float32Array => tf.tidy(() => conv([input, weight, null], node)[0]!.dataSync() as Float32Array)
  const uncached = run()
  const baseline = tf.memory().numTensors
  assert.deepEqual(run(), uncached)
  assert.equal(tf.memory().numTensors, baseline, 'a weight not held is prepared on every run, nothing kept')
  holdPreparedWeights([weight])
  const first = run()
  const prepared = tf.memory().numTensors - baseline
  assert.equal(prepared, 2, 'one prepared filter per group')
  const second = run()
  assert.equal(tf.memory().numTensors - baseline, prepared, 'the second run made no tensors')
  assert.deepEqual(first, uncached)
  assert.deepEqual(second, uncached)
  releasePreparedWeights([weight])
  assert.equal(tf.memory().numTensors, baseline)
  tf.dispose([input, weight])
})

// ---------------------------------------------------------------------------------------------------
// Gradients
// ---------------------------------------------------------------------------------------------------

const EPSILON = 1e-3
const GRADIENT_TOLERANCE = 1e-2

/**
 * d/dt f(x + t·v) at 0 two ways, f = Σ kernel(x, …)₀ · r: tf.grad's ⟨∇f, v⟩ and (f(x + εv) − f(x − εv)) / 2ε.
 * Only the first input is differentiated; the others (weights, …) are constants.
 */
function directionalDerivatives(c: OpCase, seed: number): { analytic: number; numeric: number } {
  const { node } = opModel(c)
  const kernel = kernelFor(node.opType, node.domain)!
  const random = new Random(seed)
  const values = c.feeds.map((f) => Array.from(f.values ?? random.values(f.dims.reduce((a, b) => a * b, 1), ...(f.range ?? [-1, 1]))))
  return tf.tidy(() => {
    const [x, ...rest] = c.feeds.map((f, i) => tf.tensor(values[i]!, f.dims, f.dtype === 'int64' ? 'int32' : 'float32'))
    const run = (t: tf.Tensor): tf.Tensor => kernel([t, ...rest], node)[0]!
    const r = tf.tensor(random.values(run(x!).size), run(x!).shape)
    const v = tf.tensor(random.values(x!.size), x!.shape)
    const f = (t: tf.Tensor): tf.Scalar => tf.sum(tf.mul(run(t), r))
    const grad = tf.grad(f)(x!)
    const analytic = tf.sum(tf.mul(grad, v)).dataSync()[0]!
    const plus = f(tf.add(x!, tf.mul(v, EPSILON))).dataSync()[0]!
    const minus = f(tf.sub(x!, tf.mul(v, EPSILON))).dataSync()[0]!
    return { analytic, numeric: (plus - minus) / (2 * EPSILON) }
  })
}

const x = (dims: number[]) => ({ name: 'x', dims })
const w = (dims: number[]) => ({ name: 'w', dims })
const GRADIENT_CASES: OpCase[] = [
  { name: 'Conv pads stride', op: 'Conv', feeds: [x([1, 3, 7, 7]), w([4, 3, 3, 3]), { name: 'b', dims: [4] }], attributes: { pads: [1, 0, 2, 1], strides: [2, 2] } },
  { name: 'Conv group 2', op: 'Conv', feeds: [x([1, 4, 6, 6]), w([4, 2, 3, 3])], attributes: { group: 2, pads: [1, 1, 1, 1] } },
  { name: 'Conv depthwise', op: 'Conv', feeds: [x([1, 3, 6, 6]), w([3, 1, 3, 3])], attributes: { group: 3, pads: [1, 1, 1, 1] } },
  { name: 'Conv dilation 2 stride 2', op: 'Conv', feeds: [x([1, 2, 9, 9]), w([2, 2, 3, 3])], attributes: { dilations: [2, 2], strides: [2, 2] } },
  { name: 'ConvTranspose', op: 'ConvTranspose', feeds: [x([1, 2, 4, 4]), w([2, 3, 3, 3])], attributes: { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] } },
  { name: 'MaxPool pads ceil_mode', op: 'MaxPool', feeds: [x([1, 2, 7, 7])], attributes: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 } },
  { name: 'MaxPool dilations 2', op: 'MaxPool', feeds: [x([1, 2, 8, 8])], attributes: { kernel_shape: [2, 2], dilations: [2, 2], strides: [2, 2] } },
  { name: 'AveragePool pads ceil_mode', op: 'AveragePool', feeds: [x([1, 2, 7, 7])], attributes: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 } },
  { name: 'GlobalAveragePool', op: 'GlobalAveragePool', feeds: [x([1, 3, 4, 4])] },
  { name: 'BatchNormalization', op: 'BatchNormalization', feeds: [x([1, 3, 4, 4]), { name: 's', dims: [3] }, { name: 'b', dims: [3] }, { name: 'm', dims: [3] }, { name: 'v', dims: [3], range: [0.5, 2] }] },
  { name: 'LRN', op: 'LRN', feeds: [{ name: 'x', dims: [1, 6, 3, 3], range: [-2, 2] }], attributes: { size: 3, alpha: float(0.5) } },
  { name: 'LayerNormalization', op: 'LayerNormalization', opset: 17, feeds: [x([2, 3, 6]), w([6]), { name: 'b', dims: [6] }] },
  { name: 'InstanceNormalization', op: 'InstanceNormalization', feeds: [x([1, 2, 3, 3]), w([2]), { name: 'b', dims: [2] }] },
  { name: 'Gemm transB', op: 'Gemm', feeds: [x([2, 6]), w([4, 6]), { name: 'c', dims: [4] }], attributes: { transB: 1, alpha: float(0.5) } },
  { name: 'MatMul batched', op: 'MatMul', feeds: [x([2, 3, 4]), w([4, 5])] },
  { name: 'Clip (ReLU6)', op: 'Clip', feeds: [{ name: 'x', dims: [2, 10], range: [-3, 9] }, { name: 'lo', dims: [], values: [0] }, { name: 'hi', dims: [], values: [6] }] },
  { name: 'Relu', op: 'Relu', feeds: [x([2, 10])] },
  { name: 'Sigmoid', op: 'Sigmoid', feeds: [x([2, 10])] },
  { name: 'HardSwish', op: 'HardSwish', opset: 14, feeds: [{ name: 'x', dims: [2, 10], range: [-5, 5] }] },
  { name: 'Erf', op: 'Erf', feeds: [x([2, 10])] },
  { name: 'Gelu', op: 'Gelu', opset: 20, feeds: [x([2, 10])] },
  { name: 'LeakyRelu', op: 'LeakyRelu', feeds: [x([2, 10])] },
  { name: 'Softmax', op: 'Softmax', feeds: [x([2, 10])] },
  { name: 'Add broadcast', op: 'Add', feeds: [x([2, 3, 4]), w([3, 1])] },
  { name: 'Sub', op: 'Sub', feeds: [x([2, 3]), w([2, 3])] },
  { name: 'Mul broadcast', op: 'Mul', feeds: [x([2, 3, 4]), w([4])] },
  { name: 'Div', op: 'Div', feeds: [x([2, 3]), { name: 'd', dims: [2, 3], range: [0.5, 2] }] },
  { name: 'Pow', op: 'Pow', feeds: [{ name: 'x', dims: [2, 3], range: [0.5, 2] }, { name: 'e', dims: [], values: [3] }] },
  { name: 'Sqrt', op: 'Sqrt', feeds: [{ name: 'x', dims: [2, 3], range: [0.5, 2] }] },
  { name: 'ReduceMean', op: 'ReduceMean', feeds: [x([2, 3, 4])], attributes: { axes: [-1] } },
  { name: 'Pad reflect', op: 'Pad', feeds: [x([1, 2, 4, 4]), { name: 'p', dims: [8], dtype: 'int64', values: [0, 0, 1, 2, 0, 0, 2, 1] }], attributes: { mode: 'reflect' } },
  { name: 'Pad edge', op: 'Pad', feeds: [x([1, 2, 4, 4]), { name: 'p', dims: [8], dtype: 'int64', values: [0, 0, 1, 2, 0, 0, 2, 1] }], attributes: { mode: 'edge' } },
  { name: 'Slice step −2', op: 'Slice', feeds: [x([3, 8]), ...['s', 'e', 'a', 'st'].map((n, i) => ({ name: n, dims: [1], dtype: 'int64' as const, values: [[6, 0, 1, -2][i]!] }))] },
  { name: 'Flatten', op: 'Flatten', feeds: [x([2, 3, 2])] },
  { name: 'Resize linear', op: 'Resize', feeds: [x([1, 2, 3, 4]), { name: 'r', dims: [0] }, { name: 'sc', dims: [4], values: [1, 1, 1.5, 2] }], attributes: { mode: 'linear' } },
  { name: 'Transpose', op: 'Transpose', feeds: [x([2, 3, 4])], attributes: { perm: [1, 2, 0] } },
]

test('gradients flow through the kernels and match a finite difference', async () => {
  GRADIENT_CASES.forEach((c, i) => {
    const { analytic, numeric } = directionalDerivatives(c, 1000 + i)
    const err = Math.abs(analytic - numeric) / Math.max(1, Math.abs(numeric))
    assert.ok(Number.isFinite(analytic) && err <= GRADIENT_TOLERANCE, `${c.name}: tf.grad ${analytic}, finite difference ${numeric} (relative error ${err.toExponential(2)})`)
  })
})

// ---------------------------------------------------------------------------------------------------
// Unsupported attribute values
// ---------------------------------------------------------------------------------------------------

const UNSUPPORTED: [OpCase, RegExp][] = [
  [{ name: 'maxpool indices', op: 'MaxPool', feeds: [x([1, 1, 4, 4])], attributes: { kernel_shape: [2, 2] }, outputs: ['float32', 'int64'] }, /indices/],
  [{ name: 'pad wrap', op: 'Pad', opset: 19, feeds: [x([1, 4]), { name: 'p', dims: [4], dtype: 'int64', values: [0, 1, 0, 1] }], attributes: { mode: 'wrap' } }, /mode "wrap"/],
  [{ name: 'conv 3-D', op: 'Conv', feeds: [x([1, 1, 3, 3, 3]), w([1, 1, 2, 2, 2])] }, /3-D window/],
  [{ name: 'conv auto_pad', op: 'Conv', feeds: [x([1, 1, 3, 3]), w([1, 1, 2, 2])], attributes: { auto_pad: 'SAME_MIDDLE' } }, /auto_pad "SAME_MIDDLE"/],
  [{ name: 'batchnorm training', op: 'BatchNormalization', opset: 15, feeds: [x([1, 2, 2, 2]), ...['s', 'b', 'm', 'v'].map((n) => ({ name: n, dims: [2] }))], attributes: { training_mode: 1 } }, /training mode/],
  [{ name: 'resize cubic', op: 'Resize', feeds: [x([1, 1, 2, 2]), { name: 'r', dims: [0] }, { name: 'sc', dims: [4], values: [1, 1, 2, 2] }], attributes: { mode: 'cubic' } }, /mode "cubic"/],
  [{ name: 'gelu approximate', op: 'Gelu', opset: 20, feeds: [x([2])], attributes: { approximate: 'cubic' } }, /approximate "cubic"/],
]

test('an attribute value no kernel implements is an UnsupportedOpError naming it', () => {
  for (const [c, message] of UNSUPPORTED) {
    const { node } = opModel(c)
    const inputs = c.feeds.map((f) => (f.values ? tf.tensor(f.values as number[], f.dims, 'int32') : tf.zeros(f.dims)))
    assert.throws(
      () => tf.tidy(() => kernelFor(node.opType, node.domain)!(inputs, node)),
      (e: unknown) => e instanceof UnsupportedOpError && message.test(e.what),
      c.name,
    )
    tf.dispose(inputs)
  }
})
