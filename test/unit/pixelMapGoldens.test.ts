/**
 * Pixel maps (issue 12) agree with PyTorch to 1e-4 of the largest |value|: vanilla gradient, deconvnet, guided
 * backprop and guided Grad-CAM, against scripts/reference/pixelmaps_reference.py (autograd with the lecture's
 * ReLU rules swapped in at every ReLU-family point, float64), on two networks and both ways convscope opens them:
 * - gradcam-net: a skip connection, Keras convs and a dense layer with FUSED relu, a ReLU layer, max pool;
 * - mobile-net: BN → ReLU6 layer, depthwise conv with fused relu6, a residual add, LeakyReLU(0.2), fused relu;
 * each as the TF.js layers model, as torch.onnx's export (separate Relu / Clip / LeakyRelu nodes) and as a TF.js
 * graph model the way the converter writes one (fused ops with Relu / Relu6, batch norm folded).
 * Targets: class logit and probability, a unit at a position, at its max, its spatial mean, a dense unit,
 * guided Grad-CAM of classes at two layers. Also: the goldens tell the rules apart (so a wrong rule fails),
 * a first-layer unit's map is its kernel (a hand check of the golden's layout), and a unit's map is exactly
 * zero outside its receptive field.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { Target, type TargetInput } from '../../src/shared/api'
import { initBackend } from '../../src/main/engine/backend'
import type { LoadedModel } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { pixelMethod } from '../../src/main/engine/pixels'
import { planTarget } from '../../src/main/engine/targets'
import { maxAbs, relativeDiff } from '../fixtures/numeric'

const GOLDEN = join(import.meta.dirname, '../golden')
const TOLERANCE = 1e-4
const RULES = ['backprop', 'deconvnet', 'guided'] as const

interface GoldenCase {
  target: TargetInput
  method: string
  /** guided-gradcam: the Grad-CAM layer. */
  layer?: string
  value: number
  position: { y: number; x: number } | null
  values: number[]
}

interface Golden {
  model: string
  onnx: string
  /** Keras layer name → the ONNX export's layer as convscope names it. */
  onnxLayers: Record<string, string>
  graph: string
  /** Keras layer name → the graph model's node (conv1 and bn1 folded away in mobile-net's). */
  graphLayers: Record<string, string>
  input: { shape: [number, number, number, number]; values: number[] }
  cases: GoldenCase[]
}

const NETS = ['gradcam-net', 'mobile-net'] as const
const goldens: Record<string, Golden> = {}
/** Each net's TF.js layers model (the one the layer names refer to). */
const models: Record<string, LoadedModel> = {}

before(async () => {
  await initBackend({ forced: 'wasm' })
  for (const net of NETS) {
    const golden = JSON.parse(await readFile(join(GOLDEN, `pixelmaps-${net}.json`), 'utf8')) as Golden
    goldens[net] = golden
    models[net] = await loadModel(join(GOLDEN, golden.model))
  }
})

after(() => {
  for (const m of Object.values(models)) m.dispose()
})

const describe = (c: GoldenCase) => `${c.method} of ${JSON.stringify(c.target)}${c.layer ? ` at ${c.layer}` : ''}`

/** The case with its layer names renamed (for the ONNX export). */
function renamed(c: GoldenCase, names: Record<string, string>): { target: TargetInput; layer?: string } {
  const rename = (layer: string) => names[layer] ?? assert.fail(`no ONNX name for layer ${layer}`)
  const target = c.target.kind === 'class' ? c.target : { ...c.target, layer: rename(c.target.layer) }
  return { target, layer: c.layer && rename(c.layer) }
}

/** Every case of `golden` computed by convscope on `model`, compared: the largest relative difference, and how many maps had a receptive field checked. */
async function checkAll(model: LoadedModel, golden: Golden, names?: Record<string, string>): Promise<{ worst: number; fields: number }> {
  const input = tf.tensor4d(golden.input.values, golden.input.shape)
  let worst = 0
  let fields = 0
  try {
    for (const c of golden.cases) {
      const { target, layer } = names ? renamed(c, names) : { target: c.target, layer: c.layer }
      const plan = planTarget(model, Target.parse(target))
      const map = await pixelMethod(c.method).compute(model, input, plan, { layer })
      const what = `${model.info.name}: ${describe(c)}`
      assert.deepEqual([map.height, map.width], golden.input.shape.slice(1, 3), what)
      assert.deepEqual(map.resolved.position, c.position, `${what}: position`)
      assert.ok(Math.abs(map.resolved.value - c.value) <= TOLERANCE * Math.max(1, Math.abs(c.value)), `${what}: value ${map.resolved.value} vs ${c.value}`)
      const d = relativeDiff(map.values, c.values)
      assert.ok(d < TOLERANCE, `${what}: relative difference ${d.toExponential(2)} (largest |value| ${maxAbs(c.values).toExponential(2)})`)
      worst = Math.max(worst, d)
      const box = map.resolved.receptiveField
      if (box) {
        fields++
        // A unit at one position sees only its receptive field: every other pixel's map value is exactly 0.
        const [, , w] = golden.input.shape
        let outside = 0
        for (let i = 0; i < map.values.length; i++) {
          const p = Math.floor(i / 3)
          const [y, x] = [Math.floor(p / w), p % w]
          const inside = y >= box.y && y < box.y + box.height && x >= box.x && x < box.x + box.width
          if (!inside && map.values[i] !== 0) outside++
        }
        assert.equal(outside, 0, `${what}: ${outside} values outside the receptive field ${JSON.stringify(box)} are not 0`)
      }
    }
  } finally {
    input.dispose()
  }
  return { worst, fields }
}

/** The three ways the golden's network is opened: its model folder, and a copy with layers named differently. */
const FORMATS = [
  { name: 'TF.js layers', dir: (g: Golden) => g.model, layers: () => undefined },
  { name: 'torch.onnx export: separate Relu / Clip / LeakyRelu nodes', dir: (g: Golden) => g.onnx, layers: (g: Golden) => g.onnxLayers },
  { name: 'TF.js graph: _FusedConv2D / FusedDepthwiseConv2dNative / _FusedMatMul with Relu, Relu6', dir: (g: Golden) => g.graph, layers: (g: Golden) => g.graphLayers },
] as const

for (const net of NETS) {
  for (const format of FORMATS) {
    test(`${net} (${format.name}): backprop, deconvnet, guided and guided Grad-CAM match PyTorch's ReLU-rule autograd to 1e-4; a unit's map is 0 outside its receptive field`, async (t) => {
      const golden = goldens[net]!
      const model = await loadModel(join(GOLDEN, format.dir(golden)))
      try {
        const names = format.layers(golden)
        if (names) {
          // The layer names' map is right: each pair gives the same output on the golden's input.
          const reference = models[net]!
          const input = tf.tensor4d(golden.input.values, golden.input.shape)
          const keras = Object.keys(names)
          const [a, b] = [reference.forward(input, keras), model.forward(input, keras.map((k) => names[k]!))]
          for (const [i, k] of keras.entries()) assert.ok(relativeDiff(b[i]!.dataSync(), a[i]!.dataSync()) < 1e-5, `${k} vs ${names[k]}`)
          tf.dispose([input, ...a, ...b])
        }
        const { worst, fields } = await checkAll(model, golden, names)
        t.diagnostic(`largest relative difference ${worst.toExponential(2)}; ${fields} maps checked zero outside the receptive field`)
        assert.equal(fields, 9, 'the three unit cases at a position or at the max, × three rules, have receptive fields')
      } finally {
        model.dispose()
      }
    })
  }
}

test('the goldens tell the rules apart: deconvnet and guided are ≥ 100× the tolerance from backprop on every target but a first-layer unit, guided from deconvnet on some', () => {
  for (const net of NETS) {
    const cases = goldens[net]!.cases
    const targets = [...new Set(cases.filter((c) => c.method === 'backprop').map((c) => JSON.stringify(c.target)))]
    let guidedFromDeconvnet = 0
    for (const t of targets) {
      const [backprop, deconvnet, guided] = RULES.map((m) => cases.find((c) => c.method === m && JSON.stringify(c.target) === t)!.values)
      assert.ok(maxAbs(backprop!) > 0, `${net} ${t}: an all-zero map checks nothing`)
      const target = JSON.parse(t) as TargetInput
      const firstLayer = target.kind === 'unit' && target.layer === 'conv1' && target.at === 'max'
      const apart = Math.min(relativeDiff(deconvnet!, backprop!), relativeDiff(guided!, backprop!))
      // A first-layer unit at its max: its one ReLU has f > 0 and R = 1 > 0, so the three rules agree there.
      if (firstLayer) assert.ok(apart < 1e-6, `${net} ${t}: the rules should coincide (${apart})`)
      else assert.ok(apart > 100 * TOLERANCE, `${net} ${t}: a rule within ${apart} of backprop`)
      guidedFromDeconvnet = Math.max(guidedFromDeconvnet, relativeDiff(guided!, deconvnet!))
    }
    assert.ok(guidedFromDeconvnet > 100 * TOLERANCE, `${net}: guided and deconvnet never differ`)
  }
})

test("a first-layer unit's map is its kernel around the unit (hand check of the golden's layout: NHWC, no flip), zero elsewhere", () => {
  const golden = goldens['gradcam-net']!
  const c = golden.cases.find((g) => g.method === 'backprop' && g.target.kind === 'unit' && g.target.layer === 'conv1')!
  assert.ok(c.target.kind === 'unit' && c.position && c.value > 0)
  const kernel = models['gradcam-net']!.kernel('conv1')! // [3, 3, 3, out], 'same' padding 1
  const k = kernel.arraySync()
  kernel.dispose()
  const [, h, w, channels] = golden.input.shape
  const expected = new Array<number>(h * w * channels).fill(0)
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const [y, x] = [c.position.y + i - 1, c.position.x + j - 1]
      for (let ch = 0; ch < channels; ch++) expected[(y * w + x) * channels + ch] = k[i]![j]![ch]![c.target.channel]!
    }
  }
  assert.ok(relativeDiff(c.values, expected) < 1e-6, `relative difference ${relativeDiff(c.values, expected)}`)
})
