/**
 * The PyTorch reference (scripts/reference/tfjs_torch.py) computes every layer of a TF.js layers model as
 * TensorFlow.js does: the bundled `gap` network, the tiny fixture CNN (functional: residual add, depthwise,
 * strided valid conv, dropout, dense head) and an odd-sized edge-case network built here (TF 'same' padding
 * split asymmetrically at stride 2, dilation, 'same' max / average pooling, concatenation, ReLU(maxValue),
 * Flatten in NHWC order, Dense on a map, Softmax layer, global max pooling).
 *
 * tfjs runs on the cpu backend (plain JS kernels, the readable ground truth). The reference runs under
 * Debian's /usr/bin/python3; the test is skipped, with the reason, where that Python has no torch
 * (apt-get install python3-torch).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { fsIOHandler } from '../../src/main/engine/models/fsIOHandler'
import { readNpy, writeNpy } from '../../src/main/engine/store/npy'
import { makeTinyCnn, seededRandom } from '../fixtures/models'

const PYTHON = '/usr/bin/python3'
/** No __pycache__ folders in the checkout from importing the reference module. */
const PY_ENV = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }
const SCRIPT = join(import.meta.dirname, '../../scripts/reference/tfjs_torch.py')
const GAP = join(import.meta.dirname, '../../resources/demo-models/gap')

const probe = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' })
const skip = probe.status === 0 ? false : `${PYTHON} cannot import torch and numpy (apt-get install python3-torch): ${(probe.stderr || String(probe.error)).trim().split('\n').pop()}`

let root: string

before(async () => {
  await tf.setBackend('cpu')
  root = await mkdtemp(join(tmpdir(), 'convscope-torchref-'))
})
after(async () => {
  if (root) await rm(root, { recursive: true, force: true })
})

/** An odd-sized network whose layers exercise the conversions most likely to go wrong. */
async function makeEdgeCaseNet(dir: string): Promise<string[]> {
  let k = 0
  const init = () => tf.initializers.glorotUniform({ seed: 500 + k++ })
  const bias = () => tf.initializers.randomUniform({ minval: -0.2, maxval: 0.2, seed: 500 + k++ })
  const input = tf.input({ shape: [13, 11, 3], name: 'input' })
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor
  const s2 = apply(tf.layers.conv2d({ name: 'conv_s2_same', filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6', kernelInitializer: init(), biasInitializer: bias() }), input)
  const k4 = apply(tf.layers.conv2d({ name: 'conv_k4_s2_same', filters: 6, kernelSize: 4, strides: 2, padding: 'same', activation: 'tanh', kernelInitializer: init(), biasInitializer: bias() }), input)
  const cat = apply(tf.layers.concatenate({ name: 'concat' }), [s2, k4])
  const dil = apply(tf.layers.conv2d({ name: 'conv_dilated', filters: 8, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'sigmoid', kernelInitializer: init(), biasInitializer: bias() }), cat)
  const dw = apply(tf.layers.depthwiseConv2d({ name: 'dw_s2_same', kernelSize: 3, strides: 2, depthMultiplier: 2, padding: 'same', depthwiseInitializer: init(), biasInitializer: bias() }), dil)
  const relu = apply(tf.layers.reLU({ name: 'relu_max', maxValue: 0.3 }), dw)
  const maxp = apply(tf.layers.maxPooling2d({ name: 'maxpool_same', poolSize: 3, strides: 2, padding: 'same' }), dil)
  const avgp = apply(tf.layers.averagePooling2d({ name: 'avgpool_same', poolSize: 3, strides: 2, padding: 'same' }), dil)
  const both = apply(tf.layers.add({ name: 'add_pools' }), [maxp, avgp])
  const valid = apply(tf.layers.conv2d({ name: 'conv_valid', filters: 16, kernelSize: 2, padding: 'valid', activation: 'linear', kernelInitializer: init(), biasInitializer: bias() }), both)
  const gmp = apply(tf.layers.globalMaxPooling2d({ name: 'gmp' }), valid)
  const onMap = apply(tf.layers.dense({ name: 'dense_on_map', units: 5, activation: 'relu', kernelInitializer: init(), biasInitializer: bias() }), relu)
  const flat = apply(tf.layers.flatten({ name: 'flatten' }), onMap)
  const fc = apply(tf.layers.dense({ name: 'fc', units: 7, kernelInitializer: init(), biasInitializer: bias() }), flat)
  const fcAll = apply(tf.layers.concatenate({ name: 'concat_vec' }), [fc, gmp])
  const act = apply(tf.layers.activation({ name: 'act_tanh', activation: 'tanh' }), fcAll)
  const out = apply(tf.layers.softmax({ name: 'softmax' }), act)
  const model = tf.model({ inputs: input, outputs: out, name: 'edge_cases' })
  await mkdir(dir, { recursive: true })
  await model.save(fsIOHandler(dir))
  const names = model.layers.map((l) => l.name)
  model.dispose()
  return names
}

/** Every layer's output (the input layer's too: names must match) from tfjs (through convscope's loader) and from the torch reference; compares them. */
async function compareAllLayers(modelDir: string, batch: number, seed: number): Promise<string[]> {
  const model = await loadModel(modelDir)
  try {
    const [h, w, c] = model.info.inputShape as [number, number, number]
    const rand = seededRandom(seed)
    const x = Float32Array.from({ length: batch * h * w * c }, () => rand())
    const layers = model.info.layers.map((l) => l.name)
    const work = await mkdtemp(join(root, 'cmp-'))
    await writeNpy(join(work, 'x.npy'), x, [batch, h, w, c])
    execFileSync(PYTHON, [SCRIPT, modelDir, '--input', join(work, 'x.npy'), '--layers', layers.join(','), '--out', join(work, 'out')], { stdio: ['ignore', 'pipe', 'pipe'], env: PY_ENV })
    const input = tf.tensor4d(x, [batch, h, w, c])
    const outs = model.forward(input, layers)
    try {
      for (const [i, name] of layers.entries()) {
        const got = await readNpy(join(work, 'out', `${name.replace(/\//g, '__')}.npy`))
        const want = outs[i]!
        assert.deepEqual(got.shape, want.shape, `${name}: torch shape [${got.shape}] vs tfjs [${want.shape}]`)
        const a = want.dataSync()
        const b = got.data as Float32Array
        let scale = 1
        let worst = 0
        for (let j = 0; j < a.length; j++) {
          scale = Math.max(scale, Math.abs(a[j]!))
          worst = Math.max(worst, Math.abs(a[j]! - b[j]!))
        }
        assert.ok(worst <= 1e-4 * scale, `${name}: max |tfjs - torch| = ${worst.toExponential(2)} (scale ${scale.toFixed(2)})`)
      }
    } finally {
      tf.dispose([input, ...outs])
    }
    return layers
  } finally {
    model.dispose()
  }
}

test('the demo gap network: every layer agrees with tfjs within 1e-4', { skip }, async () => {
  const layers = await compareAllLayers(GAP, 3, 11)
  assert.ok(layers.includes('conv_last') && layers.includes('probs'))
})

test('the tiny fixture CNN (functional, residual add, depthwise, valid stride-2 conv, dropout): every layer agrees', { skip }, async () => {
  const cnn = await makeTinyCnn(join(root, 'tiny'), { seed: 3 })
  const layers = await compareAllLayers(cnn.dir, 2, 12)
  for (const name of [...cnn.convLayers, ...cnn.depthwiseLayers, 'dropout', 'probs']) assert.ok(layers.includes(name), name)
})

test('odd-sized edge cases (asymmetric same padding, dilation, same pooling, flatten order, dense on a map): every layer agrees', { skip }, async () => {
  const names = await makeEdgeCaseNet(join(root, 'edge'))
  const layers = await compareAllLayers(join(root, 'edge'), 2, 13)
  assert.deepEqual(layers, names)
})

test('a Sequential model (implicit input layer, valid stride-2 conv, valid max pooling, flatten, dense): every layer agrees', { skip }, async () => {
  const dir = join(root, 'sequential')
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ name: 'c1', inputShape: [15, 15, 3], filters: 4, kernelSize: 3, strides: 2, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 9 }) }),
      tf.layers.maxPooling2d({ name: 'mp', poolSize: 2 }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ name: 'out', units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 10 }) }),
    ],
  })
  await mkdir(dir, { recursive: true })
  await model.save(fsIOHandler(dir))
  model.dispose()
  const layers = await compareAllLayers(dir, 2, 14)
  assert.deepEqual(layers, ['c1_input', 'c1', 'mp', 'flat', 'out'])
})

test('an unsupported layer is refused with its name and class', { skip }, async () => {
  const dir = join(root, 'unsupported')
  const model = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 2, kernelSize: 3, name: 'c' }), tf.layers.upSampling2d({ name: 'up', size: [2, 2] })] })
  await mkdir(dir, { recursive: true })
  await model.save(fsIOHandler(dir))
  model.dispose()
  const r = spawnSync(PYTHON, ['-c', `import sys; sys.path.insert(0, ${JSON.stringify(join(SCRIPT, '..'))}); import tfjs_torch; tfjs_torch.load_tfjs_layers_model(${JSON.stringify(dir)})`], { encoding: 'utf8', env: PY_ENV })
  assert.notEqual(r.status, 0)
  assert.match(r.stderr, /UnsupportedLayerError: layer up: UpSampling2D is not supported/)
})
