/**
 * Gradients on the wasm backend (with the kernels of wasmGradients.ts) against the cpu backend.
 * Shapes and values come from a seeded generator: a failure message names the seed and the case;
 * replay with CONVSCOPE_TEST_SEED=<seed>.
 */
import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import * as tf from '@tensorflow/tfjs'
import { initBackend } from '../../src/main/engine/backend'
import { wasmGradientKernelNames, withoutFilterGradients } from '../../src/main/engine/wasmGradients'
import { seededRandom } from '../fixtures/models'

const TOLERANCE = 1e-4
const SEED = Number(process.env.CONVSCOPE_TEST_SEED ?? 20250101)

type Pair = [number, number]
type Pad = 'same' | 'valid'
type Backend = 'cpu' | 'wasm'

// ---------------------------------------------------------------------------------------------------
// Seeded values
// ---------------------------------------------------------------------------------------------------

/** Seeded test data (the fixtures' mulberry32 stream) with the draws the cases need. */
class Random {
  readonly uniform: () => number
  constructor(seed: number) {
    this.uniform = seededRandom(seed)
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.uniform() * (hi - lo + 1))
  }
  /** Values in [-1, 1) (plus `offset`): enough spread, no huge outliers. */
  values(shape: number[], offset = 0): Float32Array {
    const out = new Float32Array(shape.reduce((a, b) => a * b, 1))
    for (let i = 0; i < out.length; i++) out[i] = offset + 2 * this.uniform() - 1
    return out
  }
}

// ---------------------------------------------------------------------------------------------------
// Running the same computation on both backends
// ---------------------------------------------------------------------------------------------------

/** Data held by both backends: data moves between them, so only the sum is invariant. */
function dataIds(): number {
  return (['cpu', 'wasm'] as const).reduce((n, b) => n + tf.findBackend(b)!.numDataIds(), 0)
}

/** Run `f` on `backend`, read its outputs back, and check that nothing was left behind. */
async function runOn(backend: Backend, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend)
  const tensorsBefore = tf.memory().numTensors
  const dataBefore = dataIds()
  const out = tf.tidy(() => f().map((t) => t.dataSync() as Float32Array))
  assert.equal(tf.memory().numTensors, tensorsBefore, `${backend}: tensors leaked`)
  assert.equal(dataIds(), dataBefore, `${backend}: backend data leaked`)
  return out
}

/**
 * max |a - b| / max |b|, one number per output. The denominator is at least 1: inputs and weights are
 * O(1), so a gradient far below 1 is a sum that cancelled, where float32 rounding is relative to the
 * terms (O(1)), not to the result.
 */
function relativeError(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length)
  let diff = 0
  let scale = 0
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!))
    scale = Math.max(scale, Math.abs(b[i]!))
  }
  return diff / Math.max(scale, 1)
}

let worst = 0

async function assertSameOnBoth(label: string, outputs: string[], f: () => tf.Tensor[], reference: () => tf.Tensor[] = f): Promise<void> {
  const got = await runOn('wasm', f)
  const want = await runOn('cpu', reference)
  outputs.forEach((name, i) => {
    const err = relativeError(got[i]!, want[i]!)
    worst = Math.max(worst, err)
    assert.ok(err <= TOLERANCE, `${label}: ${name} relative error ${err.toExponential(2)} > ${TOLERANCE} (seed ${SEED})`)
  })
}

// ---------------------------------------------------------------------------------------------------
// Random convolution cases
// ---------------------------------------------------------------------------------------------------

interface ConvCase {
  label: string
  xShape: [number, number, number, number]
  filterShape: [number, number, number, number]
  outShape: [number, number, number, number]
  strides: Pair
  dilations: Pair
  pad: Pad
  x: Float32Array
  filter: Float32Array
  dy: Float32Array
}

function convCase(r: Random, kind: 'conv' | 'depthwise', strides: Pair, dilations: Pair, pad: Pad, multiplier = 1): ConvCase {
  const k: Pair = [r.int(1, 4), r.int(1, 4)]
  const eff = [0, 1].map((a) => (k[a]! - 1) * dilations[a]! + 1)
  const n = r.int(1, 2)
  const c = r.int(1, 4)
  const xShape: ConvCase['xShape'] = [n, r.int(eff[0]!, eff[0]! + 7), r.int(eff[1]!, eff[1]! + 7), c]
  const filterShape: ConvCase['filterShape'] = [k[0], k[1], c, kind === 'conv' ? r.int(1, 5) : multiplier]
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, dilations, pad, undefined, kind === 'depthwise')
  const outShape = info.outShape as ConvCase['outShape']
  const label = `${kind} x=${xShape} filter=${filterShape} strides=${strides} dilations=${dilations} ${pad}`
  return { label, xShape, filterShape, outShape, strides, dilations, pad, x: r.values(xShape), filter: r.values(filterShape), dy: r.values(outShape) }
}

/** The filter with dilation-1 zeros between taps: convolving with it equals the dilated convolution. */
function zeroInserted(c: ConvCase): { values: Float32Array; shape: [number, number, number, number] } {
  const [kh, kw, ci, co] = c.filterShape
  const [dh, dw] = c.dilations
  const shape: [number, number, number, number] = [(kh - 1) * dh + 1, (kw - 1) * dw + 1, ci, co]
  const values = new Float32Array(shape[0] * shape[1] * ci * co)
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const from = (i * kw + j) * ci * co
      values.set(c.filter.subarray(from, from + ci * co), (i * dh * shape[1] + j * dw) * ci * co)
    }
  }
  return { values, shape }
}

const STRIDES: Pair[] = [[1, 1], [2, 2], [3, 3], [2, 3]]
/** Random shapes drawn per configuration. */
const REPEATS = 3
const PADS: Pad[] = ['same', 'valid']

let r: Random

before(async () => {
  await initBackend({ forced: 'wasm' })
  r = new Random(SEED)
})

// ---------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------

test('the gradient kernels wasm lacks are registered; the others that conv/pool/norm/ReLU gradients use exist', () => {
  assert.deepEqual(wasmGradientKernelNames, ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum'])
  const needed = [...wasmGradientKernelNames, 'Conv2DBackpropInput', 'MaxPoolGrad', 'AvgPoolGrad', 'Step', 'Select', 'LessEqual', 'Greater', 'Sum', 'Rsqrt', 'Tile']
  for (const name of needed) assert.ok(tf.getKernel(name, 'wasm') != null, `${name} on wasm`)
})

test('conv2d: d/dx and d/dfilter, strides 1/2/3/(2,3), same and valid', async () => {
  for (let rep = 0; rep < REPEATS; rep++) for (const strides of STRIDES) {
    for (const pad of PADS) {
      const c = convCase(r, 'conv', strides, [1, 1], pad)
      await assertSameOnBoth(c.label, ['d/dx', 'd/dfilter'], () => {
        const dy = tf.tensor4d(c.dy, c.outShape)
        const g = tf.grads((x: tf.Tensor, f: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.strides, c.pad).mul(dy).sum())
        return g([tf.tensor4d(c.x, c.xShape), tf.tensor4d(c.filter, c.filterShape)])
      })
    }
  }
})

test('depthwiseConv2d, multiplier 1 and 2: d/dx and d/dfilter, strides 1/2/3/(2,3), same and valid', async () => {
  for (let rep = 0; rep < REPEATS; rep++) for (const multiplier of [1, 2]) {
    for (const strides of STRIDES) {
      for (const pad of PADS) {
        const c = convCase(r, 'depthwise', strides, [1, 1], pad, multiplier)
        await assertSameOnBoth(c.label, ['d/dx', 'd/dfilter'], () => {
          const dy = tf.tensor4d(c.dy, c.outShape)
          const g = tf.grads((x: tf.Tensor, f: tf.Tensor) => tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.strides, c.pad).mul(dy).sum())
          return g([tf.tensor4d(c.x, c.xShape), tf.tensor4d(c.filter, c.filterShape)])
        })
      }
    }
  }
})

test('fused conv2d and depthwise with bias (linear: the eager customGrad path; relu): d/dx, d/dfilter, d/dbias', async () => {
  for (let rep = 0; rep < REPEATS; rep++) for (const activation of ['linear', 'relu'] as const) {
    for (const strides of [[1, 1], [2, 2]] as Pair[]) {
      for (const pad of PADS) {
        for (const kind of ['conv', 'depthwise'] as const) {
          const c = convCase(r, kind, strides, [1, 1], pad, 2)
          const bias = r.values([c.outShape[3]], 0.2)
          await assertSameOnBoth(`fused ${activation} ${c.label}`, ['d/dx', 'd/dfilter', 'd/dbias'], () => {
            const dy = tf.tensor4d(c.dy, c.outShape)
            const fused = kind === 'conv' ? tf.fused.conv2d : tf.fused.depthwiseConv2d
            const g = tf.grads((x: tf.Tensor, filter: tf.Tensor, b: tf.Tensor) =>
              fused({ x: x as tf.Tensor4D, filter: filter as tf.Tensor4D, bias: b, strides: c.strides, pad: c.pad, activation }).mul(dy).sum(),
            )
            return g([tf.tensor4d(c.x, c.xShape), tf.tensor4d(c.filter, c.filterShape), tf.tensor1d(bias)])
          })
        }
      }
    }
  }
})

test('dilation 2 (kernel level: tfjs gradients refuse dilation > 1), against the zero-inserted filter on cpu', async () => {
  for (let rep = 0; rep < REPEATS; rep++) for (const strides of [[1, 1], [2, 2]] as Pair[]) {
    for (const pad of PADS) {
      for (const kind of ['conv', 'depthwise'] as const) {
        for (const multiplier of kind === 'conv' ? [1] : [1, 2]) {
          const c = convCase(r, kind, strides, [2, 2], pad, multiplier)
          const wide = zeroInserted(c)
          const depthwise = kind === 'depthwise'
          const attrs = { strides: c.strides, pad: c.pad, dilations: c.dilations, dataFormat: 'NHWC' }
          const wasm = () => {
            const x = tf.tensor4d(c.x, c.xShape)
            const dy = tf.tensor4d(c.dy, c.outShape)
            const filter = tf.tensor4d(c.filter, c.filterShape)
            const dfilter = tf.engine().runKernel(depthwise ? 'DepthwiseConv2dNativeBackpropFilter' : 'Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: c.filterShape }) as tf.Tensor
            // tfjs' Conv2DBackpropInput has no dilations attribute; the depthwise input gradient has.
            if (!depthwise) return [dfilter]
            const dx = tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter }, { ...attrs, inputShape: c.xShape }) as tf.Tensor
            return [dfilter, dx]
          }
          const cpu = () => {
            const dy = tf.tensor4d(c.dy, c.outShape)
            const conv = (x: tf.Tensor, f: tf.Tensor) =>
              (depthwise ? tf.depthwiseConv2d : tf.conv2d)(x as tf.Tensor4D, f as tf.Tensor4D, c.strides, c.pad).mul(dy).sum()
            const [dx, dwide] = tf.grads(conv)([tf.tensor4d(c.x, c.xShape), tf.tensor4d(wide.values, wide.shape)])
            const dfilter = tf.stridedSlice(dwide!, [0, 0, 0, 0], wide.shape, [c.dilations[0], c.dilations[1], 1, 1])
            return depthwise ? [dfilter, dx!] : [dfilter]
          }
          await assertSameOnBoth(c.label, depthwise ? ['d/dfilter', 'd/dx'] : ['d/dfilter'], wasm, cpu)
        }
      }
    }
  }
})

test("forward conv, depthwise and fused with 'same' padding where the filter is shorter than the stride (tfjs#6629)", async () => {
  // wasm passes these to XNNPACK's TF-SAME mode, which gets them wrong; fixWasmSamePadding makes the padding explicit.
  for (const [k, strides] of [[[1, 3], [2, 2]], [[2, 1], [3, 3]], [[1, 1], [2, 2]], [[2, 2], [3, 3]], [[3, 1], [2, 3]]] as [Pair, Pair][]) {
    const n = 1
    const c = 3
    const xShape = [n, r.int(2, 9), r.int(2, 9), c] as [number, number, number, number]
    const x = r.values(xShape)
    const conv = r.values([k[0], k[1], c, 4])
    const dw = r.values([k[0], k[1], c, 2])
    const bias = r.values([4])
    await assertSameOnBoth(`same padding x=${xShape} filter=${k} strides=${strides}`, ['conv', 'depthwise', 'fused conv', 'fused depthwise'], () => {
      const xt = tf.tensor4d(x, xShape)
      const ct = tf.tensor4d(conv, [k[0], k[1], c, 4])
      const dt = tf.tensor4d(dw, [k[0], k[1], c, 2])
      return [
        tf.conv2d(xt, ct, strides, 'same'),
        tf.depthwiseConv2d(xt, dt, strides, 'same'),
        tf.fused.conv2d({ x: xt, filter: ct, strides, pad: 'same', bias: tf.tensor1d(bias), activation: 'relu' }),
        tf.fused.depthwiseConv2d({ x: xt, filter: dt, strides, pad: 'same' }),
      ]
    })
  }
})

test('maxPool and avgPool gradients, with negative windows and ties (wasm MaxPoolGrad is replaced)', async () => {
  for (let rep = 0; rep < REPEATS; rep++) for (const strides of [[1, 1], [2, 2], [3, 3]] as Pair[]) {
    for (const pad of PADS) {
      const size: Pair = [r.int(1, 3), r.int(1, 3)]
      const shape = [r.int(1, 2), r.int(3, 9), r.int(3, 9), r.int(1, 3)]
      // Values rounded to halves: many windows hold ties, which must go to the first maximum as on cpu.
      const x = r.values(shape).map((v) => Math.round(v * 4) / 2)
      const label = `pool ${size} x=${shape} strides=${strides} ${pad}`
      await assertSameOnBoth(label, ['d/dx of maxPool', 'd/dx of avgPool'], () => {
        const xt = tf.tensor4d(x, shape as [number, number, number, number])
        const weigh = (y: tf.Tensor) => y.mul(tf.range(1, y.size + 1).reshape(y.shape).sin()).sum()
        return [tf.grad((v: tf.Tensor) => weigh(tf.maxPool(v as tf.Tensor4D, size, strides, pad)))(xt), tf.grad((v: tf.Tensor) => weigh(tf.avgPool(v as tf.Tensor4D, size, strides, pad)))(xt)]
      })
    }
  }
})

test('gather of a class score (UnsortedSegmentSum) and tile (broadcast and general) on wasm', async () => {
  const logits = r.values([3, 10])
  const small = r.values([1, 4, 1, 3])
  await assertSameOnBoth('gather / tile', ['d/dlogits', 'broadcast tile', 'general tile', 'd/dx of tile'], () => {
    const lt = tf.tensor2d(logits, [3, 10])
    const st = tf.tensor4d(small, [1, 4, 1, 3])
    return [
      tf.grad((l: tf.Tensor) => l.gather([7, 2, 7], 1).square().sum())(lt),
      tf.tile(st, [2, 1, 5, 1]),
      tf.tile(st, [1, 2, 3, 2]),
      tf.grad((v: tf.Tensor) => tf.tile(v, [1, 2, 3, 2]).sin().sum())(st),
    ]
  })
})

/** conv -> BN -> ReLU -> depthwise -> BN -> ReLU6 -> max pool -> conv+bias -> leaky ReLU -> avg pool, inference mode. */
function chainModel(seed: number): { model: tf.Sequential; input: Float32Array; inputShape: number[]; dy: Float32Array } {
  const g = new Random(seed)
  const inputShape = [2, 13, 11, 3]
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: inputShape.slice(1), filters: 6, kernelSize: 3, strides: 2, padding: 'same', useBias: false }),
      tf.layers.batchNormalization(),
      tf.layers.reLU(),
      tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', useBias: false }),
      tf.layers.batchNormalization(),
      tf.layers.reLU({ maxValue: 6 }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same' }),
      tf.layers.conv2d({ filters: 4, kernelSize: 1 }),
      tf.layers.leakyReLU({ alpha: 0.1 }),
      tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'valid' }),
    ],
  })
  // Seeded weights; moving variances positive (BN divides by their square root).
  const weights = model.weights.map((w) => tf.tensor(g.values(w.shape as number[], w.name.includes('variance') ? 1.5 : 0), w.shape as number[]))
  model.setWeights(weights)
  tf.dispose(weights)
  const outShape = [inputShape[0]!, ...(model.outputShape as number[]).slice(1)]
  return { model, input: g.values(inputShape), inputShape, dy: g.values(outShape) }
}

test('layers chain conv -> batchNorm -> relu ... (inference mode): d/dx and d/dweights', async () => {
  const { model, input, inputShape, dy } = chainModel(SEED + 1)
  const kernels = model.trainableWeights.map((w) => w.read() as tf.Variable)
  const x = tf.variable(tf.tensor(input, inputShape), true, 'chain-input')
  const names = ['d/dx', ...model.trainableWeights.map((w) => `d/d${w.name}`)]
  await assertSameOnBoth('layers chain', names, () => {
    const up = tf.tensor(dy, [inputShape[0]!, ...(model.outputShape as number[]).slice(1)])
    const { grads } = tf.variableGrads(() => (model.apply(x, { training: false }) as tf.Tensor).mul(up).sum() as tf.Scalar, [x, ...kernels])
    return [x, ...kernels].map((v) => grads[v.name]!)
  })
  x.dispose()
  model.dispose()
})

test('withoutFilterGradients: same input gradient, filter gradients not computed (NaN) on wasm', async () => {
  const { model, input, inputShape, dy } = chainModel(SEED + 2)
  const outShape = [inputShape[0]!, ...(model.outputShape as number[]).slice(1)]
  const inputGradient = () => {
    const up = tf.tensor(dy, outShape)
    return [tf.grad((x: tf.Tensor) => (model.apply(x, { training: false }) as tf.Tensor).mul(up).sum())(tf.tensor(input, inputShape))]
  }
  await assertSameOnBoth('input gradient only', ['d/dx'], () => withoutFilterGradients(inputGradient), inputGradient)

  await tf.setBackend('wasm')
  const kernel = model.layers[0]!.trainableWeights[0]!.read() as tf.Variable
  const dkernel = withoutFilterGradients(() => tf.tidy(() => {
    const up = tf.tensor(dy, outShape)
    return tf.variableGrads(() => (model.apply(tf.tensor(input, inputShape), { training: false }) as tf.Tensor).mul(up).sum() as tf.Scalar, [kernel]).grads[kernel.name]!
  }))
  assert.ok(Number.isNaN(dkernel.dataSync()[0]), 'a filter gradient asked for inside withoutFilterGradients is NaN, not silently wrong')
  dkernel.dispose()
  model.dispose()
})

test('a kernel that fails part-way frees what it made', async () => {
  await tf.setBackend('wasm')
  const before = dataIds()
  const x = tf.tensor4d(r.values([1, 6, 6, 2]), [1, 6, 6, 2])
  const dy = tf.tensor4d(r.values([1, 6, 6, 3]), [1, 6, 6, 3])
  // filterShape says 4 output channels but dy has 3: the kernel pads and transposes x, then fails.
  assert.throws(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 2, 4] }))
  tf.dispose([x, dy])
  assert.equal(dataIds(), before)
})

test('worst relative error over all cases', () => {
  console.log(`worst wasm-vs-cpu relative gradient error: ${worst.toExponential(2)} (seed ${SEED})`)
  assert.ok(worst > 0 && worst <= TOLERANCE)
})
