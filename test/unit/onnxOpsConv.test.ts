/**
 * ONNX Conv, ConvTranspose, pools, BatchNormalization and LRN in tfjs (src/main/engine/graph/ops) against
 * onnxruntime-node on the same seeded inputs, every listed attribute variant (test/helpers/onnxOpHarness.ts).
 */
import { test } from 'node:test'
import { float } from '../helpers/onnxBuilder'
import { checkOp, type Feed, type OpCase } from '../helpers/onnxOpHarness'

const x = (dims: number[]): Feed => ({ name: 'x', dims })
const w = (dims: number[]): Feed => ({ name: 'w', dims })
const b = (n: number): Feed => ({ name: 'b', dims: [n] })

async function each(cases: OpCase[]): Promise<void> {
  for (const c of cases) await checkOp(c)
}

test('Conv: pads (symmetric, asymmetric), strides, dilations, bias, 1x1, 1-D', () =>
  each([
    { name: 'conv 3x3 pads 1 + bias', op: 'Conv', feeds: [x([2, 3, 7, 8]), w([4, 3, 3, 3]), b(4)], attributes: { pads: [1, 1, 1, 1] } },
    { name: 'conv stride 2, asymmetric pads', op: 'Conv', feeds: [x([1, 3, 9, 8]), w([5, 3, 3, 2])], attributes: { strides: [2, 2], pads: [0, 1, 2, 0] } },
    { name: 'conv stride (1, 3)', op: 'Conv', feeds: [x([1, 2, 7, 10]), w([3, 2, 3, 3])], attributes: { strides: [1, 3], pads: [1, 1, 1, 1] } },
    { name: 'conv dilation 2', op: 'Conv', feeds: [x([1, 3, 9, 9]), w([2, 3, 3, 3]), b(2)], attributes: { dilations: [2, 2], pads: [2, 2, 2, 2] } },
    { name: 'conv dilation 2 with stride 2', op: 'Conv', feeds: [x([1, 3, 11, 10]), w([2, 3, 3, 3])], attributes: { dilations: [2, 2], strides: [2, 2], pads: [1, 2, 2, 1] } },
    { name: 'conv 1x1, no bias', op: 'Conv', feeds: [x([2, 6, 5, 5]), w([3, 6, 1, 1])] },
    { name: 'conv kernel_shape given', op: 'Conv', feeds: [x([1, 2, 6, 6]), w([2, 2, 3, 3])], attributes: { kernel_shape: [3, 3] } },
    { name: 'conv 1-D', op: 'Conv', feeds: [x([2, 3, 12]), w([4, 3, 3]), b(4)], attributes: { pads: [2, 1], strides: [2] } },
  ]))

test('Conv: groups, depthwise (multiplier 1 and 2)', () =>
  each([
    { name: 'conv group 2', op: 'Conv', feeds: [x([1, 4, 6, 6]), w([6, 2, 3, 3]), b(6)], attributes: { group: 2, pads: [1, 1, 1, 1] } },
    { name: 'conv group 3 stride 2', op: 'Conv', feeds: [x([2, 6, 7, 7]), w([3, 2, 3, 3])], attributes: { group: 3, strides: [2, 2] } },
    { name: 'depthwise', op: 'Conv', feeds: [x([2, 4, 7, 6]), w([4, 1, 3, 3]), b(4)], attributes: { group: 4, pads: [1, 1, 1, 1], strides: [2, 2] } },
    { name: 'depthwise multiplier 2', op: 'Conv', feeds: [x([1, 3, 6, 6]), w([6, 1, 3, 3])], attributes: { group: 3, pads: [1, 0, 1, 2] } },
    { name: 'depthwise dilation 2 stride 2', op: 'Conv', feeds: [x([1, 4, 10, 10]), w([4, 1, 3, 3])], attributes: { group: 4, dilations: [2, 2], strides: [2, 2], pads: [2, 2, 2, 2] } },
  ]))

test('Conv: auto_pad SAME_UPPER, SAME_LOWER, VALID', () =>
  each([
    { name: 'SAME_UPPER k4 s2', op: 'Conv', feeds: [x([1, 2, 9, 8]), w([3, 2, 4, 4])], attributes: { auto_pad: 'SAME_UPPER', strides: [2, 2] } },
    { name: 'SAME_LOWER k4 s2', op: 'Conv', feeds: [x([1, 2, 9, 8]), w([3, 2, 4, 4])], attributes: { auto_pad: 'SAME_LOWER', strides: [2, 2] } },
    { name: 'SAME_UPPER k1 s2 (filter shorter than stride)', op: 'Conv', feeds: [x([1, 2, 7, 7]), w([3, 2, 1, 1])], attributes: { auto_pad: 'SAME_UPPER', strides: [2, 2] } },
    { name: 'VALID', op: 'Conv', feeds: [x([1, 2, 7, 7]), w([3, 2, 3, 3])], attributes: { auto_pad: 'VALID', strides: [2, 2] } },
  ]))

test('ConvTranspose: strides, pads, output_padding, groups, dilations, output_shape, auto_pad', () =>
  each([
    { name: 'convT stride 2 pads 1 output_padding 1', op: 'ConvTranspose', feeds: [x([1, 3, 5, 4]), w([3, 2, 3, 3]), b(2)], attributes: { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] } },
    { name: 'convT stride 1 no pads', op: 'ConvTranspose', feeds: [x([2, 2, 4, 4]), w([2, 3, 3, 3])] },
    { name: 'convT asymmetric pads', op: 'ConvTranspose', feeds: [x([1, 2, 4, 5]), w([2, 2, 4, 4])], attributes: { strides: [2, 2], pads: [0, 2, 1, 1] } },
    { name: 'convT group 2', op: 'ConvTranspose', feeds: [x([1, 4, 4, 4]), w([4, 3, 3, 3]), b(6)], attributes: { group: 2, strides: [2, 2] } },
    { name: 'convT dilation 2', op: 'ConvTranspose', feeds: [x([1, 2, 4, 4]), w([2, 2, 3, 3])], attributes: { dilations: [2, 2], pads: [1, 1, 1, 1] } },
    { name: 'convT output_shape', op: 'ConvTranspose', feeds: [x([1, 2, 4, 4]), w([2, 2, 3, 3])], attributes: { strides: [2, 2], output_shape: [9, 8] } },
    { name: 'convT output_shape, SAME_UPPER', op: 'ConvTranspose', feeds: [x([1, 2, 4, 4]), w([2, 2, 3, 3])], attributes: { strides: [2, 2], output_shape: [8, 7], auto_pad: 'SAME_UPPER' } },
    { name: 'convT SAME_UPPER', op: 'ConvTranspose', feeds: [x([1, 2, 4, 3]), w([2, 2, 4, 4])], attributes: { strides: [2, 2], auto_pad: 'SAME_UPPER' } },
    { name: 'convT SAME_LOWER', op: 'ConvTranspose', feeds: [x([1, 2, 4, 3]), w([2, 2, 3, 3])], attributes: { strides: [2, 2], auto_pad: 'SAME_LOWER' } },
    { name: 'convT 1-D', op: 'ConvTranspose', feeds: [x([1, 2, 6]), w([2, 3, 3])], attributes: { strides: [3], pads: [1, 0] } },
  ]))

test('MaxPool: pads (−∞), ceil_mode, strides, dilations, auto_pad, 1-D', () =>
  each([
    { name: 'maxpool k3 s2 p1', op: 'MaxPool', feeds: [x([2, 3, 8, 9])], attributes: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } },
    { name: 'maxpool of negative values with pads', op: 'MaxPool', feeds: [{ name: 'x', dims: [1, 2, 5, 5], range: [-3, -1] }], attributes: { kernel_shape: [3, 3], pads: [2, 1, 0, 2] } },
    { name: 'maxpool ceil_mode k3 s2 (googlenet)', op: 'MaxPool', feeds: [x([1, 2, 8, 8])], attributes: { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 } },
    { name: 'maxpool ceil_mode k2 s2 odd (squeezenet-like)', op: 'MaxPool', feeds: [x([1, 2, 7, 9])], attributes: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 } },
    { name: 'maxpool ceil_mode drops a window that starts in the padding', op: 'MaxPool', feeds: [x([1, 1, 5, 5])], attributes: { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 } },
    { name: 'maxpool ceil_mode with pads, k3 s2', op: 'MaxPool', feeds: [x([1, 2, 10, 9])], attributes: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 } },
    { name: 'maxpool dilations 2', op: 'MaxPool', feeds: [x([1, 2, 9, 9])], attributes: { kernel_shape: [2, 3], dilations: [2, 2], strides: [1, 2] }, opset: 13 },
    { name: 'maxpool SAME_UPPER', op: 'MaxPool', feeds: [x([1, 2, 7, 8])], attributes: { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' } },
    { name: 'maxpool SAME_LOWER', op: 'MaxPool', feeds: [x([1, 2, 7, 8])], attributes: { kernel_shape: [2, 2], strides: [2, 2], auto_pad: 'SAME_LOWER' } },
    { name: 'maxpool 1-D', op: 'MaxPool', feeds: [x([2, 3, 11])], attributes: { kernel_shape: [3], strides: [2], pads: [1, 1] } },
    { name: 'maxpool opset 9', op: 'MaxPool', opset: 9, feeds: [x([1, 2, 6, 6])], attributes: { kernel_shape: [2, 2], strides: [2, 2] } },
  ]))

test('AveragePool: count_include_pad 0 / 1, ceil_mode, auto_pad, 1-D', () =>
  each([
    { name: 'avgpool k3 s2', op: 'AveragePool', feeds: [x([2, 3, 9, 8])], attributes: { kernel_shape: [3, 3], strides: [2, 2] } },
    { name: 'avgpool pads, count_include_pad 0', op: 'AveragePool', feeds: [x([1, 2, 7, 7])], attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
    { name: 'avgpool pads, count_include_pad 1', op: 'AveragePool', feeds: [x([1, 2, 7, 7])], attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1 } },
    { name: 'avgpool asymmetric pads, include pad', op: 'AveragePool', feeds: [x([1, 2, 6, 7])], attributes: { kernel_shape: [3, 2], strides: [2, 2], pads: [0, 1, 2, 1], count_include_pad: 1 } },
    { name: 'avgpool ceil_mode', op: 'AveragePool', feeds: [x([1, 2, 8, 7])], attributes: { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 } },
    { name: 'avgpool ceil_mode with pads, include pad', op: 'AveragePool', feeds: [x([1, 2, 8, 7])], attributes: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1, count_include_pad: 1 } },
    { name: 'avgpool ceil_mode with pads, exclude pad', op: 'AveragePool', feeds: [x([1, 2, 8, 7])], attributes: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 } },
    { name: 'avgpool SAME_UPPER', op: 'AveragePool', feeds: [x([1, 2, 7, 8])], attributes: { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' } },
    { name: 'avgpool 1-D include pad', op: 'AveragePool', feeds: [x([1, 3, 10])], attributes: { kernel_shape: [3], pads: [1, 1], count_include_pad: 1 } },
    { name: 'avgpool dilations (opset 19)', op: 'AveragePool', opset: 19, feeds: [x([1, 2, 9, 9])], attributes: { kernel_shape: [2, 2], dilations: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1] } },
  ]))

test('GlobalAveragePool, GlobalMaxPool (2-D and 1-D)', () =>
  each([
    { name: 'gap', op: 'GlobalAveragePool', feeds: [x([2, 5, 7, 6])] },
    { name: 'gap 1-D', op: 'GlobalAveragePool', feeds: [x([2, 5, 7])] },
    { name: 'gmp', op: 'GlobalMaxPool', feeds: [x([2, 5, 7, 6])] },
  ]))

test('BatchNormalization (inference), LRN (onnxruntime refuses even sizes)', () =>
  each([
    {
      name: 'batchnorm',
      op: 'BatchNormalization',
      feeds: [x([2, 3, 4, 5]), { name: 's', dims: [3] }, { name: 'bias', dims: [3] }, { name: 'mean', dims: [3] }, { name: 'var', dims: [3], range: [0.2, 2] }],
      attributes: { epsilon: float(1e-3) },
    },
    { name: 'batchnorm 2-D input, opset 9', op: 'BatchNormalization', opset: 9, feeds: [x([4, 3]), { name: 's', dims: [3] }, { name: 'bias', dims: [3] }, { name: 'mean', dims: [3] }, { name: 'var', dims: [3], range: [0.2, 2] }] },
    { name: 'LRN size 5 (alexnet)', op: 'LRN', feeds: [{ name: 'x', dims: [1, 8, 4, 4], range: [-4, 4] }], attributes: { size: 5, alpha: float(1e-4), beta: float(0.75), bias: float(2) } },
    { name: 'LRN size 3, strong alpha', op: 'LRN', feeds: [{ name: 'x', dims: [2, 6, 3, 3], range: [-2, 2] }], attributes: { size: 3, alpha: float(0.5), beta: float(0.6), bias: float(1) } },
    { name: 'LRN size larger than the channels', op: 'LRN', feeds: [x([1, 3, 2, 2])], attributes: { size: 7, alpha: float(0.9) } },
  ]))

test('InstanceNormalization, LayerNormalization (opset 17: axis, optional B, Mean / InvStdDev outputs)', () =>
  each([
    { name: 'instancenorm', op: 'InstanceNormalization', feeds: [x([2, 3, 4, 5]), { name: 's', dims: [3] }, { name: 'bias', dims: [3] }], attributes: { epsilon: float(1e-3) } },
    { name: 'layernorm last axis (convnext channels-last)', op: 'LayerNormalization', opset: 17, feeds: [x([2, 4, 4, 6]), { name: 's', dims: [6] }, { name: 'bias', dims: [6] }], attributes: { epsilon: float(1e-6) } },
    { name: 'layernorm axis 1, no B', op: 'LayerNormalization', opset: 17, feeds: [x([2, 3, 4, 5]), { name: 's', dims: [3, 4, 5] }], attributes: { axis: 1 } },
    { name: 'layernorm with Mean and InvStdDev', op: 'LayerNormalization', opset: 17, feeds: [x([2, 3, 8]), { name: 's', dims: [8] }, { name: 'bias', dims: [8] }], outputs: ['float32', 'float32', 'float32'] },
  ]))
