/**
 * The committed demo networks (resources/demo-models): they reproduce the accuracy their training.json
 * records on a freshly generated copy of the held-out val split, the GAP network obeys the CAM identity of
 * Zhou et al. 2016 (a logit is the spatial mean of its class activation map plus the bias), and their layers
 * are named and shaped as docs/training.md says.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { initBackend } from '../../src/main/engine/backend'
import { DEMO_CLASSES, DEMO_GENERATOR_VERSION, generateDemoDataset } from '../../src/main/engine/demo'
import { toInputTensor, toModelInput } from '../../src/main/engine/images/preprocess'
import { readImage } from '../../src/main/engine/images/readImage'
import { classifyFolder } from '../../src/main/engine/methods/classify'
import { OUTPUT, type LoadedModel } from '../../src/main/engine/model'
import { fsIOHandler } from '../../src/main/engine/models/fsIOHandler'
import { loadModel } from '../../src/main/engine/models/loadModel'
import type { TrainingRecord } from '../../src/main/training/save'

// CONVSCOPE_DEMO_MODELS checks another training's output (npm run train:demo -- --out DIR) the same way.
const MODELS = process.env.CONVSCOPE_DEMO_MODELS ?? join(import.meta.dirname, '../../resources/demo-models')
const NETS = ['gap', 'gmp', 'fc'] as const
type Net = (typeof NETS)[number]

let scratch: string
let valRoot: string
const models = {} as Record<Net, LoadedModel>
const records = {} as Record<Net, TrainingRecord>

before(async () => {
  // wasm, as they were trained: the cpu backend would take minutes for the val split.
  await initBackend({ forced: 'wasm' })
  for (const net of NETS) {
    records[net] = JSON.parse(await readFile(join(MODELS, net, 'training.json'), 'utf8')) as TrainingRecord
    models[net] = await loadModel(join(MODELS, net))
  }
  // Regenerate only the val split, with the settings the networks were evaluated on.
  const d = records.gap.dataset
  for (const net of NETS) assert.deepEqual(records[net].dataset, d, `${net} was evaluated on the same val split as gap`)
  assert.equal(d.version, DEMO_GENERATOR_VERSION, 'the generator changed since training: retrain (npm run train:demo)')
  scratch = await mkdtemp(join(tmpdir(), 'convscope-demo-models-'))
  await generateDemoDataset({ out: scratch, count: { train: 0, val: d.valPerClass }, size: d.imageSize, seed: d.seed, classes: d.classes })
  valRoot = join(scratch, 'val')
})
after(async () => {
  for (const net of NETS) models[net]?.dispose()
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

test('each network reproduces its recorded val top-1 and top-5 within 1 point on a regenerated val split', async () => {
  for (const net of NETS) {
    const r = await classifyFolder(models[net], valRoot, { batchSize: 64 })
    const rec = records[net].final
    assert.equal(r.skipped.length, 0)
    assert.equal(r.overall.images, rec.valImages, `${net}: the whole val split`)
    assert.ok(Math.abs(r.overall.top1! - rec.valTop1) <= 0.01, `${net}: top-1 ${r.overall.top1} vs recorded ${rec.valTop1}`)
    assert.ok(Math.abs(r.overall.top5! - rec.valTop5) <= 0.01, `${net}: top-5 ${r.overall.top5} vs recorded ${rec.valTop5}`)
    assert.ok(Object.values(r.mapping).every((how) => how === 'classes.json'), 'class-id folders map through classes.json')
  }
})

test('the networks classify the held-out val split well: gap ≥ 90 % top-1 (the goal of issue 3), all ≥ 95 % top-5', () => {
  assert.ok(records.gap.final.valTop1 >= 0.9, `gap val top-1 ${records.gap.final.valTop1}`)
  for (const net of NETS) {
    assert.ok(records[net].final.valTop1 >= 0.7, `${net} val top-1 ${records[net].final.valTop1}`)
    assert.ok(records[net].final.valTop5 >= 0.95, `${net} val top-5 ${records[net].final.valTop5}`)
  }
})

test('CAM identity: a class logit is the bias plus the spatial mean of (conv_last features · that class\'s dense weights)', async () => {
  // The dense weights straight from the saved files, not through the workbench's model wrapper.
  const raw = await tf.loadLayersModel(fsIOHandler(join(MODELS, 'gap')))
  const [kernel, bias] = raw.getLayer('predictions').getWeights() as [tf.Tensor2D, tf.Tensor1D]
  const classDirs = (await readdir(valRoot)).sort()
  const files = await Promise.all(classDirs.map(async (c) => join(valRoot, c, (await readdir(join(valRoot, c))).sort()[0]!)))
  const inputs = await Promise.all(files.map(async (f) => toModelInput(await readImage(f), models.gap.info.preprocessing)))
  const x = toInputTensor(inputs)
  const [features, logits, probs] = models.gap.forward(x, ['conv_last', 'predictions', OUTPUT]) as [tf.Tensor4D, tf.Tensor2D, tf.Tensor2D]
  const [n, h, w, k] = features.shape
  // Class activation maps M_c(x, y) = Σ_k w_kc f_k(x, y), for every class at once.
  const cams = tf.matMul(features.reshape([n * h * w, k]), kernel).reshape([n, h, w, -1])
  const fromCams = cams.mean([1, 2]).add(bias)
  const diff = fromCams.sub(logits).abs().max().dataSync()[0]!
  assert.ok(diff < 1e-4, `max |logit - (mean CAM + bias)| = ${diff}`)
  const softmaxDiff = tf.softmax(logits).sub(probs).abs().max().dataSync()[0]!
  assert.ok(softmaxDiff < 1e-6, 'probs is the softmax of the logits')
  assert.ok(features.min().dataSync()[0]! >= 0, 'conv_last features are post-ReLU')
  tf.dispose([x, features, logits, probs, cams, fromCams]) // kernel and bias belong to raw
  raw.dispose()
})

test('layers are named and shaped as documented: conv_last ≥ 8×8, then gap / gmp / fc6-fc7, predictions (linear logits), probs', async () => {
  const classes = DEMO_CLASSES.length
  const layer = (net: Net, name: string) => {
    const l = models[net].info.layers.find((x) => x.name === name)
    assert.ok(l, `${net} has a layer ${name}`)
    return l
  }
  for (const net of NETS) {
    const info = models[net].info
    const conv = layer(net, 'conv_last')
    assert.equal(conv.type, 'Conv2D')
    assert.equal(conv.activation, 'relu')
    const [h, w, c] = conv.outputShape as number[]
    assert.ok(h! >= 8 && w! >= 8, `${net}: conv_last is ${h}×${w}`)
    assert.deepEqual(info.inputShape, [...records[net].preprocessing.inputSize, 3])
    const logits = layer(net, 'predictions')
    assert.equal(logits.type, 'Dense')
    assert.equal(logits.activation, 'linear')
    assert.deepEqual(logits.outputShape, [classes])
    const probs = layer(net, 'probs')
    assert.equal(probs.type, 'Softmax')
    assert.equal(info.layers.at(-1)!.name, 'probs')
    assert.deepEqual(info.labels, DEMO_CLASSES.map((d) => d.name))
    assert.equal(info.preprocessingDefaulted, false)
    assert.equal(info.preprocessing.resize, 'stretch')
    assert.deepEqual(info.preprocessing.range, [0, 1])
    if (net === 'gap' || net === 'gmp') {
      const pool = layer(net, net)
      assert.equal(pool.type, net === 'gap' ? 'GlobalAveragePooling2D' : 'GlobalMaxPooling2D')
      assert.deepEqual(pool.outputShape, [c])
      assert.deepEqual(logits.inbound, [net], 'one dense layer right after the global pooling')
    } else {
      const flat = layer(net, 'flatten')
      assert.deepEqual(layer(net, 'pool_last').outputShape, [4, 4, c])
      assert.deepEqual(flat.outputShape, [4 * 4 * c!])
      assert.deepEqual(layer(net, 'fc6').outputShape, [256])
      assert.deepEqual(layer(net, 'fc7').outputShape, [256])
      assert.equal(layer(net, 'fc7').activation, 'relu')
    }
    // Everything up to conv_last is the same trunk in all three.
    const trunk = (n: Net) => {
      const layers = models[n].info.layers
      return layers.slice(0, layers.findIndex((l) => l.name === 'conv_last') + 1).map((l) => [l.name, l.type, l.outputShape])
    }
    assert.deepEqual(trunk(net), trunk('gap'))
  }
})

test('the committed folders are complete and small: ≤ 10 MB for all three, with sidecar, labels, history and curves', async () => {
  let total = 0
  for (const net of NETS) {
    const files = await readdir(join(MODELS, net))
    for (const f of ['model.json', 'convscope.json', 'labels.txt', 'training.json', 'curves.svg']) assert.ok(files.includes(f), `${net}/${f}`)
    for (const f of files) if (f === 'model.json' || f.endsWith('.bin')) total += (await stat(join(MODELS, net, f))).size
    const rec = records[net]
    assert.equal(rec.history.length, rec.training.epochs)
    assert.equal(rec.history.at(-1)!.valTop1, rec.final.valTop1, 'the last epoch is the saved network')
    for (const e of rec.history) for (const key of ['trainLoss', 'trainTop1', 'valLoss', 'valTop1', 'valTop5', 'seconds'] as const) assert.ok(Number.isFinite(e[key]), `${net} epoch ${e.epoch} ${key}`)
  }
  assert.ok(total <= 10e6, `${total} bytes`)
})
