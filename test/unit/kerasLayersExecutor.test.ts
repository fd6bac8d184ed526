/**
 * TF.js layers models on the format-neutral executor (issue 10): graph/fromKerasLayers.ts + graph/ops/keras
 * against tfjs-layers itself (the independent reference: a tf.model over the same layers, predict). For the
 * committed demo networks, the tiny test CNN and a model that calls every other supported layer class (shared
 * layer, nested Sequential, merges, padding / cropping / upsampling, every activation), every layer's output
 * of the executor equals tfjs-layers' on a batch of 2, and d(logit)/d(input) equals tf.grad through the
 * tfjs-layers model.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../src/shared/api/errors'
import { initBackend } from '../../src/main/engine/backend'
import { GraphExecutor } from '../../src/main/engine/graph/executor'
import { graphFromKerasLayers } from '../../src/main/engine/graph/fromKerasLayers'
import { materializeWeights } from '../../src/main/engine/graph/modelGraph'
import { kernelFor } from '../../src/main/engine/graph/ops'
import { SUPPORTED_KERAS_LAYERS } from '../../src/main/engine/graph/ops/keras'
import { readModelFolder } from '../../src/main/engine/models/fsIOHandler'
import { makeTinyCnn } from '../fixtures/models'
import { kerasLayerZoo } from '../helpers/kerasLayerZoo'

const DEMO = join(import.meta.dirname, '../../resources/demo-models')
let scratch: string

before(async () => {
  // wasm, the backend the app runs on (and the cpu backend takes minutes for the demo networks' gradients).
  await initBackend({ forced: 'wasm' })
  scratch = await mkdtemp(join(tmpdir(), 'convscope-keras-'))
})
after(async () => {
  await rm(scratch, { recursive: true, force: true })
})

async function loadFolder(dir: string): Promise<tf.LayersModel> {
  const folder = await readModelFolder(dir)
  const loaded = await tf.loadLayersModel({ load: async () => folder.artifacts })
  return loaded instanceof tf.Sequential ? tf.model({ inputs: loaded.inputs, outputs: loaded.outputs }) : loaded
}

/** A layer's output in the model (a layer called several times: its last call, as the executor's layer name means). */
function symbolicOutput(layer: tf.layers.Layer): tf.SymbolicTensor {
  const out = layer.inboundNodes.length > 1 ? layer.getOutputAt(layer.inboundNodes.length - 1) : layer.output
  return Array.isArray(out) ? out[0]! : out
}

/** max |a − b| / max(1e-6, max |b|): the relative error of a against the reference b. */
function relError(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]! / Math.max(1e-6, tf.max(tf.abs(b)).dataSync()[0]!))
}

const seeded = (shape: number[], seed: number, min = 0, max = 1) => tf.randomUniform(shape, min, max, 'float32', seed)

/**
 * Every layer of `model` through the executor vs tfjs-layers on a batch of 2, and the input gradient of one
 * unit of `logitLayer` (summed over the batch). Returns the worst relative errors.
 */
function checkParity(model: tf.LayersModel, label: string, logitLayer: string): { layers: number; worst: number; grad: number } {
  const { graph, layerOutputs } = graphFromKerasLayers(model, label)
  const executor = new GraphExecutor(graph, materializeWeights(graph), kernelFor)
  try {
    const inputName = model.inputLayers[0]!.name
    const layers = model.layers.filter((l) => l.name !== inputName)
    const shape = model.inputs[0]!.shape.slice(1) as number[]
    const x = seeded([2, ...shape], 7)
    const feeds = new Map([[inputName, x]])
    const reference = tf.model({ inputs: model.inputs, outputs: layers.map(symbolicOutput) })
    const want = reference.predict(x) as tf.Tensor[]
    const got = executor.run(
      feeds,
      layers.map((l) => layerOutputs.get(l.name)!),
    )
    let worst = 0
    layers.forEach((l, i) => {
      assert.deepEqual(got[i]!.shape, want[i]!.shape, `${label}: ${l.name} shape`)
      const e = relError(got[i]!, want[i]!)
      assert.ok(e <= 1e-5, `${label}: layer ${l.name} (${l.getClassName()}) differs from tfjs-layers by ${e} relative`)
      worst = Math.max(worst, e)
    })
    tf.dispose([x, ...want, ...got])

    // d(logit)/d(input): tf.grad through tfjs-layers vs through the executor.
    const logitModel = tf.model({ inputs: model.inputs, outputs: symbolicOutput(model.getLayer(logitLayer)) })
    const unit = (t: tf.Tensor) => tf.sum(tf.gather(tf.reshape(t, [2, -1]), [1], 1))
    const xg = seeded([2, ...shape], 11)
    const gWant = tf.grad((v: tf.Tensor) => unit(logitModel.apply(v, { training: false }) as tf.Tensor))(xg)
    const gGot = tf.grad((v: tf.Tensor) => unit(executor.run(new Map([[inputName, v]]), [layerOutputs.get(logitLayer)!])[0]!))(xg)
    const grad = relError(gGot, gWant)
    assert.ok(tf.max(tf.abs(gWant)).dataSync()[0]! > 0, `${label}: the reference gradient is not all zeros`)
    assert.ok(grad <= 1e-5, `${label}: d(${logitLayer})/d(input) differs from tf.grad through tfjs-layers by ${grad} relative`)
    tf.dispose([xg, gWant, gGot])
    return { layers: layers.length, worst, grad }
  } finally {
    executor.dispose()
  }
}

for (const net of ['gap', 'gmp', 'fc'] as const) {
  test(`demo ${net}: every layer and d(logit)/d(input) equal tfjs-layers (batch of 2)`, async () => {
    const model = await loadFolder(join(DEMO, net))
    try {
      const r = checkParity(model, `demo ${net}`, 'predictions')
      assert.equal(r.layers, model.layers.length - 1)
    } finally {
      model.dispose()
    }
  })
}

test('tiny test CNN (depthwise, residual add, dropout, softmax dense): every layer equals tfjs-layers', async () => {
  const tiny = await makeTinyCnn(join(scratch, 'tiny'))
  const model = await loadFolder(tiny.dir)
  try {
    checkParity(model, 'tiny', 'probs')
  } finally {
    model.dispose()
  }
})

test('every other layer class (shared layer, nested Sequential, merges, geometry, activations) equals tfjs-layers', () => {
  const { model, classes } = kerasLayerZoo()
  try {
    const r = checkParity(model, 'coverage', 'logits')
    assert.ok(r.layers > 30)
    // The supported classes this test does not call are the inference-time identities, which tfjs-layers cannot run at training: false differently.
    const untested = SUPPORTED_KERAS_LAYERS.filter((c) => !classes.has(c) && !['SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'Subtract'].includes(c))
    assert.deepEqual(untested, [], 'supported layer classes the parity model does not exercise')
  } finally {
    model.dispose()
  }
})

test('the graph: one node per layer call, weights named "<layer>/<weight>", a nested model inlined', () => {
  const { model } = kerasLayerZoo()
  try {
    const { graph, layerOutputs } = graphFromKerasLayers(model, 'coverage')
    assert.deepEqual(graph.inputs.map((i) => i.name), ['image'])
    const shared = graph.nodes.filter((n) => n.opType === 'Conv2D' && n.inputs.includes('shared/kernel'))
    assert.deepEqual(shared.map((n) => n.name), ['shared', 'shared:1'])
    assert.equal(layerOutputs.get('shared'), 'shared:1', 'a shared layer stands for its last call')
    assert.deepEqual(shared[0]!.inputs, ['mul', 'shared/kernel', 'shared/bias'])
    assert.ok(graph.byName.has('nested/inner_conv') && graph.byName.has('nested/inner_gmp'))
    assert.equal(layerOutputs.get('nested'), 'nested/inner_gmp')
    assert.deepEqual([...graph.initializers.keys()].filter((n) => n.startsWith('bn/')).sort(), ['bn/beta', 'bn/gamma', 'bn/moving_mean', 'bn/moving_variance'])
    const zpad = graph.byName.get('zpad')!
    assert.deepEqual(zpad.attributes.padding, [1, 2, 0, 1])
    assert.equal(graph.byName.get('logits')!.domain, 'keras')
  } finally {
    model.dispose()
  }
})

test('a layer class without a kernel is UNSUPPORTED_OP naming the layer when the executor is built', () => {
  const input = tf.input({ shape: [8, 8, 2], name: 'in' })
  const out = tf.layers.layerNormalization({ name: 'norm' }).apply(input) as tf.SymbolicTensor
  const model = tf.model({ inputs: input, outputs: out })
  try {
    const { graph } = graphFromKerasLayers(model, 'm.json')
    const weights = materializeWeights(graph)
    assert.throws(
      () => new GraphExecutor(graph, weights, kernelFor),
      (e: unknown) => e instanceof ConvscopeError && e.code === 'UNSUPPORTED_OP' && /keras\.LayerNormalization \(node "norm"/.test(e.message),
    )
  } finally {
    model.dispose()
  }
})
