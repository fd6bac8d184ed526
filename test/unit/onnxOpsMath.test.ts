/**
 * ONNX activations, elementwise ops (multidirectional broadcasting), Gemm / MatMul and reductions in tfjs
 * (src/main/engine/graph/ops) against onnxruntime-node on the same seeded inputs (test/helpers/onnxOpHarness.ts).
 */
import { test } from 'node:test'
import { float } from '../helpers/onnxBuilder'
import { checkOp, type Feed, type OpCase } from '../helpers/onnxOpHarness'

const f = (name: string, dims: number[], range?: [number, number]): Feed => ({ name, dims, range })
const x = (dims: number[], range?: [number, number]): Feed => f('x', dims, range)
const ints = (name: string, values: number[], dims = [values.length]): Feed => ({ name, dims, dtype: 'int64', values })
const scalar = (name: string, value: number): Feed => ({ name, dims: [], values: [value] })

async function each(cases: OpCase[]): Promise<void> {
  for (const c of cases) await checkOp(c)
}

const unary = (op: string, range: [number, number] = [-3, 3], opset = 13, attributes?: OpCase['attributes']): OpCase => ({
  name: `${op}${attributes ? ' ' + JSON.stringify(attributes) : ''} (opset ${opset})`,
  op,
  opset,
  feeds: [x([2, 3, 4, 5], range)],
  attributes,
})

test('Relu, LeakyRelu, PRelu, Sigmoid, HardSigmoid, HardSwish, Tanh, Erf, Elu, Softplus, Gelu', () =>
  each([
    unary('Relu'),
    unary('LeakyRelu'),
    unary('LeakyRelu', undefined, 13, { alpha: float(0.2) }),
    { name: 'PRelu per channel', op: 'PRelu', feeds: [x([2, 3, 4, 5]), f('slope', [3, 1, 1])] },
    unary('Sigmoid'),
    unary('HardSigmoid', [-6, 6]),
    unary('HardSigmoid', [-6, 6], 13, { alpha: float(0.3), beta: float(0.4) }),
    unary('HardSwish', [-6, 6], 14),
    unary('Tanh'),
    unary('Erf'),
    unary('Elu'),
    unary('Elu', undefined, 13, { alpha: float(0.5) }),
    unary('Softplus'),
    unary('Gelu', undefined, 20),
    unary('Gelu', undefined, 20, { approximate: 'tanh' }),
  ]))

test('Clip: attributes before opset 11, optional inputs since (min only, max only, both)', () =>
  each([
    unary('Clip', [-8, 8], 9, { min: float(0), max: float(6) }),
    unary('Clip', [-8, 8], 10, { max: float(0.5) }),
    { name: 'clip inputs min, max', op: 'Clip', opset: 13, feeds: [x([2, 3, 4], [-8, 8]), scalar('lo', 0), scalar('hi', 6)] },
    { name: 'clip input max only', op: 'Clip', opset: 11, feeds: [x([2, 3, 4], [-8, 8]), scalar('hi', 1.5)], inputs: ['x', '', 'hi'] },
    { name: 'clip input min only', op: 'Clip', opset: 12, feeds: [x([2, 3, 4], [-8, 8]), scalar('lo', -0.5)] },
    { name: 'clip no bounds', op: 'Clip', opset: 13, feeds: [x([2, 3, 4], [-8, 8])] },
  ]))

test('Softmax / LogSoftmax: opset < 13 coerces to 2-D at axis, opset ≥ 13 one axis', () =>
  each(
    ['Softmax', 'LogSoftmax'].flatMap((op): OpCase[] => [
      { name: `${op} opset 11 default axis 1`, op, opset: 11, feeds: [x([2, 3, 4], [-4, 4])] },
      { name: `${op} opset 11 axis 2`, op, opset: 11, feeds: [x([2, 3, 4, 2], [-4, 4])], attributes: { axis: 2 } },
      { name: `${op} opset 13 default axis −1`, op, opset: 13, feeds: [x([2, 3, 4], [-4, 4])] },
      { name: `${op} opset 13 axis 1`, op, opset: 13, feeds: [x([2, 3, 4], [-4, 4])], attributes: { axis: 1 } },
      { name: `${op} of logits`, op, opset: 13, feeds: [x([3, 10], [-20, 20])] },
    ]),
  ))

const binary = (op: string, a: number[], b: number[], range: [number, number] = [-2, 2], brange = range): OpCase => ({
  name: `${op} [${a}] with [${b}]`,
  op,
  feeds: [f('a', a, range), f('b', b, brange)],
})

test('Add, Sub, Mul, Div, Pow with multidirectional broadcasting', () =>
  each([
    binary('Add', [2, 3, 4, 5], [2, 3, 4, 5]),
    binary('Add', [2, 3, 4, 5], [3, 1, 1]),
    binary('Sub', [4, 5], [2, 3, 4, 5]),
    binary('Sub', [2, 1, 4, 1], [1, 3, 1, 5]),
    binary('Mul', [2, 3, 4, 5], []),
    binary('Mul', [1, 3, 1, 1], [2, 3, 4, 5]),
    binary('Div', [2, 3, 4, 5], [5], [-2, 2], [0.5, 2]),
    binary('Div', [], [3, 4], [-2, 2], [0.5, 2]),
    binary('Pow', [2, 3, 4], [2, 3, 4], [0.1, 2], [-2, 2]),
    { name: 'Pow x^2', op: 'Pow', feeds: [f('a', [2, 3, 4]), scalar('b', 2)] },
    { name: 'Pow x^0.5', op: 'Pow', feeds: [f('a', [2, 3, 4], [0.1, 3]), scalar('b', 0.5)] },
    { name: 'Div of int64 truncates toward zero', op: 'Div', feeds: [{ name: 'a', dims: [4], dtype: 'int64', values: [-7, 7, -7, 9] }, { name: 'b', dims: [4], dtype: 'int64', values: [2, -2, -2, 3] }], outputs: ['int64'] },
    { name: 'Mul of int64', op: 'Mul', feeds: [{ name: 'a', dims: [3], dtype: 'int64', values: [2, -3, 4] }, { name: 'b', dims: [1], dtype: 'int64', values: [5] }], outputs: ['int64'] },
  ]))

test('Sqrt, Neg, Abs, Exp, Log, Reciprocal, Floor, Ceil; variadic Max, Min, Sum, Mean', () =>
  each([
    unary('Sqrt', [0.01, 4]),
    unary('Neg'),
    unary('Abs'),
    unary('Exp'),
    unary('Log', [0.01, 4]),
    unary('Reciprocal', [0.2, 3]),
    unary('Floor'),
    unary('Ceil'),
    ...['Max', 'Min', 'Sum', 'Mean'].flatMap((op): OpCase[] => [
      { name: `${op} of three, broadcast`, op, feeds: [f('a', [2, 3, 4]), f('b', [3, 1]), f('c', [4])] },
      { name: `${op} of one`, op, feeds: [f('a', [2, 3])] },
    ]),
  ]))

test('Gemm: transA, transB, alpha, beta, C broadcast ([N], [M, 1], scalar, absent)', () =>
  each([
    { name: 'gemm fc (transB, C [N])', op: 'Gemm', feeds: [f('a', [3, 8]), f('b', [5, 8]), f('c', [5])], attributes: { transB: 1 } },
    { name: 'gemm transA alpha beta C [M, 1]', op: 'Gemm', feeds: [f('a', [8, 3]), f('b', [8, 5]), f('c', [3, 1])], attributes: { transA: 1, alpha: float(0.5), beta: float(2) } },
    { name: 'gemm both transposed, C scalar', op: 'Gemm', feeds: [f('a', [8, 3]), f('b', [5, 8]), f('c', [])], attributes: { transA: 1, transB: 1 } },
    { name: 'gemm no C', op: 'Gemm', feeds: [f('a', [3, 8]), f('b', [8, 5])] },
    { name: 'gemm C [M, N], beta 0', op: 'Gemm', feeds: [f('a', [3, 8]), f('b', [8, 5]), f('c', [3, 5])], attributes: { beta: float(0) } },
  ]))

test('MatMul: 2-D, batched N-D with broadcasting, 1-D operands', () =>
  each([
    { name: 'matmul 2-D', op: 'MatMul', feeds: [f('a', [3, 8]), f('b', [8, 5])] },
    { name: 'matmul batched [2,3,4,5] x [5,6]', op: 'MatMul', feeds: [f('a', [2, 3, 4, 5]), f('b', [5, 6])] },
    { name: 'matmul [3,4] x [2,4,5]', op: 'MatMul', feeds: [f('a', [3, 4]), f('b', [2, 4, 5])] },
    { name: 'matmul broadcast batch [2,1,3,4] x [1,5,4,2]', op: 'MatMul', feeds: [f('a', [2, 1, 3, 4]), f('b', [1, 5, 4, 2])] },
    { name: 'matmul 1-D x 2-D', op: 'MatMul', feeds: [f('a', [4]), f('b', [4, 3])] },
    { name: 'matmul 3-D x 1-D', op: 'MatMul', feeds: [f('a', [2, 3, 4]), f('b', [4])] },
    { name: 'matmul 1-D x 1-D', op: 'MatMul', feeds: [f('a', [4]), f('b', [4])] },
  ]))

const reduceOps = ['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceSum', 'ReduceProd', 'ReduceSumSquare', 'ReduceL1', 'ReduceL2', 'ReduceLogSumExp']
test('ReduceMean / Max / Min / Sum / Prod / SumSquare / L1 / L2 / LogSumExp: keepdims, axes attribute vs input, all axes, noop_with_empty_axes', () =>
  each(
    reduceOps.flatMap((op): OpCase[] => {
      const inputSince = op === 'ReduceSum' ? 13 : 18
      const attrOpset = inputSince - 2
      return [
        { name: `${op} axes [2, 3] keepdims (attribute, opset ${attrOpset})`, op, opset: attrOpset, feeds: [x([2, 3, 4, 5], [0.5, 1.5])], attributes: { axes: [2, 3] } },
        { name: `${op} axes [-1] keepdims 0 (attribute)`, op, opset: attrOpset, feeds: [x([2, 3, 4], [0.5, 1.5])], attributes: { axes: [-1], keepdims: 0 } },
        { name: `${op} all axes`, op, opset: attrOpset, feeds: [x([2, 3, 4], [0.5, 1.5])] },
        { name: `${op} axes input (opset ${inputSince})`, op, opset: inputSince, feeds: [x([2, 3, 4, 5], [0.5, 1.5]), ints('axes', [1, -1])], attributes: { keepdims: 0 } },
        { name: `${op} no axes input, reduce all (opset ${inputSince})`, op, opset: inputSince, feeds: [x([2, 3, 4], [0.5, 1.5])] },
        { name: `${op} noop_with_empty_axes`, op, opset: inputSince, feeds: [x([2, 3, 4], [0.5, 1.5])], attributes: { noop_with_empty_axes: 1 } },
      ]
    }),
  ))

const mask = (name: string, values: number[]): Feed => ({ name, dims: [values.length], dtype: 'bool', values })
test('Equal, Greater, Less, GreaterOrEqual, LessOrEqual, Not, And, Or, Where, Range', () =>
  each([
    ...['Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual'].map((op): OpCase => ({ name: op, op, opset: 16, feeds: [{ name: 'a', dims: [5], values: [1, 2, 3, -1, 0.5] }, { name: 'b', dims: [5], values: [1, 3, 2, -1, 0] }], outputs: ['bool'] })),
    { name: 'Equal of int64, broadcast', op: 'Equal', feeds: [ints('a', [1, 2, 3, 2]), ints('b', [2], [])], outputs: ['bool'] },
    { name: 'Not', op: 'Not', feeds: [mask('a', [1, 0, 1])], outputs: ['bool'] },
    { name: 'And', op: 'And', feeds: [mask('a', [1, 0, 1, 0]), mask('b', [1, 1, 0, 0])], outputs: ['bool'] },
    { name: 'Or', op: 'Or', feeds: [mask('a', [1, 0, 1, 0]), mask('b', [1, 1, 0, 0])], outputs: ['bool'] },
    { name: 'Where, broadcast', op: 'Where', opset: 16, feeds: [{ name: 'c', dims: [3, 1], dtype: 'bool', values: [1, 0, 1] }, f('a', [3, 4]), f('b', [4])] },
    { name: 'Range float', op: 'Range', feeds: [scalar('s', 0.5), scalar('l', 3), scalar('d', 0.75)] },
    { name: 'Range int64, negative delta', op: 'Range', feeds: [ints('s', [10], []), ints('l', [1], []), ints('d', [-3], [])], outputs: ['int64'] },
  ]))

test('ArgMax / ArgMin: axis, keepdims', () =>
  each(
    ['ArgMax', 'ArgMin'].flatMap((op): OpCase[] => [
      { name: `${op} default`, op, feeds: [x([3, 4, 5])], outputs: ['int64'] },
      { name: `${op} axis −1 keepdims 0`, op, feeds: [x([3, 4, 5])], attributes: { axis: -1, keepdims: 0 }, outputs: ['int64'] },
    ]),
  ))
