/**
 * The class-map methods are right, not just plausible:
 * - CAM obeys its identity on the demo gap network: mean_xy CAM_c + b_c = logit_c (Zhou et al. 2016);
 * - Grad-CAM at conv_last of that GAP network is ReLU(CAM) / (h·w) (its gradients are w_c / (h·w) everywhere),
 *   and Grad-CAM++ there follows its closed form;
 * - Grad-CAM, Grad-CAM++ and gradient saliency match PyTorch (test/golden, made by
 *   scripts/reference/gradcam_reference.py) on a network with a skip connection around the map layer;
 * - running from an inner layer keeps the skip path on the real input; saliency is 0 where the network
 *   cannot see; every method frees every tensor it makes.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../src/shared/api'
import { initBackend } from '../../src/main/engine/backend'
import { generateDemoDataset } from '../../src/main/engine/demo'
import { toInputTensor, toModelInput } from '../../src/main/engine/images/preprocess'
import { readImage } from '../../src/main/engine/images/readImage'
import type { LoadedModel } from '../../src/main/engine/model'
import { fsIOHandler } from '../../src/main/engine/models/fsIOHandler'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { MAP_METHOD_NAMES, MAP_METHODS, mapMethod, type ClassMap } from '../../src/main/engine/maps'
import { findClassifierHead } from '../../src/main/engine/models/classifierHead'
import { makeTinyGraphModel } from '../fixtures/models'
import { maxAbs, relativeDiff } from '../fixtures/numeric'

const ROOT = join(import.meta.dirname, '../..')
const GOLDEN = join(ROOT, 'test/golden')
interface Golden {
  input: { shape: number[]; values: number[] }
  logits: number[]
  grids: Record<string, [number, number]>
  maps: Record<'gradcam' | 'gradcampp' | 'backprop', Record<string, number[][]>>
}

let scratch: string
let gap: LoadedModel
let gmp: LoadedModel
let fc: LoadedModel
let net: LoadedModel
let golden: Golden
/** Two real demo images, preprocessed for the demo networks. */
let images: tf.Tensor4D[]

before(async () => {
  await initBackend({ forced: 'wasm' })
  gap = await loadModel(join(ROOT, 'resources/demo-models/gap'))
  gmp = await loadModel(join(ROOT, 'resources/demo-models/gmp'))
  fc = await loadModel(join(ROOT, 'resources/demo-models/fc'))
  net = await loadModel(join(GOLDEN, 'gradcam-net'))
  golden = JSON.parse(await readFile(join(GOLDEN, 'gradcam-reference.json'), 'utf8')) as Golden
  scratch = await mkdtemp(join(tmpdir(), 'convscope-maps-'))
  await generateDemoDataset({ out: scratch, count: { train: 0, val: 1 }, size: 64, seed: 3, classes: 2 })
  images = []
  for (const dir of (await readdir(join(scratch, 'val'))).sort()) {
    const file = join(scratch, 'val', dir, (await readdir(join(scratch, 'val', dir)))[0]!)
    images.push(toInputTensor([await toModelInput(await readImage(file), gap.info.preprocessing)]))
  }
})
after(async () => {
  tf.dispose(images)
  for (const m of [gap, gmp, fc, net]) m?.dispose()
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

const ALL = Array.from({ length: 14 }, (_, i) => i)
const mean = (v: Float32Array) => v.reduce((a, b) => a + b, 0) / v.length

/** conv_last features [h·w, K], dense kernel [K, C], bias [C] and logits [C] of the gap network for one image. */
function gapInternals(x: tf.Tensor4D) {
  const [features, logits] = gap.forward(x, ['conv_last', 'predictions'])
  const weights = gap.linearWeights!('predictions')!
  const result = {
    features: features!.dataSync() as Float32Array,
    shape: features!.shape as number[],
    kernel: weights.kernel.dataSync() as Float32Array,
    bias: weights.bias!.dataSync() as Float32Array,
    logits: logits!.dataSync() as Float32Array,
  }
  tf.dispose([features!, logits!])
  return result
}

test('CAM identity on the demo gap network: mean_xy CAM_c + b_c = logit_c for all 14 classes (to 1e-4), and score is the logit', async () => {
  for (const x of images) {
    const { bias, logits } = gapInternals(x)
    const r = await mapMethod('cam').compute(gap, x, ALL)
    assert.equal(r.layer, 'conv_last')
    assert.equal(r.maps.length, 14)
    for (const m of r.maps) {
      assert.deepEqual([m.height, m.width], [8, 8])
      assert.ok(Math.abs(m.score - logits[m.classIndex]!) < 1e-4, `score ${m.score} vs logit ${logits[m.classIndex]}`)
      const d = Math.abs(mean(m.values) + bias[m.classIndex]! - logits[m.classIndex]!)
      assert.ok(d < 1e-4, `class ${m.classIndex}: |mean CAM + b - logit| = ${d}`)
    }
    assert.ok(r.maps.some((m) => m.values.some((v) => v < 0)), 'CAM keeps negative evidence (no ReLU)')
  }
})

test('CAM of a subset of classes, in the order asked, equals the same classes of the all-class CAM', async () => {
  const all = await mapMethod('cam').compute(gap, images[0]!, ALL)
  const some = await mapMethod('cam').compute(gap, images[0]!, [9, 2])
  assert.deepEqual(some.maps.map((m) => m.classIndex), [9, 2])
  for (const m of some.maps) assert.deepEqual(m.values, all.maps[m.classIndex]!.values)
})

test('Grad-CAM at conv_last of the GAP network = ReLU(CAM) / (h·w) (to 1e-5 of the map max)', async () => {
  for (const x of images) {
    // Grad-CAM runs on tfjs (gradients); CAM on the same executor, so both explain the same float logit.
    process.env.CONVSCOPE_EXECUTOR = 'tfjs'
    const cams = await mapMethod('cam').compute(gap, x, ALL).finally(() => delete process.env.CONVSCOPE_EXECUTOR)
    const grads = await mapMethod('gradcam').compute(gap, x, ALL)
    assert.equal(grads.layer, 'conv_last')
    let nonzero = 0
    for (const [i, g] of grads.maps.entries()) {
      const expected = cams.maps[i]!.values.map((v) => Math.max(v, 0) / 64)
      if (maxAbs(expected) > 0) nonzero++
      assert.ok(relativeDiff(g.values, expected) < 1e-5, `class ${g.classIndex}: ${relativeDiff(g.values, expected)}`)
      assert.equal(g.score, cams.maps[i]!.score)
    }
    assert.ok(nonzero >= 1, 'some class has positive CAM evidence')
  }
})

test('Grad-CAM++ at conv_last of the GAP network follows its closed form: w_k = h·w·relu(g_k) / (2 + S_k g_k) with g = W_ck / (h·w)', async () => {
  const x = images[1]!
  const { features, shape, kernel } = gapInternals(x)
  const [, h, w, k] = shape as [number, number, number, number]
  const classes = kernel.length / k
  const sums = new Float64Array(k)
  for (let p = 0; p < h * w; p++) for (let c = 0; c < k; c++) sums[c] += features[p * k + c]!
  const r = await mapMethod('gradcampp').compute(gap, x, [0, 5, 13])
  for (const m of r.maps) {
    const weights = Array.from({ length: k }, (_, c) => {
      const g = kernel[c * classes + m.classIndex]! / (h * w)
      return g > 0 ? (h * w * g) / (2 + sums[c]! * g) : 0
    })
    const expected = Array.from({ length: h * w }, (_, p) => Math.max(0, weights.reduce((a, wk, c) => a + wk * features[p * k + c]!, 0)))
    assert.ok(relativeDiff(m.values, expected) < 1e-5, `class ${m.classIndex}: ${relativeDiff(m.values, expected)}`)
    assert.ok(maxAbs(expected) > 0)
  }
})

test('Grad-CAM, Grad-CAM++ and gradient saliency match PyTorch on the golden network (skip connection around conv2) to 1e-4', async () => {
  const x = tf.tensor4d(golden.input.values, golden.input.shape as [number, number, number, number])
  const classes = golden.logits.map((_, i) => i)
  const check = (maps: ClassMap[], reference: number[][], grid: [number, number], what: string) => {
    assert.equal(maps.length, reference.length)
    for (const [i, m] of maps.entries()) {
      assert.deepEqual([m.height, m.width], grid, what)
      assert.ok(Math.abs(m.score - golden.logits[i]!) < 1e-5, `${what}: logit ${m.score} vs ${golden.logits[i]}`)
      const d = relativeDiff(m.values, reference[i]!)
      assert.ok(d < 1e-4, `${what} class ${i}: relative difference ${d}`)
    }
  }
  for (const method of ['gradcam', 'gradcampp'] as const) {
    for (const [layer, reference] of Object.entries(golden.maps[method])) {
      const r = await mapMethod(method).compute(net, x, classes, { layer })
      assert.equal(r.layer, layer)
      check(r.maps, reference, golden.grids[layer]!, `${method} at ${layer}`)
    }
  }
  const saliency = await mapMethod('backprop').compute(net, x, classes)
  assert.equal(saliency.layer, null)
  check(saliency.maps, golden.maps.backprop.input!, golden.grids.input!, 'backprop')
  x.dispose()
})

test('graph models too: CAM identity and Grad-CAM = ReLU(CAM) / (h·w) on a graph model (Mean → MatMul head), run from an inner node inside tf.grad, also when fixed to batch 1', async () => {
  const graph = await makeTinyGraphModel(join(scratch, 'graph'))
  const model = await loadModel(graph.dir)
  const x = tf.randomUniform([1, ...graph.inputShape], 0, 1, 'float32', 8) as tf.Tensor4D
  const classes = Array.from({ length: graph.classes }, (_, i) => i)
  const reference = graph.reference(x)
  const logits = reference.logits.dataSync()
  const bias = graph.weights['dense/bias']!.values
  const cams = await mapMethod('cam').compute(model, x, classes)
  const grads = await mapMethod('gradcam').compute(model, x, classes)
  assert.equal(grads.layer, graph.rows.conv2)
  const [h, w] = [cams.maps[0]!.height, cams.maps[0]!.width]
  for (const [i, c] of cams.maps.entries()) {
    assert.ok(Math.abs(mean(c.values) + bias[i]! - logits[i]!) < 1e-4, `class ${i}: CAM identity`)
    assert.ok(Math.abs(c.score - logits[i]!) < 1e-4)
    const expected = c.values.map((v) => Math.max(v, 0) / (h * w))
    assert.ok(relativeDiff(grads.maps[i]!.values, expected) < 1e-5, `class ${i}: ${relativeDiff(grads.maps[i]!.values, expected)}`)
  }
  // A graph fixed to batch 1 (as converters sometimes write them) runs the one-row-per-class pass row by row.
  const fixed = await loadModel((await makeTinyGraphModel(join(scratch, 'graph-batch1'), { batch: 1 })).dir)
  const fixedGrads = await mapMethod('gradcampp').compute(fixed, x, classes)
  const freeGrads = await mapMethod('gradcampp').compute(model, x, classes)
  for (const [i, m] of fixedGrads.maps.entries()) assert.ok(relativeDiff(m.values, freeGrads.maps[i]!.values) < 1e-6, `class ${i}`)
  fixed.dispose()
  tf.dispose([x, ...Object.values(reference)])
  model.dispose()
})

test('forward with replace: layers after the replaced one read the given tensor, the skip path around it reads the real input', () => {
  const x = tf.tensor4d(golden.input.values, golden.input.shape as [number, number, number, number])
  const zeros = tf.zeros([1, 8, 8, 8])
  const [skip, conv3, add] = net.forward(x, ['skip', 'conv3', 'add'])
  const [skipR, conv3R, addR, conv2R] = net.forward(x, ['skip', 'conv3', 'add', 'conv2'], { replace: { layer: 'conv2', value: zeros } })
  const bias = net.linearWeights!('conv3')!.bias!
  const diff = (a: tf.Tensor, b: tf.Tensor) => a.sub(b).abs().max().dataSync()[0]!
  assert.equal(diff(skipR!, skip!), 0, 'skip reads pool1 from the input')
  assert.ok(diff(conv3R!, bias.reshape([1, 1, 1, 8]).tile([1, 8, 8, 1])) < 1e-6, 'conv3 of a zero map is its bias')
  assert.ok(diff(conv3R!, conv3!) > 1e-3, 'and differs from the real conv3')
  assert.ok(diff(addR!, conv3R!.add(skipR!)) < 1e-6)
  assert.ok(diff(add!, conv3!.add(skip!)) < 1e-6)
  assert.equal(diff(conv2R!, zeros), 0, 'the replaced layer itself is the given tensor (a copy the caller owns)')
  tf.dispose([x, zeros, skip!, conv3!, add!, skipR!, conv3R!, addR!, conv2R!])
  assert.throws(
    () => net.forward(x, ['conv3'], { replace: { layer: 'conv2', value: tf.zeros([1, 4, 4, 8]) } }),
    (e: unknown) => e instanceof ConvscopeError && e.code === 'BAD_REQUEST' && /replacement for layer "conv2" has shape \[1, 4, 4, 8\]; it needs \[n, 8, 8, 8\]/.test(e.message),
  )
})

test('forward with replace by a layer\'s own output reproduces the normal forward pass of the whole gap network (batch norm, pooling, softmax)', () => {
  const x = images[0]!
  const [early, probs] = gap.forward(x, ['conv1_1_relu', 'probs'])
  const [again] = gap.forward(x, ['probs'], { replace: { layer: 'conv1_1_relu', value: early! } })
  const d = again!.sub(probs!).abs().max().dataSync()[0]!
  assert.ok(d < 1e-6, `max difference ${d}`)
  tf.dispose([early!, probs!, again!])
})

test('gradient saliency is 0 on the pixels a network crops away, and positive somewhere inside', async () => {
  const input = tf.input({ shape: [12, 12, 3], name: 'input' })
  let y = tf.layers.cropping2D({ name: 'crop', cropping: [[3, 3], [2, 4]] }).apply(input) as tf.SymbolicTensor
  y = tf.layers.conv2d({ name: 'conv', filters: 4, kernelSize: 3, activation: 'relu', biasInitializer: 'ones' }).apply(y) as tf.SymbolicTensor
  y = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(y) as tf.SymbolicTensor
  y = tf.layers.dense({ name: 'probs', units: 2, activation: 'softmax' }).apply(y) as tf.SymbolicTensor
  const built = tf.model({ inputs: input, outputs: y })
  await built.save(fsIOHandler(join(scratch, 'cropped')))
  built.dispose()
  const model = await loadModel(join(scratch, 'cropped'))
  const x = tf.randomUniform([1, 12, 12, 3], 0, 1, 'float32', 4) as tf.Tensor4D
  const r = await mapMethod('backprop').compute(model, x, [0, 1])
  for (const m of r.maps) {
    assert.deepEqual([m.height, m.width], [12, 12])
    let inside = 0
    for (let row = 0; row < 12; row++) {
      for (let col = 0; col < 12; col++) {
        const v = m.values[row * 12 + col]!
        assert.ok(v >= 0)
        if (row < 3 || row >= 9 || col < 2 || col >= 8) assert.equal(v, 0, `pixel (${row}, ${col}) is cropped away`)
        else inside = Math.max(inside, v)
      }
    }
    assert.ok(inside > 0)
  }
  x.dispose()
  model.dispose()
})

test('every method frees every tensor it makes (tf.memory before = after), and an empty class list gives no maps', async () => {
  const x = images[0]!
  for (const name of MAP_METHOD_NAMES) {
    await MAP_METHODS[name].compute(gap, x, [1, 4]) // warm-up: tfjs caches kernels' helper tensors on first use
    const before = tf.memory().numTensors
    const r = await MAP_METHODS[name].compute(gap, x, [1, 4])
    assert.equal(tf.memory().numTensors, before, name)
    assert.equal(r.maps.length, 2)
    assert.deepEqual((await MAP_METHODS[name].compute(gap, x, [])).maps, [], `${name}: no classes, no maps`)
  }
})

test('the methods say what they cannot do: CAM on fc (gmp only by its max-pooling variant), unknown names, bad class indices, non-spatial layers, batches', async () => {
  // CAM's exact formula needs global AVERAGE pooling; on gmp it switches to the CAM paper's GMP variant (localizeCli.test.ts).
  assert.match(findClassifierHead(gmp).reason!, /max pooling is not linear/)
  assert.equal(MAP_METHODS.cam.unsupported(gmp), null)
  assert.equal(MAP_METHODS.gradcam.unsupported(gmp), null)
  assert.equal(MAP_METHODS.cam.unsupported(gap), null)
  assert.match(MAP_METHODS.cam.unsupported(fc)!, /global average pooling[\s\S]*does not read a global max pooling layer/)
  const code = (c: string, pattern: RegExp) => (e: unknown) => e instanceof ConvscopeError && e.code === c && pattern.test(e.message)
  await assert.rejects(MAP_METHODS.cam.compute(fc, images[0]!, [0]), code('UNSUPPORTED_OP', /CAM cannot run on model fc/))
  assert.throws(() => mapMethod('occlusion'), code('BAD_REQUEST', /Unknown map method "occlusion"; known: cam, gradcam, gradcampp, backprop/))
  await assert.rejects(MAP_METHODS.gradcam.compute(gap, images[0]!, [14]), code('BAD_REQUEST', /Class 14 is not a class of model gap \(it has 14: 0 … 13\)/))
  await assert.rejects(MAP_METHODS.gradcam.compute(gap, images[0]!, [0], { layer: 'predictions' }), code('BAD_REQUEST', /spatial layer/))
  const two = tf.concat(images)
  await assert.rejects(MAP_METHODS.cam.compute(gap, two as tf.Tensor4D, [0]), code('BAD_REQUEST', /one image/))
  two.dispose()
})

test('Grad-CAM reads any spatial layer on request, e.g. an earlier conv block of the gap network (16×16 grid)', async () => {
  const r = await mapMethod('gradcam').compute(gap, images[0]!, [0], { layer: 'conv3_2_relu' })
  assert.equal(r.layer, 'conv3_2_relu')
  assert.deepEqual([r.maps[0]!.height, r.maps[0]!.width], gap.info.layers.find((l) => l.name === 'conv3_2_relu')!.outputShape.slice(0, 2))
})
