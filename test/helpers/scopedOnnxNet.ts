/**
 * A small ONNX net named the way torch.onnx.export (torch 1.13) names nodes, for the model-graph, executor and
 * ONNX-model tests: scoped names ("/layer1/layer1.0/conv1/Conv"), a residual Add directly in a container scope,
 * a nested Sequential ("downsample/downsample.0"), a leaf module of several nodes (a LayerNorm over channels
 * written out: ReduceMean, Sub, Mul, Add, Sqrt, Div), a Dropout, a shared bias read through an Identity, and
 * torch.flatten's Shape → Gather → Unsqueeze → Concat → Reshape chain at the root.
 *
 *   x [batch, 3, h, w] → conv1 (3→4, k3 s2 p1) → relu ─┬→ layer1.0.conv1 (k3 p1) ─┐
 *                                                     └→ layer1.0.downsample.0 (1×1) ─→ layer1.0.add → layer1.0.relu_1
 *   → norm → dropout → pool (GAP) → reshape → fc (Gemm 4→2, transB) → logits
 */
import { float, type ModelSpec, tensor } from './onnxBuilder'

/** Seeded values in [-1, 1). */
export function seeded(n: number, seed: number): Float32Array {
  let s = seed >>> 0
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return (s / 2 ** 32) * 2 - 1
  })
}

export const SCOPED_WEIGHTS = {
  conv1W: seeded(4 * 3 * 9, 1),
  conv1B: seeded(4, 2),
  blockW: seeded(4 * 4 * 9, 3),
  sharedB: seeded(4, 4),
  dsW: seeded(4 * 4, 5),
  dsB: seeded(4, 6),
  fcW: seeded(2 * 4, 7),
  fcB: seeded(2, 8),
}

const i64 = (values: number[], dims: number[] = [values.length]) => tensor({ dtype: 'int64', dims, values })

/** The net; `extraOutputs` lists inner tensors to add as graph outputs (so onnxruntime returns them). */
export function scopedNet(options: { inputDims?: (number | string)[]; extraOutputs?: string[] } = {}): ModelSpec {
  const w = SCOPED_WEIGHTS
  return {
    opset: 13,
    inputs: [{ name: 'x', dims: options.inputDims ?? ['batch', 3, 'height', 'width'] }],
    outputs: [{ name: 'logits' }, ...(options.extraOutputs ?? []).map((name) => ({ name }))],
    initializers: [
      { name: 'conv1.weight', dims: [4, 3, 3, 3], values: w.conv1W },
      { name: 'conv1.bias', dims: [4], values: w.conv1B },
      { name: 'onnx::Conv_20', dims: [4, 4, 3, 3], values: w.blockW },
      { name: 'shared_bias', dims: [4], values: w.sharedB },
      { name: 'onnx::Conv_22', dims: [4, 4, 1, 1], values: w.dsW },
      { name: 'onnx::Conv_23', dims: [4], values: w.dsB },
      { name: 'fc.weight', dims: [2, 4], values: w.fcW },
      { name: 'fc.bias', dims: [2], values: w.fcB },
    ],
    nodes: [
      { name: '/conv1/Conv', opType: 'Conv', inputs: ['x', 'conv1.weight', 'conv1.bias'], outputs: ['/conv1/Conv_output_0'], attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] } },
      { name: '/relu/Relu', opType: 'Relu', inputs: ['/conv1/Conv_output_0'], outputs: ['/relu/Relu_output_0'] },
      { name: 'Identity_0', opType: 'Identity', inputs: ['shared_bias'], outputs: ['onnx::Conv_21'] },
      { name: '/layer1/layer1.0/conv1/Conv', opType: 'Conv', inputs: ['/relu/Relu_output_0', 'onnx::Conv_20', 'onnx::Conv_21'], outputs: ['/layer1/layer1.0/conv1/Conv_output_0'], attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
      { name: '/layer1/layer1.0/downsample/downsample.0/Conv', opType: 'Conv', inputs: ['/relu/Relu_output_0', 'onnx::Conv_22', 'onnx::Conv_23'], outputs: ['/layer1/layer1.0/downsample/downsample.0/Conv_output_0'], attributes: { kernel_shape: [1, 1] } },
      { name: '/layer1/layer1.0/Add', opType: 'Add', inputs: ['/layer1/layer1.0/conv1/Conv_output_0', '/layer1/layer1.0/downsample/downsample.0/Conv_output_0'], outputs: ['/layer1/layer1.0/Add_output_0'] },
      { name: '/layer1/layer1.0/relu_1/Relu', opType: 'Relu', inputs: ['/layer1/layer1.0/Add_output_0'], outputs: ['/layer1/layer1.0/relu_1/Relu_output_0'] },
      { name: '/norm/ReduceMean', opType: 'ReduceMean', inputs: ['/layer1/layer1.0/relu_1/Relu_output_0'], outputs: ['/norm/ReduceMean_output_0'], attributes: { axes: [1], keepdims: 1 } },
      { name: '/norm/Sub', opType: 'Sub', inputs: ['/layer1/layer1.0/relu_1/Relu_output_0', '/norm/ReduceMean_output_0'], outputs: ['/norm/Sub_output_0'] },
      { name: '/norm/Mul', opType: 'Mul', inputs: ['/norm/Sub_output_0', '/norm/Sub_output_0'], outputs: ['/norm/Mul_output_0'] },
      { name: '/norm/ReduceMean_1', opType: 'ReduceMean', inputs: ['/norm/Mul_output_0'], outputs: ['/norm/ReduceMean_1_output_0'], attributes: { axes: [1], keepdims: 1 } },
      { name: '/norm/Constant', opType: 'Constant', inputs: [], outputs: ['/norm/Constant_output_0'], attributes: { value: tensor({ dims: [], values: [1e-5] }) } },
      { name: '/norm/Add', opType: 'Add', inputs: ['/norm/ReduceMean_1_output_0', '/norm/Constant_output_0'], outputs: ['/norm/Add_output_0'] },
      { name: '/norm/Sqrt', opType: 'Sqrt', inputs: ['/norm/Add_output_0'], outputs: ['/norm/Sqrt_output_0'] },
      { name: '/norm/Div', opType: 'Div', inputs: ['/norm/Sub_output_0', '/norm/Sqrt_output_0'], outputs: ['/norm/Div_output_0'] },
      { name: '/dropout/Dropout', opType: 'Dropout', inputs: ['/norm/Div_output_0'], outputs: ['/dropout/Dropout_output_0'] },
      { name: '/pool/GlobalAveragePool', opType: 'GlobalAveragePool', inputs: ['/dropout/Dropout_output_0'], outputs: ['/pool/GlobalAveragePool_output_0'] },
      { name: '/Shape', opType: 'Shape', inputs: ['/pool/GlobalAveragePool_output_0'], outputs: ['/Shape_output_0'] },
      { name: '/Constant', opType: 'Constant', inputs: [], outputs: ['/Constant_output_0'], attributes: { value: i64([0], []) } },
      { name: '/Gather', opType: 'Gather', inputs: ['/Shape_output_0', '/Constant_output_0'], outputs: ['/Gather_output_0'], attributes: { axis: 0 } },
      { name: '/Constant_1', opType: 'Constant', inputs: [], outputs: ['/Constant_1_output_0'], attributes: { value: i64([0]) } },
      { name: '/Unsqueeze', opType: 'Unsqueeze', inputs: ['/Gather_output_0', '/Constant_1_output_0'], outputs: ['/Unsqueeze_output_0'] },
      { name: '/Constant_2', opType: 'Constant', inputs: [], outputs: ['/Constant_2_output_0'], attributes: { value: i64([-1]) } },
      { name: '/Concat', opType: 'Concat', inputs: ['/Unsqueeze_output_0', '/Constant_2_output_0'], outputs: ['/Concat_output_0'], attributes: { axis: 0 } },
      { name: '/Reshape', opType: 'Reshape', inputs: ['/pool/GlobalAveragePool_output_0', '/Concat_output_0'], outputs: ['/Reshape_output_0'] },
      { name: '/fc/Gemm', opType: 'Gemm', inputs: ['/Reshape_output_0', 'fc.weight', 'fc.bias'], outputs: ['logits'], attributes: { alpha: float(1), beta: float(1), transB: 1 } },
    ],
  }
}

/** The layer names the naming rule gives the net, in order. */
export const SCOPED_LAYERS = ['x', 'conv1', 'relu', 'layer1.0.conv1', 'layer1.0.downsample.0', 'layer1.0.add', 'layer1.0.relu_1', 'norm', 'pool', 'reshape', 'fc']
