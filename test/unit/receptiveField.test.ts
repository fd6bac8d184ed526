/**
 * Receptive fields: hand-computed cases, and the computed field of single units checked against the
 * EMPIRICAL support of that unit's input gradient on random small networks.
 *
 * The random networks are linear (no activations, zero biases) with positive weights and average pooling,
 * so a unit's gradient is a sum of positive products: non-zero exactly on the input pixels the unit is
 * connected to, never cancelled by chance. Their geometry is drawn so the field has no holes (kernel ≥
 * stride, dilation only on odd kernels over a field at least d·jump wide, zero padding only of the image,
 * 'valid' windows only where they drop no trailing pixels): then the support is exactly the field
 * clipped to the image, corners included.
 *
 * tfjs has no gradient for dilated convolutions (Conv2D_grad asserts dilation 1), so for networks with
 * dilation the support comes from impulse responses instead: for a linear zero-bias network the response
 * at a unit to a one-pixel image is that pixel's column of the Jacobian, i.e. the same thing. A test
 * checks both ways agree on a network without dilation.
 */
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import * as tf from '@tensorflow/tfjs'
import type { LayerInfo, ReceptiveField } from '../../src/shared/api'
import { layersArchitecture } from '../../src/main/engine/models/architecture'
import { fieldBox, inputField, propagateField, samePadding, type Size2, type SpatialOp } from '../../src/main/engine/models/receptiveField'
import { seededRandom } from '../fixtures/models'

before(async () => {
  await tf.setBackend('cpu')
})

// ---------------------------------------------------------------------------------------------------
// Hand-computed cases
// ---------------------------------------------------------------------------------------------------

const win = (k: number, s: number, padding: 'same' | 'valid' = 'valid', d = 1): SpatialOp => ({ op: 'window', kernel: [k, k], stride: [s, s], dilation: [d, d], padding })

/** Chain ops on a square input of side n, tracking the spatial size. */
function chain(n: number, ops: SpatialOp[]): { rf: ReceptiveField; size: number } {
  let rf: ReceptiveField | null = inputField()
  let size = n
  for (const op of ops) {
    let out = size
    if (op.op === 'window') out = op.padding === 'same' ? Math.ceil(size / op.stride[0]) : Math.floor((size - ((op.kernel[0] - 1) * op.dilation[0] + 1)) / op.stride[0]) + 1
    if (op.op === 'pad') out = size + 2 * op.before[0]
    rf = propagateField(op, [rf], [size, size], [out, out])
    size = out
  }
  assert.ok(rf)
  return { rf, size }
}

test('AlexNet-like conv1 (11×11, stride 4, valid on 227): size 11, jump 4, start 5', () => {
  const { rf, size } = chain(227, [win(11, 4)])
  assert.deepEqual(rf, { size: [11, 11], jump: [4, 4], start: [5, 5], exact: true })
  assert.equal(size, 55)
})

test("VGG: stacked 3×3 'same' convs grow 3, 5, 7; a 2×2 pool then doubles the jump", () => {
  assert.deepEqual(chain(224, [win(3, 1, 'same')]).rf.size, [3, 3])
  assert.deepEqual(chain(224, [win(3, 1, 'same'), win(3, 1, 'same')]).rf.size, [5, 5])
  const three = chain(224, [win(3, 1, 'same'), win(3, 1, 'same'), win(3, 1, 'same')]).rf
  assert.deepEqual(three, { size: [7, 7], jump: [1, 1], start: [0, 0], exact: true })
  const pooled = chain(224, [win(3, 1, 'same'), win(3, 1, 'same'), win(2, 2)]).rf
  assert.deepEqual(pooled, { size: [6, 6], jump: [2, 2], start: [0.5, 0.5], exact: true })
  assert.deepEqual(chain(224, [win(3, 1, 'same'), win(3, 1, 'same'), win(2, 2), win(3, 1, 'same')]).rf.size, [10, 10])
})

test("TF 'same' padding is asymmetric: the odd pixel goes after, and it depends on the input size", () => {
  // 3×3 stride 2 on 224: out 112, pad total 1 → 0 before, 1 after: unit 0 is centred on pixel 1.
  assert.deepEqual(samePadding(224, 3, 2), { before: 0, after: 1, out: 112 })
  assert.deepEqual(chain(224, [win(3, 2, 'same')]).rf.start, [1, 1])
  // On 225 the total is 2: one each side, unit 0 centred on pixel 0.
  assert.deepEqual(samePadding(225, 3, 2), { before: 1, after: 1, out: 113 })
  assert.deepEqual(chain(225, [win(3, 2, 'same')]).rf.start, [0, 0])
  // ResNet conv1 with 'same' (7×7 s2 on 224): pad 5 = 2 before + 3 after → start 3 - 2 = 1.
  assert.deepEqual(samePadding(224, 7, 2), { before: 2, after: 3, out: 112 })
  assert.deepEqual(chain(224, [win(7, 2, 'same')]).rf, { size: [7, 7], jump: [2, 2], start: [1, 1], exact: true })
  // Even kernel, stride 1: total 1, all after → the field is centred half a pixel right of the unit.
  assert.deepEqual(chain(10, [win(2, 1, 'same')]).rf.start, [0.5, 0.5])
  // Dilation widens the kernel before padding: 3×3 d2 'same' pads 2 before.
  assert.deepEqual(samePadding(20, 3, 1, 2), { before: 2, after: 2, out: 20 })
})

test('Keras ResNet50 stem: ZeroPadding2D(3) + 7×7/2 valid, ZeroPadding2D(1) + 3×3/2 max pool', () => {
  const { rf, size } = chain(224, [{ op: 'pad', before: [3, 3] }, win(7, 2), { op: 'pad', before: [1, 1] }, win(3, 2)])
  assert.equal(size, 56)
  assert.deepEqual(rf, { size: [11, 11], jump: [4, 4], start: [0, 0], exact: true })
})

test('dilation: 3×3 d2 sees 5 pixels, then 3×3 d4 adds 8 more', () => {
  assert.deepEqual(chain(64, [win(3, 1, 'same', 2)]).rf.size, [5, 5])
  assert.deepEqual(chain(64, [win(3, 1, 'same', 2), win(3, 1, 'same', 4)]).rf.size, [13, 13])
})

test('merges: equal fields pass through exact; different fields give the enclosing field, inexact', () => {
  const a = chain(16, [win(3, 1, 'same')]).rf
  const b = chain(16, [win(5, 1, 'same')]).rf
  assert.deepEqual(propagateField({ op: 'merge' }, [a, a], [16, 16], [16, 16]), a)
  assert.deepEqual(propagateField({ op: 'merge' }, [a, b], [16, 16], [16, 16]), { ...b, exact: false })
  // Offset branches (an even kernel shifts the centre): the enclosing field spans both.
  const c = chain(16, [win(2, 1, 'same')]).rf // covers [0, 1] for unit 0
  const m = propagateField({ op: 'merge' }, [a, c], [16, 16], [16, 16])!
  assert.deepEqual(fieldBox(m, 0, 0), { top: -1, bottom: 1, left: -1, right: 1 })
  assert.equal(m.exact, false)
})

test('global pooling / dense: one field, the union of all positions, jump 0; dense after it passes it on', () => {
  const { rf } = chain(8, [win(3, 2, 'same')]) // 4×4 map, size 3, jump 2, start 1 (pad 0 before, 1 after)
  const g = propagateField({ op: 'global' }, [rf], [4, 4], null)!
  // Units 0..3 cover [0, 2] ... [6, 8]: union [0, 8], centred on 4.
  assert.deepEqual(g, { size: [9, 9], jump: [0, 0], start: [4, 4], exact: true })
  assert.deepEqual(propagateField({ op: 'pass' }, [g], null, null), g)
})

test('padding, cropping and upsampling shift or enclose the field', () => {
  const rf = chain(16, [win(3, 1)]).rf // size 3, jump 1, start 1
  assert.deepEqual(propagateField({ op: 'pad', before: [2, 1] }, [rf], [14, 14], [18, 16])!.start, [-1, 0])
  assert.deepEqual(propagateField({ op: 'crop', before: [2, 1] }, [rf], [14, 14], [10, 12])!.start, [3, 2])
  const pooled = chain(16, [win(2, 2)]).rf // size 2, jump 2, start 0.5
  const up = propagateField({ op: 'upsample', factor: [2, 2], interpolation: 'nearest' }, [pooled], [8, 8], [16, 16])!
  assert.equal(up.exact, false)
  assert.deepEqual(up.jump, [1, 1])
  // Output units 0 and 1 both read pooled unit 0 = pixels [0, 1]; the enclosing field must hold that.
  for (const i of [0, 1, 14, 15]) {
    const box = fieldBox(up, i, i)!
    const src = Math.floor(i / 2) * 2
    assert.ok(box.top <= src && box.bottom >= src + 1, `unit ${i}: ${JSON.stringify(box)}`)
  }
})

test('fieldBox clips to the image and says null where nothing is left', () => {
  const rf: ReceptiveField = { size: [7, 7], jump: [2, 2], start: [1, 1], exact: true }
  assert.deepEqual(fieldBox(rf, 0, 0), { top: -2, bottom: 4, left: -2, right: 4 })
  assert.deepEqual(fieldBox(rf, 0, 0, [10, 10]), { top: 0, bottom: 4, left: 0, right: 4 })
  assert.equal(fieldBox(rf, 10, 0, [10, 10]), null)
})

// ---------------------------------------------------------------------------------------------------
// Empirical support of single units on random networks
// ---------------------------------------------------------------------------------------------------

interface RandomNet {
  model: tf.LayersModel
  size: Size2
  /** Input pixels the network can see at all [top, bottom, left, right]: all but what a first crop removes. */
  visible: { top: number; bottom: number; left: number; right: number }
  dilated: boolean
  description: string[]
}

/**
 * A random linear CNN with positive weights whose fields have no holes. Tracks per axis the field size
 * and jump so that every choice keeps the field contiguous (see the header).
 */
function randomNet(seed: number, size: Size2): RandomNet {
  const rand = seededRandom(seed)
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!
  let s = 0
  const positive = () => tf.initializers.randomUniform({ minval: 0.1, maxval: 1, seed: seed * 100 + s++ })
  const input = tf.input({ shape: [size[0], size[1], 2] })
  let x: tf.SymbolicTensor = input
  let hw: Size2 = [...size]
  let r = 1 // field size (both axes grow alike: square kernels)
  let j = 1
  let dilated = false
  const description: string[] = []
  const apply = (layer: tf.layers.Layer, t: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(t) as tf.SymbolicTensor

  const visible = { top: 0, bottom: size[0] - 1, left: 0, right: size[1] - 1 }
  // Padding and cropping only of the image itself: deeper down, padded units have no support at all and
  // cropped-away pixels stay inside fields, so "the field clipped to the image" would not be the support.
  const start = rand()
  if (start < 0.3) {
    const p = pick([1, 2])
    x = apply(tf.layers.zeroPadding2d({ padding: [[p, 0], [0, p]] }), x)
    hw = [hw[0] + p, hw[1] + p]
    description.push(`zeropad ${p}`)
  } else if (start < 0.5) {
    x = apply(tf.layers.cropping2D({ cropping: [[1, 0], [0, 2]] }), x)
    hw = [hw[0] - 1, hw[1] - 2]
    visible.top = 1
    visible.right -= 2
    description.push('crop')
  }
  const layers = 4 + Math.floor(rand() * 4)
  for (let i = 0; i < layers; i++) {
    const kind = pick(['conv', 'conv', 'depthwise', 'pool', 'bn', 'residual', 'concat'])
    const minSide = Math.min(...hw)
    if (kind === 'conv' || kind === 'depthwise' || kind === 'pool') {
      const k = kind === 'pool' ? pick([2, 3]) : pick([1, 2, 3, 4, 5])
      const stride = pick([1, 1, 2].filter((v) => v <= k))
      // Dilation on Conv2D only: tfjs-layers' DepthwiseConv2D ignores dilationRate (loadModel refuses such models).
      const d = stride === 1 && k % 2 === 1 && k > 1 && r >= 2 * j && kind === 'conv' && rand() < 0.6 ? pick([2, 3].filter((v) => r >= v * j)) : 1
      const kEff = (k - 1) * d + 1
      let padding: 'same' | 'valid' = pick(['same', 'valid'])
      // 'valid' only where it drops no trailing pixels: dropped rows are seen by no unit of any later layer.
      if (padding === 'valid' && (minSide - kEff + 1 < 3 || hw.some((n) => (n - kEff) % stride !== 0))) padding = 'same'
      if (padding === 'same' && Math.ceil(minSide / stride) < 2) continue
      const common = { kernelSize: k, strides: stride, padding, dilationRate: d }
      const layer =
        kind === 'conv'
          ? tf.layers.conv2d({ ...common, filters: pick([2, 3]), useBias: false, kernelInitializer: positive() })
          : kind === 'depthwise'
            ? tf.layers.depthwiseConv2d({ ...common, useBias: false, depthwiseInitializer: positive() })
            : tf.layers.averagePooling2d({ poolSize: k, strides: stride, padding })
      x = apply(layer, x)
      hw = hw.map((n) => (padding === 'same' ? Math.ceil(n / stride) : Math.floor((n - kEff) / stride) + 1)) as Size2
      r += (kEff - 1) * j
      j *= stride
      dilated ||= d > 1
      description.push(`${kind} k${k} s${stride} d${d} ${padding} → ${hw.join('×')}`)
    } else if (kind === 'bn') {
      x = apply(tf.layers.batchNormalization({ gammaInitializer: positive(), movingVarianceInitializer: positive() }), x)
      description.push('bn')
    } else if (kind === 'residual' || kind === 'concat') {
      const ka = pick([1, 3])
      const kb = pick([1, 2, 3, 5])
      const a = apply(tf.layers.conv2d({ filters: 2, kernelSize: ka, padding: 'same', useBias: false, kernelInitializer: positive() }), x)
      const b = apply(tf.layers.conv2d({ filters: 2, kernelSize: kb, padding: 'same', useBias: false, kernelInitializer: positive() }), x)
      x = apply(kind === 'residual' ? tf.layers.add() : tf.layers.concatenate(), [a, b])
      r += (Math.max(ka, kb) - 1) * j
      description.push(`${kind} k${ka}|k${kb}`)
    }
  }
  if (rand() < 0.5) {
    x = apply(tf.layers.globalAveragePooling2d({}), x)
    x = apply(tf.layers.dense({ units: 2, useBias: false, kernelInitializer: positive() }), x)
    description.push('gap + dense')
  }
  return { model: tf.model({ inputs: input, outputs: x }), size, visible, dilated, description }
}

/** Rows and columns where a [h, w] map is non-zero. */
function support(map: Float32Array | Int32Array | Uint8Array, h: number, w: number): { rows: number[]; cols: number[] } {
  const rows = new Set<number>()
  const cols = new Set<number>()
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (map[y * w + x] !== 0) (rows.add(y), cols.add(x))
  return { rows: [...rows].sort((a, b) => a - b), cols: [...cols].sort((a, b) => a - b) }
}

const range = (lo: number, hi: number) => Array.from({ length: Math.max(0, hi - lo + 1) }, (_, i) => lo + i)

/** Units to probe: corners, centre and one more; for a vector layer just [0, 0]. */
function unitsOf(layer: LayerInfo, rand: () => number): [number, number][] {
  if (!layer.spatial) return [[0, 0]]
  const [h, w] = layer.outputShape as number[]
  const units: [number, number][] = [
    [0, 0],
    [0, w! - 1],
    [h! - 1, 0],
    [h! - 1, w! - 1],
    [Math.floor(h! / 2), Math.floor(w! / 2)],
    [Math.floor(rand() * h!), Math.floor(rand() * w!)],
  ]
  return units
}

/** Support of each unit (all channels at that position) by input gradients, one backward pass for all units. */
function gradientSupports(model: tf.LayersModel, layer: string, units: [number, number][], size: Size2): Uint8Array[] {
  const head = tf.model({ inputs: model.inputs, outputs: model.getLayer(layer).output as tf.SymbolicTensor })
  return tf.tidy(() => {
    const n = units.length
    const x = tf.ones([n, size[0], size[1], 2])
    const outShape = head.outputs[0]!.shape
    const mask = tf.buffer([n, ...(outShape.slice(1) as number[])])
    units.forEach(([y, xx], b) => {
      const channels = outShape[outShape.length - 1] as number
      for (let c = 0; c < channels; c++) (outShape.length === 4 ? mask.set(1, b, y, xx, c) : mask.set(1, b, c))
    })
    const maskT = mask.toTensor()
    const g = tf.grad((inp: tf.Tensor) => tf.sum(tf.mul(head.apply(inp) as tf.Tensor, maskT)))(x)
    const perPixel = tf.sum(tf.abs(g), 3)
    return units.map((_, b) => Uint8Array.from(tf.notEqual(perPixel.slice([b, 0, 0], [1, size[0], size[1]]), 0).dataSync()))
  })
}

/**
 * Support of units by impulse responses (linear zero-bias networks only): one batched forward pass of
 * one-pixel images to every layer; `of(layer, units)` reads the supports out.
 */
function impulseResponses(model: tf.LayersModel, size: Size2) {
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer')
  const all = tf.model({ inputs: model.inputs, outputs: layers.map((l) => l.output as tf.SymbolicTensor) })
  const pixels = size[0] * size[1]
  const outs = tf.tidy(() => {
    const impulses = tf.oneHot(tf.range(0, pixels, 1, 'int32'), pixels).reshape([pixels, size[0], size[1], 1]).tile([1, 1, 1, 2])
    const r = all.apply(impulses) as tf.Tensor | tf.Tensor[]
    return Array.isArray(r) ? r : [r]
  })
  const byName = new Map(layers.map((l, i) => [l.name, outs[i]!]))
  return {
    of(layer: string, units: [number, number][]): Uint8Array[] {
      const out = byName.get(layer)!
      return tf.tidy(() =>
        units.map(([y, x]) => {
          const at = out.shape.length === 4 ? out.slice([0, y, x, 0], [pixels, 1, 1, -1]) : out
          return Uint8Array.from(tf.notEqual(tf.sum(tf.abs(at.reshape([pixels, -1])), 1), 0).dataSync())
        }),
      )
    },
    dispose: () => tf.dispose(outs),
  }
}

/**
 * Check the field of sampled units of every layer against their empirical support. Without dilation the
 * support is exactly the field clipped to the visible image, border units included. With dilation a
 * border unit's taps may fall on padding that no real tap makes up for (the field of a padded position
 * reaches into the image but carries zeros), so there the support only lies within the field; units whose
 * field is inside the image must still match exactly, and we add some of those to the sample.
 */
function checkNet(net: RandomNet, seed: number, method: 'gradient' | 'impulse'): { units: number; exact: number } {
  const arch = layersArchitecture(net.model)
  const rand = seededRandom(seed + 99)
  const impulses = method === 'impulse' ? impulseResponses(net.model, net.size) : null
  const v = net.visible
  const inside = (b: ReturnType<typeof fieldBox>) => b !== null && b.top >= v.top && b.bottom <= v.bottom && b.left >= v.left && b.right <= v.right
  let checked = 0
  let exact = 0
  for (const layer of arch.layers) {
    if (layer.kind === 'input') continue
    const rf = layer.receptiveField
    assert.ok(rf, `seed ${seed}: no field for ${layer.name}`)
    const units = unitsOf(layer, rand)
    if (net.dilated && layer.spatial) {
      const [h, w] = layer.outputShape as number[]
      const interior: [number, number][] = []
      for (let y = 0; y < h!; y++) for (let x = 0; x < w!; x++) if (inside(fieldBox(rf, y, x))) interior.push([y, x])
      for (let k = 0; k < 3 && interior.length; k++) units.push(interior.splice(Math.floor(rand() * interior.length), 1)[0]!)
    }
    const maps = impulses ? impulses.of(layer.name, units) : gradientSupports(net.model, layer.name, units, net.size)
    units.forEach(([y, x], i) => {
      const got = support(maps[i]!, net.size[0], net.size[1])
      const box = fieldBox(rf, y, x, net.size)
      const rows = box ? range(Math.max(box.top, v.top), Math.min(box.bottom, v.bottom)) : []
      const cols = box ? range(Math.max(box.left, v.left), Math.min(box.right, v.right)) : []
      const want = rows.length && cols.length ? { rows, cols } : { rows: [], cols: [] }
      const where = `seed ${seed} [${net.description.join(', ')}] layer ${layer.name} (${layer.type}) unit (${y}, ${x}) field ${JSON.stringify(rf)}`
      if (!net.dilated || inside(fieldBox(rf, y, x))) {
        assert.deepEqual(got, want, where)
        exact++
      } else {
        assert.ok(got.rows.every((r) => want.rows.includes(r)) && got.cols.every((c) => want.cols.includes(c)), `${where}: support outside the field`)
      }
      checked++
    })
  }
  impulses?.dispose()
  return { units: checked, exact }
}

const SIZES: Size2[] = [
  [17, 17],
  [20, 20],
  [19, 24],
  [16, 13],
]

test('computed fields match the input-gradient support of single units (random nets, no dilation)', () => {
  let nets = 0
  let units = 0
  for (let seed = 1; nets < 12; seed++) {
    const net = randomNet(seed, SIZES[seed % SIZES.length]!)
    if (net.dilated) {
      net.model.dispose()
      continue
    }
    units += checkNet(net, seed, 'gradient').exact
    net.model.dispose()
    nets++
  }
  assert.ok(units > 200, `checked only ${units} units`)
})

test('computed fields match the impulse-response support on random nets with dilation', () => {
  let nets = 0
  let units = 0
  let exact = 0
  for (let seed = 1; nets < 8 && seed < 500; seed++) {
    const net = randomNet(seed, SIZES[seed % SIZES.length]!)
    if (net.dilated) {
      const n = checkNet(net, seed, 'impulse')
      units += n.units
      exact += n.exact
      nets++
    }
    net.model.dispose()
  }
  assert.equal(nets, 8)
  assert.ok(units > 150 && exact > 40, `checked only ${units} units, ${exact} of them exactly`)
})

test('impulse responses and input gradients give the same support', () => {
  let seed = 1
  let net = randomNet(seed, [17, 17])
  while (net.dilated) {
    net.model.dispose()
    net = randomNet(++seed, [17, 17])
  }
  const arch = layersArchitecture(net.model)
  const last = arch.layers[arch.layers.length - 1]!
  const units = unitsOf(last, seededRandom(3))
  const a = gradientSupports(net.model, last.name, units, net.size)
  const impulses = impulseResponses(net.model, net.size)
  const b = impulses.of(last.name, units)
  impulses.dispose()
  assert.deepEqual(a.map((m) => Array.from(m)), b.map((m) => Array.from(m)))
  net.model.dispose()
})

test('upsampling gives an enclosing field that holds the empirical support', () => {
  const input = tf.input({ shape: [12, 12, 2] })
  const opts = { useBias: false, kernelInitializer: tf.initializers.randomUniform({ minval: 0.1, maxval: 1, seed: 5 }) }
  let x = tf.layers.conv2d({ filters: 1, kernelSize: 3, strides: 2, padding: 'same', ...opts }).apply(input) as tf.SymbolicTensor
  x = tf.layers.upSampling2d({ size: [2, 2] }).apply(x) as tf.SymbolicTensor
  x = tf.layers.conv2d({ filters: 1, kernelSize: 3, padding: 'same', ...opts }).apply(x) as tf.SymbolicTensor
  const model = tf.model({ inputs: input, outputs: x })
  const arch = layersArchitecture(model)
  const last = arch.layers[arch.layers.length - 1]!
  assert.equal(last.receptiveField!.exact, false)
  const units: [number, number][] = [[0, 0], [5, 6], [11, 11], [6, 5]]
  // One unit per pass: tfjs-backend-cpu's ResizeNearestNeighborGrad reads dy with the input's batch stride,
  // so batch items after the first get a wrong (zero) gradient.
  const maps = units.map((u) => support(gradientSupports(model, last.name, [u], [12, 12])[0]!, 12, 12))
  units.forEach(([y, x], i) => {
    const box = fieldBox(last.receptiveField!, y, x, [12, 12])!
    const got = maps[i]!
    assert.ok(got.rows[0]! >= box.top && got.rows.at(-1)! <= box.bottom, `rows ${got.rows} in ${JSON.stringify(box)}`)
    assert.ok(got.cols[0]! >= box.left && got.cols.at(-1)! <= box.right, `cols ${got.cols} in ${JSON.stringify(box)}`)
    // Enclosing, not wildly larger: at most one input jump (2) more on each side.
    assert.ok(box.bottom - box.top + 1 <= got.rows.length + 4)
  })
  model.dispose()
})
