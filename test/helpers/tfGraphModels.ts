/**
 * TF.js graph-model folders written at test time (GraphDef JSON + one weight shard), for the graph executor's
 * parity tests against tf.GraphModel:
 *
 * - `writeGraphModel(dir, nodes, weights)`: any node list; every weight becomes a Const node.
 * - `demoGapGraphModel(dir)`: the demo `gap` network (resources/demo-models/gap) as the TF.js converter writes
 *   a Keras classifier: batch norm folded into its convolution, _FusedConv2D [BiasAdd, Relu], AvgPool, Mean,
 *   _FusedMatMul [BiasAdd], Softmax, Identity.
 * - `opZooGraphModel(dir)`: a small seeded graph through every other op the executor implements for converter
 *   output (depthwise and explicit-padding convolutions, FusedBatchNormV3, the activations and arithmetic,
 *   pads, reductions, the Shape → StridedSlice → Pack → Reshape flatten, IdentityN, a control input...).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { fsIOHandler } from '../../src/main/engine/models/fsIOHandler'
import type { NodeDefJSON } from '../../src/main/engine/models/graphDef'
import { seededRandom } from '../fixtures/models'

export interface GraphWeight {
  shape: number[]
  dtype: 'float32' | 'int32'
  values: Float32Array | Int32Array
}

const b64 = (s: string) => Buffer.from(s).toString('base64')
export const T = { type: 'DT_FLOAT' }
export const ints = (...v: number[]) => ({ list: { i: v.map(String) } })
export const str = (s: string) => ({ s: b64(s) })
export const strs = (...s: string[]) => ({ list: { s: s.map(b64) } })
const dims = (shape: number[]) => ({ dim: shape.map((d) => ({ size: String(d) })) })

export function placeholder(name: string, shape: number[]): NodeDefJSON {
  return { name, op: 'Placeholder', attr: { dtype: T, shape: { shape: dims(shape) } } }
}

/** Write model.json (Const nodes first, then `nodes`) and the shard. */
export async function writeGraphModel(dir: string, nodes: NodeDefJSON[], weights: Record<string, GraphWeight>): Promise<string> {
  const names = Object.keys(weights)
  const consts = names.map((name): NodeDefJSON => {
    const dt = weights[name]!.dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT'
    return { name, op: 'Const', attr: { value: { tensor: { dtype: dt, tensorShape: dims(weights[name]!.shape) } }, dtype: { type: dt } } }
  })
  const json = {
    format: 'graph-model',
    generatedBy: '2.15.0',
    convertedBy: 'convscope test helper',
    modelTopology: { node: [...consts, ...nodes], library: {}, versions: { producer: 1482 } },
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: names.map((n) => ({ name: n, shape: weights[n]!.shape, dtype: weights[n]!.dtype })) }],
  }
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'model.json'), JSON.stringify(json))
  await writeFile(join(dir, 'group1-shard1of1.bin'), Buffer.concat(names.map((n) => Buffer.from(weights[n]!.values.buffer, weights[n]!.values.byteOffset, weights[n]!.values.byteLength))))
  return dir
}

const floatWeight = (t: tf.Tensor): GraphWeight => ({ shape: t.shape, dtype: 'float32', values: Float32Array.from(t.dataSync()) })
const intWeight = (...v: number[]): GraphWeight => ({ shape: [v.length], dtype: 'int32', values: Int32Array.from(v) })

const convAttr = { T, strides: ints(1, 1, 1, 1), padding: str('SAME'), dilations: ints(1, 1, 1, 1), data_format: str('NHWC') }

/** The demo gap network as converter output (batch norm folded into the convolutions), input [-1, 64, 64, 3]. */
export async function demoGapGraphModel(dir: string, demoDir: string): Promise<string> {
  const model = await tf.loadLayersModel(fsIOHandler(demoDir))
  const weights: Record<string, GraphWeight> = {}
  const nodes: NodeDefJSON[] = [placeholder('input', [-1, 64, 64, 3])]
  let x = 'input'
  type Conv = { name: string; kernel: tf.Tensor; bias: tf.Tensor | null }
  let pending: Conv | null = null
  // A convolution is written when what follows it is known: its batch norm folds in, its ReLU fuses.
  const flush = (relu: boolean) => {
    if (!pending) return
    const { name, kernel, bias } = pending
    weights[`${name}/kernel`] = floatWeight(kernel)
    weights[`${name}/bias`] = floatWeight(bias ?? tf.zeros([kernel.shape[3]!]))
    nodes.push({
      name: `${name}/Relu`,
      op: '_FusedConv2D',
      input: [x, `${name}/kernel`, `${name}/bias`],
      attr: { ...convAttr, fused_ops: strs('BiasAdd', ...(relu ? ['Relu'] : [])), num_args: { i: '1' }, epsilon: { f: 0 } },
    })
    x = `${name}/Relu`
    pending = null
  }
  for (const layer of model.layers) {
    const cls = layer.getClassName()
    const w = layer.getWeights()
    if (cls === 'Conv2D') {
      flush(false)
      const activation = (layer.getConfig() as { activation?: string }).activation
      pending = { name: layer.name, kernel: w[0]!, bias: w[1] ?? null }
      if (activation === 'relu') flush(true)
    } else if (cls === 'BatchNormalization') {
      const [gamma, beta, mean, variance] = w as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]
      const eps = (layer.getConfig() as { epsilon: number }).epsilon
      const scale = gamma.div(variance.add(eps).sqrt())
      const p: Conv = pending!
      pending = { name: p.name, kernel: p.kernel.mul(scale), bias: beta.sub(mean.mul(scale)).add(p.bias ? p.bias.mul(scale) : 0) }
    } else if (cls === 'ReLU') {
      flush(true)
    } else if (cls === 'AveragePooling2D') {
      flush(false)
      nodes.push({ name: `${layer.name}/AvgPool`, op: 'AvgPool', input: [x], attr: { T, ksize: ints(1, 2, 2, 1), strides: ints(1, 2, 2, 1), padding: str('VALID'), data_format: str('NHWC') } })
      x = `${layer.name}/AvgPool`
    } else if (cls === 'GlobalAveragePooling2D') {
      flush(false)
      weights[`${layer.name}/Mean/reduction_indices`] = intWeight(1, 2)
      nodes.push({ name: `${layer.name}/Mean`, op: 'Mean', input: [x, `${layer.name}/Mean/reduction_indices`], attr: { T, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } } })
      x = `${layer.name}/Mean`
    } else if (cls === 'Dense') {
      weights[`${layer.name}/kernel`] = floatWeight(w[0]!)
      weights[`${layer.name}/bias`] = floatWeight(w[1]!)
      nodes.push({
        name: `${layer.name}/BiasAdd`,
        op: '_FusedMatMul',
        input: [x, `${layer.name}/kernel`, `${layer.name}/bias`],
        attr: { T, transpose_a: { b: false }, transpose_b: { b: false }, fused_ops: strs('BiasAdd'), num_args: { i: '1' }, epsilon: { f: 0 } },
      })
      x = `${layer.name}/BiasAdd`
    } else if (cls === 'Softmax') {
      nodes.push({ name: `${layer.name}/Softmax`, op: 'Softmax', input: [x], attr: { T } })
      x = `${layer.name}/Softmax`
    } else if (cls !== 'InputLayer') {
      throw new Error(`demoGapGraphModel: layer ${cls} not handled`)
    }
  }
  nodes.push({ name: 'Identity', op: 'Identity', input: [x], attr: { T } })
  model.dispose()
  return writeGraphModel(dir, nodes, weights)
}

/** The Const weights of a hand-written graph: seeded floats in offset ± scale, and int32 constants; each returns its name. */
function weightMaker(seed: number) {
  const rand = seededRandom(seed)
  const weights: Record<string, GraphWeight> = {}
  const floats = (name: string, shape: number[], scale: number, offset = 0) => {
    const n = shape.reduce((a, b) => a * b, 1)
    weights[name] = { shape, dtype: 'float32', values: Float32Array.from({ length: n }, () => offset + (rand() * 2 - 1) * scale) }
    return name
  }
  const intConst = (name: string, shape: number[], ...v: number[]) => {
    weights[name] = { shape, dtype: 'int32', values: Int32Array.from(v) }
    return name
  }
  return { weights, floats, intConst }
}

/** Input [-1, 12, 12, 3]; output [batch, 5] probabilities. */
export async function opZooGraphModel(dir: string): Promise<string> {
  const { weights, floats, intConst } = weightMaker(11)
  const nhwc = { data_format: str('NHWC') }
  const node = (name: string, op: string, input: string[], attr: NodeDefJSON['attr'] = {}): NodeDefJSON => ({ name, op, input, attr: { T, ...attr } })
  const nodes: NodeDefJSON[] = [
    placeholder('image', [-1, 12, 12, 3]),
    // stem: explicit-padding conv → FusedBatchNormV3 → Relu6
    node('stem/Conv2D', 'Conv2D', ['image', floats('stem/kernel', [3, 3, 3, 6], 0.4)], {
      ...convAttr,
      padding: str('EXPLICIT'),
      explicit_paddings: ints(0, 0, 1, 2, 2, 1, 0, 0),
    }),
    node('stem/bn', 'FusedBatchNormV3', ['stem/Conv2D', floats('bn/gamma', [6], 0.5, 5), floats('bn/beta', [6], 0.2), floats('bn/mean', [6], 0.2), floats('bn/var', [6], 0.3, 1)], {
      ...nhwc,
      epsilon: { f: 0.001 },
      is_training: { b: false },
    }),
    node('stem/Relu6', 'Relu6', ['stem/bn']),
    // depthwise branch (plain + BiasAdd + LeakyRelu) and fused depthwise branch (Elu)
    node('dw/depthwise', 'DepthwiseConv2dNative', ['stem/Relu6', floats('dw/kernel', [3, 3, 6, 1], 0.5)], { ...convAttr, strides: ints(1, 2, 2, 1) }),
    node('dw/BiasAdd', 'BiasAdd', ['dw/depthwise', floats('dw/bias', [6], 0.1)], nhwc),
    node('dw/LeakyRelu', 'LeakyRelu', ['dw/BiasAdd'], { alpha: { f: 0.1 } }),
    node('fdw/Elu', 'FusedDepthwiseConv2dNative', ['stem/Relu6', floats('fdw/kernel', [3, 3, 6, 1], 0.5), floats('fdw/bias', [6], 0.1)], {
      ...convAttr,
      strides: ints(1, 2, 2, 1),
      fused_ops: strs('BiasAdd', 'Elu'),
      num_args: { i: '1' },
    }),
    // arithmetic on the two branches
    node('mix/AddV2', 'AddV2', ['dw/LeakyRelu', 'fdw/Elu']),
    node('mix/Sub', 'Sub', ['dw/LeakyRelu', 'fdw/Elu']),
    node('mix/Mul', 'Mul', ['mix/AddV2', floats('mix/scale', [6], 0.5, 1)]),
    node('mix/RealDiv', 'RealDiv', ['mix/Sub', floats('mix/div', [1], 0.1, 2)]),
    node('mix/Maximum', 'Maximum', ['mix/Mul', 'mix/RealDiv']),
    node('mix/Minimum', 'Minimum', ['mix/Mul', 'mix/RealDiv']),
    node('mix/Add', 'Add', ['mix/Maximum', 'mix/Minimum']),
    node('mix/Sigmoid', 'Sigmoid', ['mix/Add']),
    node('mix/Tanh', 'Tanh', ['mix/Add']),
    node('cat/concat', 'ConcatV2', ['mix/Sigmoid', 'mix/Tanh', intConst('cat/axis', [], 3)], { N: { i: '2' }, Tidx: { type: 'DT_INT32' } }),
    // pads and pools
    node('pad/Pad', 'Pad', ['cat/concat', intConst('pad/paddings', [4, 2], 0, 0, 1, 1, 1, 1, 0, 0)]),
    node('pad/MaxPool', 'MaxPool', ['pad/Pad'], { ksize: ints(1, 3, 3, 1), strides: ints(1, 2, 2, 1), padding: str('SAME'), ...nhwc }),
    node('pad2/PadV2', 'PadV2', ['cat/concat', intConst('pad2/paddings', [4, 2], 0, 0, 0, 1, 0, 1, 0, 0), floats('pad2/value', [], 0.5)]),
    node('pad2/AvgPool', 'AvgPool', ['pad2/PadV2'], { ksize: ints(1, 2, 2, 1), strides: ints(1, 2, 2, 1), padding: str('VALID'), ...nhwc }),
    node('mirror/MirrorPad', 'MirrorPad', ['pad2/AvgPool', intConst('mirror/paddings', [4, 2], 0, 0, 1, 0, 0, 1, 0, 0)], { mode: str('REFLECT') }),
    node('head/Conv2D', 'Conv2D', ['mirror/MirrorPad', floats('head/kernel', [1, 1, 12, 8], 0.4)], { ...convAttr, padding: str('VALID') }),
    // a fused conv with a fused ReLU, on the max-pool branch
    node('side/Relu', '_FusedConv2D', ['pad/MaxPool', floats('side/kernel', [2, 2, 12, 8], 0.3), floats('side/bias', [8], 0.1)], {
      ...convAttr,
      padding: str('VALID'),
      fused_ops: strs('BiasAdd', 'Relu'),
      num_args: { i: '1' },
    }),
    // reductions: Mean keep_dims, Max, Sum, then Squeeze / ExpandDims / Transpose
    node('red/Mean', 'Mean', ['head/Conv2D', intConst('red/axes', [2], 1, 2)], { keep_dims: { b: true }, Tidx: { type: 'DT_INT32' } }),
    node('red/Squeeze', 'Squeeze', ['red/Mean'], { squeeze_dims: ints(1, 2) }),
    node('red/Max', 'Max', ['side/Relu', intConst('red/axes2', [2], 1, 2)], { keep_dims: { b: false }, Tidx: { type: 'DT_INT32' } }),
    node('red/Sum', 'Sum', ['head/Conv2D', intConst('red/axes3', [1], 3)], { keep_dims: { b: false }, Tidx: { type: 'DT_INT32' } }),
    node('red/ExpandDims', 'ExpandDims', ['red/Sum', intConst('red/dim', [], -1)], { Tdim: { type: 'DT_INT32' } }),
    node('red/Transpose', 'Transpose', ['red/ExpandDims', intConst('red/perm', [4], 0, 2, 1, 3)], { Tperm: { type: 'DT_INT32' } }),
    // flatten with a dynamic batch: Shape → StridedSlice → Pack → Reshape
    node('flat/Shape', 'Shape', ['red/Transpose'], { out_type: { type: 'DT_INT32' } }),
    node('flat/strided_slice', 'StridedSlice', ['flat/Shape', intConst('flat/begin', [1], 0), intConst('flat/end', [1], 1), intConst('flat/stride', [1], 1)], {
      T: { type: 'DT_INT32' },
      Index: { type: 'DT_INT32' },
      shrink_axis_mask: { i: '1' },
    }),
    {
      name: 'flat/shape',
      op: 'Pack',
      input: ['flat/strided_slice', intConst('flat/rest', [], -1)],
      attr: { T: { type: 'DT_INT32' }, N: { i: '2' }, axis: { i: '0' } },
    },
    node('flat/Reshape', 'Reshape', ['red/Transpose', 'flat/shape'], { Tshape: { type: 'DT_INT32' } }),
    node('flat/Cast', 'Cast', ['flat/Reshape'], { SrcT: T, DstT: T }),
    // IdentityN passes two tensors; the dense head reads its second output
    { name: 'ids', op: 'IdentityN', input: ['red/Squeeze', 'red/Max'], attr: { T: { list: { type: ['DT_FLOAT', 'DT_FLOAT'] } } } },
    node('head/concat', 'ConcatV2', ['ids', 'ids:1', 'flat/Cast', intConst('head/axis', [], 1)], { N: { i: '3' }, Tidx: { type: 'DT_INT32' } }),
    node('dense/MatMul', 'MatMul', ['head/concat', floats('dense/kernel', [5, 41], 0.3)], { transpose_a: { b: false }, transpose_b: { b: true } }),
    node('dense/BiasAdd', 'BiasAdd', ['dense/MatMul', floats('dense/bias', [5], 0.1)], nhwc),
    { name: 'init', op: 'NoOp', input: ['^dense/BiasAdd'] },
    node('probs/Softmax', 'Softmax', ['dense/BiasAdd', '^init']),
  ]
  return writeGraphModel(dir, nodes, weights)
}

/**
 * Input [-1, 8, 8, 4]; output [batch, 6] probabilities. The rest of the kernels: fused activations (Relu6,
 * LeakyRelu, Sigmoid, Prelu), FusedBatchNorm, AddN over the unary and binary math ops, Slice / Split /
 * SplitV / Unpack / Pack / Tile / GatherV2, Elu / Prelu / OnesLike, both resizes, ClipByValue, ZerosLike / Snapshot, Min / Prod, BatchMatMulV2,
 * a fused ReLU matmul, LogSoftmax. Every branch reaches the logits, so the gradient check goes through all.
 */
export async function opZoo2GraphModel(dir: string): Promise<string> {
  const { weights, floats, intConst } = weightMaker(23)
  const nodes: NodeDefJSON[] = [placeholder('image', [-1, 8, 8, 4])]
  const add = (name: string, op: string, input: string[], attr: NodeDefJSON['attr'] = {}) => {
    nodes.push({ name, op, input, attr: { T, ...attr } })
    return name
  }
  const fusedConv = (name: string, activation: string, extra: string[] = [], attr: NodeDefJSON['attr'] = {}) =>
    add(name, '_FusedConv2D', ['image', floats(`${name}/kernel`, [3, 3, 4, 8], 1.2), floats(`${name}/bias`, [8], 0.5), ...extra], {
      ...convAttr,
      fused_ops: strs('BiasAdd', activation),
      num_args: { i: String(1 + extra.length) },
      ...attr,
    })
  const c1 = fusedConv('c1/Relu6', 'Relu6')
  const c2 = fusedConv('c2/LeakyRelu', 'LeakyRelu', [], { leakyrelu_alpha: { f: 0.15 } })
  const c3 = fusedConv('c3/Sigmoid', 'Sigmoid')
  const c4 = fusedConv('c4/Prelu', 'Prelu', [floats('c4/alpha', [8], 0.3, 0.2)])
  const bn = add('bn', 'FusedBatchNorm', [c1, floats('bn/gamma', [8], 0.3, 1), floats('bn/beta', [8], 0.2), floats('bn/mean', [8], 0.5, 2), floats('bn/var', [8], 0.5, 2)], {
    data_format: str('NHWC'),
    epsilon: { f: 0.0001 },
  })
  const abs = add('m/Abs', 'Abs', [c4])
  const abs1 = add('m/abs1', 'AddV2', [abs, floats('m/one', [], 0, 1)])
  const neg = add('m/Neg', 'Neg', [c3])
  const terms = [
    bn,
    add('m/AddN', 'AddN', [c1, c2, c3], { N: { i: '3' } }),
    add('m/Square', 'Square', [c4]),
    add('m/Sqrt', 'Sqrt', [abs1]),
    add('m/Rsqrt', 'Rsqrt', [abs1]),
    add('m/Log', 'Log', [abs1]),
    add('m/Pow', 'Pow', [abs1, floats('m/exponent', [], 0, 1.5)]),
    add('m/Exp', 'Exp', [neg]),
    add('m/Selu', 'Selu', [neg]),
    add('m/Softplus', 'Softplus', [c2]),
    add('m/SquaredDifference', 'SquaredDifference', [c1, c2]),
    add('m/Div', 'Div', [c2, abs1]),
    add('m/Elu', 'Elu', [neg]),
    add('m/Prelu', 'Prelu', [neg, floats('m/alpha', [8], 0.3, 0.2)]),
    add('m/Mul', 'Mul', [add('m/OnesLike', 'OnesLike', [c1]), c2]),
  ]
  const mix = add('mix', 'AddN', terms, { N: { i: String(terms.length) } })
  const slice = add('s/Slice', 'Slice', [mix, intConst('s/begin', [4], 0, 1, 1, 0), intConst('s/size', [4], -1, 6, 6, -1)], { Index: { type: 'DT_INT32' } })
  const split = add('s/split', 'Split', [intConst('s/axis', [], 3), slice], { num_split: { i: '2' } })
  add('s/unstack', 'Unpack', [`${split}:1`], { num: { i: '4' }, axis: { i: '3' } })
  const pack = add('s/stack', 'Pack', ['s/unstack', 's/unstack:3'], { N: { i: '2' }, axis: { i: '3' } })
  const tile = add('s/Tile', 'Tile', [split, intConst('s/multiples', [4], 1, 1, 1, 2)], { Tmultiples: { type: 'DT_INT32' } })
  const gather = add('s/GatherV2', 'GatherV2', [tile, intConst('s/indices', [3], 3, 0, 5), intConst('s/gaxis', [], 3)], { Tparams: T, batch_dims: { i: '0' } })
  const bilinear = add('r/ResizeBilinear', 'ResizeBilinear', [gather, intConst('r/size', [2], 9, 9)], { align_corners: { b: false }, half_pixel_centers: { b: true } })
  const nearest = add('r/ResizeNearestNeighbor', 'ResizeNearestNeighbor', [pack, intConst('r/size2', [2], 4, 4)], { align_corners: { b: false }, half_pixel_centers: { b: false } })
  const clip = add('r/clip', 'ClipByValue', [bilinear, floats('r/lo', [], 0, -0.5), floats('r/hi', [], 0, 0.5)])
  const clipped = add('r/sum', 'AddV2', [add('r/Snapshot', 'Snapshot', [clip]), add('r/ZerosLike', 'ZerosLike', [clip])])
  const minimum = add('f/Min', 'Min', [clipped, intConst('f/axes', [2], 1, 2)], { keep_dims: { b: false }, Tidx: { type: 'DT_INT32' } })
  const prod = add('f/Prod', 'Prod', [add('f/Sigmoid', 'Sigmoid', [nearest]), intConst('f/axes2', [2], 1, 2)], { keep_dims: { b: false }, Tidx: { type: 'DT_INT32' } })
  const rows = add('f/Reshape', 'Reshape', [mix, intConst('f/shape', [3], -1, 64, 8)], { Tshape: { type: 'DT_INT32' } })
  const bmm = add('f/BatchMatMulV2', 'BatchMatMulV2', [rows, floats('f/proj', [1, 5, 8], 0.4)], { adj_x: { b: false }, adj_y: { b: true } })
  const bmmMean = add('f/bmm_mean', 'Mean', [bmm, intConst('f/axis1', [1], 1)], { keep_dims: { b: false }, Tidx: { type: 'DT_INT32' } })
  // SplitV and back in the other order: the channels of mix, rotated by 3
  add('f/SplitV', 'SplitV', [mix, intConst('f/sizes', [2], 3, -1), intConst('f/saxis', [], 3)], { num_split: { i: '2' }, Tlen: { type: 'DT_INT32' } })
  const rotated = add('f/rotated', 'ConcatV2', ['f/SplitV:1', 'f/SplitV', intConst('f/raxis', [], 3)], { N: { i: '2' }, Tidx: { type: 'DT_INT32' } })
  const mixMean = add('f/mix_mean', 'Mean', [rotated, intConst('f/axes3', [2], 1, 2)], { keep_dims: { b: false }, Tidx: { type: 'DT_INT32' } })
  const features = add('f/concat', 'ConcatV2', [mixMean, minimum, prod, bmmMean, intConst('f/caxis', [], 1)], { N: { i: '4' }, Tidx: { type: 'DT_INT32' } })
  const hidden = add('h/Relu', '_FusedMatMul', [features, floats('h/kernel', [18, 12], 0.4), floats('h/bias', [12], 0.2, 0.2)], {
    transpose_a: { b: false },
    transpose_b: { b: false },
    fused_ops: strs('BiasAdd', 'Relu'),
    num_args: { i: '1' },
  })
  const logits = add('out/BiasAdd', 'BiasAdd', [add('out/MatMul', 'MatMul', [hidden, floats('out/kernel', [12, 6], 0.5)], { transpose_a: { b: false }, transpose_b: { b: false } }), floats('out/bias', [6], 0.1)], {
    data_format: str('NHWC'),
  })
  add('probs/Softmax', 'Softmax', [logits])
  add('probs/LogSoftmax', 'LogSoftmax', [logits])
  return writeGraphModel(dir, nodes, weights)
}
