/**
 * Pixel maps (issue 12): the ReLU backward rules (graph/ops/reluRule.ts) and the methods of engine/pixels.
 * - backprop is plain autograd: equal to tf.grad of the target's score, with no rule in force;
 * - a hand-computed case, one ReLU-family point at a time through every kernel that has one (ONNX Relu / LeakyRelu /
 *   Clip(0, 6), TF Relu / Relu6 / LeakyRelu / ClipByValue(0, 6) / _FusedConv2D / FusedDepthwiseConv2dNative /
 *   _FusedMatMul, Keras activations, ReLU / LeakyReLU layers, Conv2D / DepthwiseConv2D / Dense with a fused
 *   activation): the three rules give the R' worked out by hand;
 * - a Keras network with activations fused into its conv / depthwise / dense layers gives the maps of the same
 *   network written with separate ReLU layers, under all three rules;
 * - a unit's map is exactly zero outside its receptive field (demo gap, inner layers, every method; a MobileNetV2
 *   with ReLU6, where backprop is also plain tf.grad);
 * - the demo gap network as a TF graph model (converter output: _FusedConv2D [BiasAdd, Relu]) and as an ONNX port
 *   (PyTorch export: Conv, Relu) gives the maps of the TF.js layers model;
 * - the rule is off after a method, also after a throw; getPixelMap through the engine; `convscope saliency`.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import * as tf from '@tensorflow/tfjs'
import { parseResult, Target, type ModelInfo } from '../../src/shared/api'
import { initBackend } from '../../src/main/engine/backend'
import type { JobContext } from '../../src/main/engine/context'
import { DEMO_CLASSES, generateDemoDataset } from '../../src/main/engine/demo'
import { createEngine, type EngineService } from '../../src/main/engine/engine'
import * as onnxActivation from '../../src/main/engine/graph/ops/activation'
import * as kerasActivations from '../../src/main/engine/graph/ops/keras/activations'
import * as kerasConv from '../../src/main/engine/graph/ops/keras/conv'
import * as kerasCore from '../../src/main/engine/graph/ops/keras/core'
import { activeReluRule, RELU_RULES, withReluRule, type ReluRule } from '../../src/main/engine/graph/ops/reluRule'
import * as tfConv from '../../src/main/engine/graph/ops/tf/conv'
import * as tfMath from '../../src/main/engine/graph/ops/tf/math'
import type { OpNode } from '../../src/main/engine/graph/ops/types'
import type { LoadedModel } from '../../src/main/engine/model'
import { toInputTensor, toModelInput } from '../../src/main/engine/images/preprocess'
import { readImage } from '../../src/main/engine/images/readImage'
import { fsIOHandler } from '../../src/main/engine/models/fsIOHandler'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { PIXEL_METHOD_LIST, PIXEL_METHOD_NAMES, pixelMethod } from '../../src/main/engine/pixels'
import { ruleGradient } from '../../src/main/engine/pixels/ruleGradient'
import { locateTarget, planTarget, receptiveFieldBox, targetScores } from '../../src/main/engine/targets'
import { readNpy } from '../../src/main/engine/store/npy'
import { saliencyCommand } from '../../src/main/cli/saliencyCommand'
import { runCli } from '../fixtures/cli'
import { mobileNetV2Layers } from '../helpers/mobileNetV2Layers'
import { demoGapGraphModel } from '../helpers/tfGraphModels'

const ROOT = join(import.meta.dirname, '../..')
const GAP = join(ROOT, 'resources/demo-models/gap')
const PYTHON = '/usr/bin/python3'

let scratch: string
let gap: LoadedModel
/** A demo image (class 2) and it as the network's input. */
let image: string
let x: tf.Tensor4D

before(async () => {
  await initBackend({ forced: 'wasm' })
  scratch = await mkdtemp(join(tmpdir(), 'convscope-pixelmaps-'))
  gap = await loadModel(GAP)
  await generateDemoDataset({ out: join(scratch, 'demo'), count: { train: 0, val: 1 }, classes: 3, size: 64, seed: 0 })
  image = join(scratch, 'demo', 'val', DEMO_CLASSES[2]!.id, 'c02_val_00000.jpg')
  x = toInputTensor(await toModelInput(await readImage(image), gap.info.preprocessing))
})
after(async () => {
  x?.dispose()
  gap?.dispose()
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

const plan = (model: LoadedModel, target: unknown) => planTarget(model, Target.parse(target))

/** max |a − b| / max |b| (0 when both are zero). */
function relativeDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length)
  let diff = 0
  let peak = 0
  for (let i = 0; i < a.length; i++) [diff, peak] = [Math.max(diff, Math.abs(a[i]! - b[i]!)), Math.max(peak, Math.abs(b[i]!))]
  return peak === 0 ? diff : diff / peak
}
const peakOf = (v: ArrayLike<number>) => Array.from(v).reduce((m, a) => Math.max(m, Math.abs(a)), 0)

test('backprop is plain autograd: the map equals tf.grad of the target score (class logit, unit at its max), taken with no rule in force', async () => {
  // The probability of the runner-up class: neither saturated at 1 nor underflowing to 0.
  const [logits] = gap.forward(x, ['predictions'])
  const order = Array.from(await logits!.data()).map((v, k) => [v, k] as const).sort((a, b) => b[0] - a[0])
  logits!.dispose()
  for (const target of [{ kind: 'class', class: 4 }, { kind: 'unit', layer: 'conv_last', channel: 7 }, { kind: 'class', class: order[1]![1], score: 'probability' }]) {
    const p = plan(gap, target)
    const { position } = await locateTarget(gap, x, p)
    const plain = tf.grad((input: tf.Tensor) => tf.sum(targetScores(gap, input as tf.Tensor4D, p, position)))(x)
    const expected = await plain.data()
    plain.dispose()
    const map = await pixelMethod('backprop').compute(gap, x, p)
    assert.ok(peakOf(expected) > 0, `${JSON.stringify(target)}: a map`)
    // Under a rule conv_last's fused ReLU runs unfused: float32 rounding may differ, by ~2e-6 of the peak here.
    assert.ok(relativeDiff(map.values, expected) < 1e-5, `${JSON.stringify(target)}: ${relativeDiff(map.values, expected)}`)
    // The other rules do change the map (so the comparison above is not vacuous).
    const guided = await pixelMethod('guided').compute(gap, x, p)
    assert.ok(relativeDiff(guided.values, expected) > 1e-2)
  }
})

// ---------------------------------------------------------------------------------------------------
// One ReLU-family point, by hand
// ---------------------------------------------------------------------------------------------------

/** Forward inputs f and gradients from above R: negative, positive, between 0 and 6, above 6, each R sign. */
const F = [-1, -3, 0.5, 2, 7, 8]
const R = [1, -4, -2, 3, -1, 2]
/** R' = the rule applied by hand: backprop (f>0)·R (ReLU6 (0<f<6)·R, leaky (f>0 ? 1 : α)·R), deconvnet (R>0)·R, guided both. */
const EXPECTED: Record<'relu' | 'relu6' | 'leaky', Record<ReluRule, number[]>> = {
  relu: { backprop: [0, 0, -2, 3, -1, 2], deconvnet: [1, 0, 0, 3, 0, 2], guided: [0, 0, 0, 3, 0, 2] },
  relu6: { backprop: [0, 0, -2, 3, 0, 0], deconvnet: [1, 0, 0, 3, 0, 2], guided: [0, 0, 0, 3, 0, 0] },
  leaky: { backprop: [0.1, -0.4, -2, 3, -1, 2], deconvnet: [1, 0, 0, 3, 0, 2], guided: [0.1, 0, 0, 3, 0, 2] },
}

const node = (opType: string, attributes: OpNode['attributes'] = {}): OpNode => ({ name: opType, opType, domain: '', attributes, opset: 13, outputCount: 1 })
const scalar = (v: number) => tf.scalar(v)
const identityFilter = () => tf.ones([1, 1, 1, 1])

/** Each kernel with its ReLU-family member and how it is called on f laid out as [1, 1, 6, 1] (or [6, 1] for products). */
const KERNELS: { name: string; kind: keyof typeof EXPECTED; run: (f: tf.Tensor) => tf.Tensor }[] = [
  { name: 'ONNX Relu', kind: 'relu', run: (f) => onnxActivation.relu([f], node('Relu'))[0]! },
  { name: 'ONNX LeakyRelu', kind: 'leaky', run: (f) => onnxActivation.leakyRelu([f], node('LeakyRelu', { alpha: 0.1 }))[0]! },
  { name: 'ONNX Clip(0, 6)', kind: 'relu6', run: (f) => onnxActivation.clip([f, scalar(0), scalar(6)], node('Clip'))[0]! },
  { name: 'TF Relu', kind: 'relu', run: (f) => tfMath.relu([f], node('Relu'))[0]! },
  { name: 'TF Relu6', kind: 'relu6', run: (f) => tfMath.relu6([f], node('Relu6'))[0]! },
  { name: 'TF LeakyRelu', kind: 'leaky', run: (f) => tfMath.leakyRelu([f], node('LeakyRelu', { alpha: 0.1 }))[0]! },
  { name: 'TF ClipByValue(0, 6)', kind: 'relu6', run: (f) => tfMath.clipByValue([f, scalar(0), scalar(6)], node('ClipByValue'))[0]! },
  ...(['Relu', 'Relu6', 'LeakyRelu'] as const).flatMap((act) => {
    const kind = act === 'Relu' ? 'relu' : act === 'Relu6' ? 'relu6' : 'leaky'
    const attributes = { fused_ops: ['BiasAdd', act], leakyrelu_alpha: 0.1, strides: [1, 1, 1, 1], padding: 'VALID', dilations: [1, 1, 1, 1], data_format: 'NHWC' }
    return [
      { name: `TF _FusedConv2D [BiasAdd, ${act}]`, kind, run: (f: tf.Tensor) => tfConv.fusedConv2D([f, identityFilter(), tf.zeros([1])], node('_FusedConv2D', attributes))[0]! },
      {
        name: `TF FusedDepthwiseConv2dNative [BiasAdd, ${act}]`,
        kind,
        run: (f: tf.Tensor) => tfConv.fusedDepthwiseConv2dNative([f, identityFilter(), tf.zeros([1])], node('FusedDepthwiseConv2dNative', attributes))[0]!,
      },
      { name: `TF _FusedMatMul [BiasAdd, ${act}]`, kind, run: (f: tf.Tensor) => tfMath.fusedMatMul([f.reshape([6, 1]), tf.ones([1, 1]), tf.zeros([1])], node('_FusedMatMul', attributes))[0]! },
    ] as const
  }),
  { name: 'Keras Activation relu', kind: 'relu', run: (f) => kerasActivations.activation([f], node('Activation', { activation: 'relu' }))[0]! },
  { name: 'Keras Activation relu6', kind: 'relu6', run: (f) => kerasActivations.activation([f], node('Activation', { activation: 'relu6' }))[0]! },
  { name: 'Keras ReLU', kind: 'relu', run: (f) => kerasActivations.reLU([f], node('ReLU'))[0]! },
  { name: 'Keras ReLU(maxValue 6)', kind: 'relu6', run: (f) => kerasActivations.reLU([f], node('ReLU', { maxValue: 6 }))[0]! },
  { name: 'Keras LeakyReLU', kind: 'leaky', run: (f) => kerasActivations.leakyReLU([f], node('LeakyReLU', { alpha: 0.1 }))[0]! },
  ...(['relu', 'relu6'] as const).flatMap((activation) => [
    { name: `Keras Conv2D(activation ${activation})`, kind: activation, run: (f: tf.Tensor) => kerasConv.conv2D([f, identityFilter(), tf.zeros([1])], node('Conv2D', { activation, weightNames: ['kernel', 'bias'] }))[0]! },
    {
      name: `Keras DepthwiseConv2D(activation ${activation})`,
      kind: activation,
      run: (f: tf.Tensor) => kerasConv.depthwiseConv2D([f, identityFilter(), tf.zeros([1])], node('DepthwiseConv2D', { activation, weightNames: ['depthwise_kernel', 'bias'] }))[0]!,
    },
    { name: `Keras Dense(activation ${activation})`, kind: activation, run: (f: tf.Tensor) => kerasCore.dense([f.reshape([6, 1]), tf.ones([1, 1]), tf.zeros([1])], node('Dense', { activation, weightNames: ['kernel', 'bias'] }))[0]! },
  ]),
]

test('one ReLU-family point through every kernel that has one: the three rules give the hand-computed R′, and no rule gives the plain derivative', async () => {
  const f = tf.tensor4d(F, [1, 1, 6, 1])
  const r = tf.tensor1d(R)
  const gradient = (run: (f: tf.Tensor) => tf.Tensor) => tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(run(t).reshape([6]), r)))(f))
  for (const k of KERNELS) {
    for (const rule of RELU_RULES) {
      const g = withReluRule(rule, () => gradient(k.run))
      assert.deepEqual(Array.from(await g.data()).map((v) => Math.round(v * 1e6) / 1e6 + 0), EXPECTED[k.kind][rule], `${k.name}, ${rule}`)
      g.dispose()
    }
    // Forward values are the kernel's own under a rule.
    const [plainY, ruledY] = [tf.tidy(() => k.run(f)), withReluRule('guided', () => tf.tidy(() => k.run(f)))]
    assert.deepEqual(Array.from(await ruledY.data()), Array.from(await plainY.data()), k.name)
    tf.dispose([plainY, ruledY])
  }
  // No rule: the plain ops' derivatives, the backprop row away from the kinks (ReLU6 at 7 and 8: 0).
  for (const k of KERNELS) {
    const g = gradient(k.run)
    assert.deepEqual(Array.from(await g.data()).map((v) => Math.round(v * 1e6) / 1e6 + 0), EXPECTED[k.kind].backprop, `${k.name}, no rule`)
    g.dispose()
  }
  tf.dispose([f, r])
})

// ---------------------------------------------------------------------------------------------------
// Fused activations reach the rule
// ---------------------------------------------------------------------------------------------------

/** A small Keras net, its activations fused into conv / depthwise / dense layers (`fused`) or separate ReLU layers. */
async function kerasNet(dir: string, fused: boolean): Promise<LoadedModel> {
  let k = 0
  const init = () => tf.initializers.glorotUniform({ seed: 40 + k++ })
  const bias = () => tf.initializers.randomUniform({ minval: -0.2, maxval: 0.2, seed: 40 + k++ })
  const input = tf.input({ shape: [16, 16, 3], name: 'input' })
  const apply = (layer: tf.layers.Layer, t: tf.SymbolicTensor) => layer.apply(t) as tf.SymbolicTensor
  const act = (t: tf.SymbolicTensor, name: string, max?: number) => (fused ? t : apply(tf.layers.reLU({ name: `${name}_relu`, maxValue: max }), t))
  let t = apply(tf.layers.conv2d({ name: 'conv1', filters: 6, kernelSize: 3, padding: 'same', activation: fused ? 'relu' : 'linear', kernelInitializer: init(), biasInitializer: bias() }), input)
  t = act(t, 'conv1')
  t = apply(tf.layers.depthwiseConv2d({ name: 'dw2', kernelSize: 3, padding: 'same', activation: fused ? 'relu6' : 'linear', depthwiseInitializer: init(), biasInitializer: bias() }), t)
  t = act(t, 'dw2', 6)
  t = apply(tf.layers.conv2d({ name: 'conv3', filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: fused ? 'relu' : 'linear', kernelInitializer: init(), biasInitializer: bias() }), t)
  t = act(t, 'conv3')
  t = apply(tf.layers.globalAveragePooling2d({ name: 'gap' }), t)
  t = apply(tf.layers.dense({ name: 'fc1', units: 8, activation: fused ? 'relu' : 'linear', kernelInitializer: init(), biasInitializer: bias() }), t)
  t = act(t, 'fc1')
  t = apply(tf.layers.dense({ name: 'logits', units: 4, kernelInitializer: init() }), t)
  const model = tf.model({ inputs: input, outputs: t })
  await mkdir(dir, { recursive: true })
  await model.save(fsIOHandler(dir))
  model.dispose()
  return loadModel(dir)
}

test('a Keras net with activations fused into Conv2D / DepthwiseConv2D (relu6) / Dense gives the maps of the same net with separate ReLU layers, under every rule', async () => {
  const [fused, separate] = [await kerasNet(join(scratch, 'fused'), true), await kerasNet(join(scratch, 'separate'), false)]
  // Inputs in [0, 4]: the relu6 depthwise layer sees values above 6.
  const input = tf.randomUniform([1, 16, 16, 3], 0, 4, 'float32', 3) as tf.Tensor4D
  try {
    // conv3's most active cell and channel.
    const [conv3] = fused.forward(input, ['conv3'])
    const cells = await conv3!.data()
    conv3!.dispose()
    const best = cells.indexOf(Math.max(...cells))
    const [channel, cell] = [best % 8, Math.floor(best / 8)]
    for (const target of [{ kind: 'class', class: 2 }, { kind: 'unit', layer: 'conv3', channel, at: { y: Math.floor(cell / 8), x: cell % 8 } }]) {
      // conv3's output is its ReLU's in the fused net; in the separate one the ReLU layer's.
      const other = target.kind === 'unit' ? { ...target, layer: 'conv3_relu' } : target
      for (const rule of RELU_RULES) {
        const [a, b] = [fused, separate].map((m, i) => ruleGradient(m, input, plan(m, i === 0 ? target : other), rule, undefined))
        const [va, vb] = [await a!.data(), await b!.data()]
        tf.dispose([a!, b!])
        assert.ok(peakOf(vb) > 0, `${JSON.stringify(target)}, ${rule}: a map`)
        assert.ok(relativeDiff(va, vb) < 1e-6, `${JSON.stringify(target)}, ${rule}: ${relativeDiff(va, vb)}`)
      }
    }
    // The rules differ on this net (so the equalities above check what reaches the fused activations).
    const p = plan(fused, { kind: 'class', class: 2 })
    const maps = RELU_RULES.map((rule) => ruleGradient(fused, input, p, rule, undefined))
    const values = await Promise.all(maps.map((m) => m.data()))
    tf.dispose(maps)
    assert.ok(relativeDiff(values[0]!, values[1]!) > 1e-2 && relativeDiff(values[0]!, values[2]!) > 1e-2 && relativeDiff(values[1]!, values[2]!) > 1e-2)
  } finally {
    input.dispose()
    fused.dispose()
    separate.dispose()
  }
})

// ---------------------------------------------------------------------------------------------------
// Receptive fields
// ---------------------------------------------------------------------------------------------------

test('a unit’s map is exactly zero outside its receptive field, and not inside (demo gap, inner layers, every method)', async () => {
  for (const [layer, channel] of [
    ['conv2_1_relu', 3],
    ['conv3_2_relu', 11],
  ] as const) {
    // The unit at its max on this image (an active unit), held at that position.
    const p = plan(gap, { kind: 'unit', layer, channel })
    const { position } = await locateTarget(gap, x, p)
    const box = receptiveFieldBox(gap, layer, position!, 64, 64)!
    assert.ok(box.width < 64 || box.height < 64, `${layer}: a field smaller than the input`)
    for (const method of PIXEL_METHOD_LIST) {
      const map = await method.compute(gap, x, p)
      assert.deepEqual(map.resolved.receptiveField, box)
      let inside = 0
      for (let i = 0; i < 64; i++) {
        for (let j = 0; j < 64; j++) {
          const within = i >= box.y && i < box.y + box.height && j >= box.x && j < box.x + box.width
          for (let c = 0; c < 3; c++) {
            const v = map.values[(i * 64 + j) * 3 + c]!
            if (within) inside = Math.max(inside, Math.abs(v))
            else assert.equal(v, 0, `${layer} ${method.name}: (${i}, ${j}) outside ${JSON.stringify(box)}`)
          }
        }
      }
      assert.ok(map.resolved.value > 0 && inside > 0, `${layer} ${method.name}: non-zero inside`)
    }
  }
})

test('a third-party-like MobileNetV2 (Keras ReLU(maxValue 6), depthwise, residual adds): backprop = plain tf.grad, a unit’s map is zero outside its field, the rules differ', async () => {
  const net = await loadModel(await mobileNetV2Layers(join(scratch, 'mobilenetv2'), { size: 64, alpha: 0.35, blocks: 4, classes: 5, seed: 2 }))
  const input = tf.randomUniform([1, 64, 64, 3], -1, 1, 'float32', 4) as tf.Tensor4D
  try {
    const p = plan(net, { kind: 'unit', layer: 'block_2_add', channel: 3 })
    const { position, resolved } = await locateTarget(net, input, p)
    const plain = tf.grad((t: tf.Tensor) => tf.sum(targetScores(net, t as tf.Tensor4D, p, position)))(input)
    const expected = await plain.data()
    plain.dispose()
    const maps = await Promise.all(['backprop', 'deconvnet', 'guided'].map((m) => pixelMethod(m).compute(net, input, p)))
    assert.ok(peakOf(expected) > 0 && relativeDiff(maps[0]!.values, expected) < 1e-5, `backprop: ${relativeDiff(maps[0]!.values, expected)}`)
    assert.ok(relativeDiff(maps[1]!.values, expected) > 1e-2 && relativeDiff(maps[2]!.values, expected) > 1e-2)
    const box = resolved.receptiveField!
    assert.ok(box.width < 64 && box.height < 64)
    for (const map of maps) {
      map.values.forEach((v, i) => {
        const [py, px] = [Math.floor(i / 192), Math.floor(i / 3) % 64]
        if (py < box.y || py >= box.y + box.height || px < box.x || px >= box.x + box.width) assert.equal(v, 0)
      })
    }
  } finally {
    input.dispose()
    net.dispose()
  }
})

// ---------------------------------------------------------------------------------------------------
// Other formats of the same network
// ---------------------------------------------------------------------------------------------------

/** The ONNX port of the demo gap (scripts/onnx/portDemoModels.py, as demoOnnxPort.test.ts makes it), or why not. */
function onnxPort(): string | { skip: string } {
  const dir = join(ROOT, 'test/.cache/demo-onnx')
  if (existsSync(join(dir, 'gap', 'model.onnx'))) return join(dir, 'gap')
  const probe = spawnSync(PYTHON, ['-c', 'import torch, onnx'], { encoding: 'utf8' })
  if (probe.status !== 0) return { skip: `${PYTHON} cannot import torch and onnx (apt-get install python3-torch python3-onnx)` }
  const run = spawnSync(PYTHON, [join(ROOT, 'scripts/onnx/portDemoModels.py'), '--out', dir, '--models', 'gap'], { encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } })
  if (run.status !== 0) throw new Error(`portDemoModels.py failed: ${run.stderr}`)
  return join(dir, 'gap')
}

test('the demo gap as a TF graph model (_FusedConv2D [BiasAdd, Relu]) and as an ONNX port (Conv, Relu) gives the TF.js layers model’s maps, every rule', async () => {
  const graph = await loadModel(await demoGapGraphModel(join(scratch, 'gap-graph'), GAP))
  const port = onnxPort()
  const onnx = typeof port === 'string' ? await loadModel(port) : null
  if (!onnx) console.log(`ONNX port skipped: ${(port as { skip: string }).skip}`)
  try {
    for (const target of [{ kind: 'class', class: 6 }, { kind: 'class', class: 11, score: 'probability' }]) {
      for (const rule of RELU_RULES) {
        const reference = ruleGradient(gap, x, plan(gap, target), rule, undefined)
        const expected = await reference.data()
        reference.dispose()
        for (const other of [graph, ...(onnx ? [onnx] : [])]) {
          const g = ruleGradient(other, x, plan(other, target), rule, undefined)
          const got = await g.data()
          g.dispose()
          // Batch norm is folded into the convolutions in both: float32 rounding differs, the rules do not.
          assert.ok(relativeDiff(got, expected) < 1e-4, `${other.info.name} ${JSON.stringify(target)} ${rule}: ${relativeDiff(got, expected)}`)
        }
      }
    }
  } finally {
    graph.dispose()
    onnx?.dispose()
  }
})

// ---------------------------------------------------------------------------------------------------
// The rule's scope
// ---------------------------------------------------------------------------------------------------

test('the rule is in force only while a method differentiates: off after it, also after a throw inside it', async () => {
  assert.equal(activeReluRule(), null)
  const p = plan(gap, { kind: 'unit', layer: 'conv_last', channel: 2 })
  await pixelMethod('deconvnet').compute(gap, x, p)
  assert.equal(activeReluRule(), null)
  let seen: string | null = null
  // A model whose forward fails while a rule is in force (locating the target runs without one).
  const failing = Object.create(gap, {
    forward: {
      value: (input: tf.Tensor4D, layers: string[]) => {
        if (activeReluRule() !== null) {
          seen = activeReluRule()
          throw new Error('forward failed under a rule')
        }
        return gap.forward(input, layers)
      },
    },
  }) as LoadedModel
  await assert.rejects(pixelMethod('guided').compute(failing, x, p), /forward failed under a rule/)
  assert.equal(seen, 'guided')
  assert.equal(activeReluRule(), null)
  assert.throws(() => withReluRule('backprop', () => withReluRule('guided', () => assert.fail('thrown'))), /thrown/)
  assert.equal(activeReluRule(), null)
  assert.equal(
    withReluRule('backprop', () => withReluRule('guided', () => activeReluRule()) + ' then ' + activeReluRule()),
    'guided then backprop',
  )
})

test('unknown methods and images of another shape are refused, naming what is wrong', async () => {
  assert.throws(() => pixelMethod('smoothgrad'), /Unknown pixel method "smoothgrad"; known: backprop, deconvnet, guided, guided-gradcam/)
  const two = tf.zeros([2, 64, 64, 3]) as tf.Tensor4D
  await assert.rejects(pixelMethod('guided').compute(gap, two, plan(gap, { kind: 'class', class: 0 })), /one image \[1, h, w, c\]; got a tensor of shape \[2, 64, 64, 3\]/)
  two.dispose()
  const p = plan(gap, { kind: 'unit', layer: 'conv2_1_relu', channel: 0 })
  await assert.rejects(pixelMethod('guided-gradcam').compute(gap, x, p, { layer: 'conv_last' }), /Layer "conv_last" does not feed the target/)
  await assert.rejects(pixelMethod('guided-gradcam').compute(gap, x, p, { layer: 'gap' }), /spatial layer after the input; "gap"/)
})

// ---------------------------------------------------------------------------------------------------
// Engine and CLI
// ---------------------------------------------------------------------------------------------------

test('getPixelMethods and getPixelMap through the engine on a demo image; convscope saliency writes the npy and the three-panel PNG it names', async () => {
  const engine: EngineService = createEngine({ workspace: join(scratch, 'workspace'), backend: 'wasm' })
  await engine.init()
  const ctx: JobContext = { progress: () => {}, signal: new AbortController().signal }
  const call = async <M extends Parameters<typeof parseResult>[0]>(method: M, params: unknown) => parseResult(method, await engine.handle(method, params, ctx))
  try {
    const model: ModelInfo = await call('openModel', { path: GAP })
    const info = await call('getPixelMethods', { modelId: model.id })
    assert.deepEqual(info.methods.map((m) => m.name), [...PIXEL_METHOD_NAMES])
    assert.ok(info.methods.every((m) => m.unsupported === null && m.rule.includes('R')))
    const unit = { kind: 'unit', layer: 'conv2_1_relu', channel: 3, at: { y: 16, x: 16 } }
    const map = await call('getPixelMap', { modelId: model.id, image, method: 'guided', target: unit })
    assert.equal(map.method, 'guided')
    assert.equal(map.values.length, 64 * 64 * 3)
    assert.deepEqual(map.target.position, { y: 16, x: 16 })
    assert.ok(map.milliseconds > 0)
    const box = map.target.receptiveField!
    const outside = Array.from(map.values).filter((_, i) => {
      const [py, px] = [Math.floor(i / 192), Math.floor(i / 3) % 64]
      return py < box.y || py >= box.y + box.height || px < box.x || px >= box.x + box.width
    })
    assert.ok(outside.length > 0 && outside.every((v) => v === 0))
    const classMap = await call('getPixelMap', { modelId: model.id, image, method: 'guided-gradcam', target: { kind: 'class', class: 2 } })
    assert.match(classMap.target.description, /^class 2 \(.*\) logit$/)
    assert.ok(peakOf(classMap.values) > 0)

    // The CLI: the same map in the npy; the PNG's three panels (signed: grey where the map is 0; |v|: black there).
    const [npy, png] = [join(scratch, 'out', 'unit.npy'), join(scratch, 'out', 'unit.png')]
    const run = await runCli(saliencyCommand, ['--model', GAP, '--image', image, '--method', 'guided', '--unit', 'conv2_1_relu:3@16,16', '--json', '--npy', npy, '--png', png])
    assert.equal(run.code, 0, run.err)
    const printed = JSON.parse(run.out) as { method: string; target: { description: string }; height: number; width: number; maxAbs: number; npy: string; png: string }
    assert.equal(printed.method, 'guided')
    assert.equal(printed.target.description, map.target.description)
    assert.deepEqual([printed.npy, printed.png], [npy, png])
    const array = await readNpy(npy)
    assert.deepEqual(array.shape, [64, 64, 3])
    assert.equal(array.dtype, 'float32')
    assert.deepEqual(Array.from(array.data as Float32Array), Array.from(map.values))
    assert.equal(printed.maxAbs, peakOf(map.values))
    const { data, info: meta } = await sharp(png).raw().toBuffer({ resolveWithObject: true })
    assert.deepEqual([meta.width, meta.height, meta.channels], [192, 64, 3])
    const pixel = (px: number, py: number) => Array.from(data.subarray((py * 192 + px) * 3, (py * 192 + px) * 3 + 3))
    assert.deepEqual(pixel(0, 0), [128, 128, 128], 'signed panel: 0 is grey')
    assert.deepEqual(pixel(64, 0), [0, 0, 0], '|v| panel: 0 is black')
    const usage = await runCli(saliencyCommand, ['--model', GAP, '--image', image])
    assert.equal(usage.code, 2)
    assert.match(usage.err, /--class C \[--score logit\|probability\] \| --unit/)
  } finally {
    engine.dispose()
  }
})
