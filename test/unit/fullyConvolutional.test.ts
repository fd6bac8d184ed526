/**
 * The fully-convolutional rewrite (test/helpers/layersFullyConvolutional.ts):
 * - on the demo fc network (Flatten of pool_last 4×4×192 → fc6 → fc7 → predictions → probs) the rewrite
 *   reproduces the original's probabilities at 64×64; at 128×128 it gives a 5×5 grid (window 64, stride 16:
 *   (128 − 64) / 16 + 1), and every position equals the original head applied to the matching 4×4 window of
 *   the original trunk's pool_last map on the 128×128 input. The pixel-window identity does NOT hold there
 *   (the trunk pads 'same'); the hand-built 'valid' networks below check it exactly.
 * - on hand-built networks with a 3×3 Flatten ('valid' convs and pools, so nothing leaks in from around a
 *   window), every position equals the original network on the explicitly cropped window;
 * - a GAP head becomes a per-position 1×1 class map whose spatial mean is the original logits;
 * - what cannot be rewritten is refused with a message naming the layer.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import * as tf from '@tensorflow/tfjs'
import sharp from 'sharp'
import { toInputTensor, toModelInput } from '../../src/main/engine/images/preprocess'
import { readImage } from '../../src/main/engine/images/readImage'
import { readSidecar } from '../../src/main/engine/models/sidecar'
import { initBackend } from '../../src/main/engine/backend'
import { readModelFolder } from '../../src/main/engine/models/fsIOHandler'
import { classMapGrid, fullyConvolutionalFromFolder, toFullyConvolutional } from '../helpers/layersFullyConvolutional'
import { maxAbsDiff } from '../helpers/compare'

const FC = join(import.meta.dirname, '../../resources/demo-models/fc')

let scratch: string

before(async () => {
  await initBackend({ forced: 'wasm' })
  scratch = await mkdtemp(join(tmpdir(), 'convscope-fcn-'))
})
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

const random = (shape: [number, number, number, number], seed: number) => tf.randomUniform(shape, -1, 1, 'float32', seed) as tf.Tensor4D

/** A Sequential: input 16×16×3 → conv 3×3 valid → max pool 2 → conv 3×3 valid → conv 3×3 valid → 3×3×6 → Flatten → Dense → Dropout → Dense → Softmax. Window 16, stride 2. */
function flatten3x3Net(seed: number): tf.Sequential {
  let k = 0
  const init = () => tf.initializers.glorotUniform({ seed: seed * 100 + ++k })
  const bias = () => tf.initializers.randomUniform({ minval: -0.2, maxval: 0.2, seed: seed * 100 + ++k })
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [16, 16, 3], filters: 8, kernelSize: 3, activation: 'relu', name: 'c1', kernelInitializer: init(), biasInitializer: bias() }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'p1' }),
      tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu', name: 'c2', kernelInitializer: init(), biasInitializer: bias() }),
      tf.layers.conv2d({ filters: 6, kernelSize: 3, name: 'c3', kernelInitializer: init(), biasInitializer: bias() }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ units: 10, activation: 'relu', name: 'd1', kernelInitializer: init(), biasInitializer: bias() }),
      tf.layers.dropout({ rate: 0.5, name: 'drop' }),
      tf.layers.dense({ units: 4, name: 'logits', kernelInitializer: init(), biasInitializer: bias() }),
      tf.layers.softmax({ name: 'probs' }),
    ],
  })
}

test('demo fc: probabilities at 64×64 reproduced; at 128×128 a 5×5 grid equal to the original head on each 4×4 window of pool_last', async () => {
  const fcn = await fullyConvolutionalFromFolder(FC)
  const folder = await readModelFolder(FC)
  const original = await tf.loadLayersModel({ load: async () => folder.artifacts })
  try {
    assert.equal(fcn.head, 'flatten-dense')
    assert.equal(fcn.outputs, 'probabilities')
    assert.deepEqual(fcn.trainingInputSize, [64, 64])
    assert.ok(fcn.steps.some((s) => s.includes('4×4 convolution with 192 inputs')), fcn.steps.join('; '))
    assert.ok(fcn.steps.some((s) => s.startsWith('fc6_dropout (Dropout) dropped')))

    // Training size: one position, the original's output. (Loading disposed the original's copy of the weights: the rewrite holds its own.)
    const x = random([2, 64, 64, 3], 1).add(1).div(2) as tf.Tensor4D
    const want = (original.predict(x) as tf.Tensor).dataSync()
    const got = fcn.model.predict(x) as tf.Tensor
    assert.deepEqual(got.shape, [2, 1, 1, 14])
    assert.ok(maxAbsDiff(got.dataSync(), want) < 1e-5, `max |Δp| ${maxAbsDiff(got.dataSync(), want)}`)

    // 128×128: (128 − 64) / 16 + 1 = 5 positions per axis.
    const big = random([1, 128, 128, 3], 2).add(1).div(2) as tf.Tensor4D
    const grid = await classMapGrid(fcn, big)
    assert.equal(grid.height, 5)
    assert.equal(grid.width, 5)
    assert.deepEqual(grid.stride, [16, 16])
    assert.deepEqual(grid.cells[7]!.window, { top: 16, left: 32, bottom: 79, right: 95 })
    // The receptive field of a position (102 px) is larger than its 64 px window: 'same' padding sees around it.
    assert.deepEqual(grid.receptiveField?.size, [102, 102])
    assert.deepEqual(grid.cells[12]!.field, { top: 13, bottom: 114, left: 13, right: 114 })

    // The original's trunk on the big input, then its head (fc6 → probs) on every 4×4 window of pool_last.
    const trunk = tf.model({ inputs: original.inputs, outputs: original.getLayer('pool_last').output as tf.SymbolicTensor })
    const features = trunk.apply(big, { training: false }) as tf.Tensor4D
    assert.deepEqual(features.shape, [1, 8, 8, 192])
    const headInput = tf.input({ shape: [4, 4, 192] })
    let h = headInput
    for (const name of ['flatten', 'fc6', 'fc7', 'predictions', 'probs']) h = original.getLayer(name).apply(h) as tf.SymbolicTensor
    const head = tf.model({ inputs: headInput, outputs: h })
    for (let y = 0; y < 5; y++) {
      for (let x0 = 0; x0 < 5; x0++) {
        const p = (head.predict(features.slice([0, y, x0, 0], [1, 4, 4, 192])) as tf.Tensor).dataSync()
        const q = grid.values.subarray((y * 5 + x0) * 14, (y * 5 + x0 + 1) * 14)
        assert.ok(maxAbsDiff(p, q) < 1e-5, `position (${y}, ${x0}): max |Δp| ${maxAbsDiff(p, q)}`)
        let best = 0
        for (let c = 1; c < 14; c++) if (p[c]! > p[best]!) best = c
        assert.equal(grid.argmax[y * 5 + x0], best)
      }
    }
    tf.dispose([x, got, big, features])
  } finally {
    fcn.dispose()
    original.dispose()
  }
})

test('a 3×3 Flatten with valid padding: every position equals the original network on the cropped window', async () => {
  const net = flatten3x3Net(3)
  const fcn = toFullyConvolutional(net)
  try {
    assert.equal(fcn.head, 'flatten-dense')
    assert.ok(fcn.steps.some((s) => s.includes('3×3 convolution with 6 inputs')), fcn.steps.join('; '))
    const x = random([1, 16, 16, 3], 4)
    assert.ok(maxAbsDiff((fcn.model.predict(x) as tf.Tensor).dataSync(), (net.predict(x) as tf.Tensor).dataSync()) < 1e-5)

    // 22×23: (22 − 16) / 2 + 1 = 4 rows, (23 − 16) / 2 + 1 = 4 columns (the odd pixel is never a window's).
    const big = random([1, 22, 23, 3], 5)
    const grid = await classMapGrid(fcn, big)
    assert.deepEqual([grid.height, grid.width, grid.classes], [4, 4, 4])
    assert.deepEqual(grid.stride, [2, 2])
    for (const cell of grid.cells) {
      const { top, left } = cell.window
      assert.deepEqual([top, left], [2 * cell.y, 2 * cell.x])
      const crop = big.slice([0, top, left, 0], [1, 16, 16, 3])
      const p = (net.predict(crop) as tf.Tensor).dataSync()
      const q = grid.values.subarray((cell.y * 4 + cell.x) * 4, (cell.y * 4 + cell.x + 1) * 4)
      assert.ok(maxAbsDiff(p, q) < 1e-5, `cell (${cell.y}, ${cell.x})`)
      // With valid padding nothing outside the window reaches the position: its field is the window.
      assert.deepEqual(cell.field, cell.window)
    }
  } finally {
    fcn.dispose()
    net.dispose()
  }
})

test('a flatten whose Dense has a softmax activation: softmax over the channels at every position', async () => {
  const input = tf.input({ shape: [5, 5, 2] })
  const conv = tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'conv', kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) }).apply(input) as tf.SymbolicTensor
  const flat = tf.layers.flatten({ name: 'flat' }).apply(conv) as tf.SymbolicTensor
  const act = tf.layers.activation({ activation: 'relu', name: 'act' }).apply(flat) as tf.SymbolicTensor
  const out = tf.layers.dense({ units: 5, activation: 'softmax', name: 'out', kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }) }).apply(act) as tf.SymbolicTensor
  const net = tf.model({ inputs: input, outputs: out })
  const fcn = toFullyConvolutional(net)
  try {
    assert.equal(fcn.outputs, 'probabilities')
    const big = random([1, 9, 7, 2], 9)
    const grid = await classMapGrid(fcn, big)
    assert.deepEqual([grid.height, grid.width], [5, 3])
    for (const cell of grid.cells) {
      const p = (net.predict(big.slice([0, cell.y, cell.x, 0], [1, 5, 5, 2])) as tf.Tensor).dataSync()
      const q = grid.values.subarray((cell.y * 3 + cell.x) * 5, (cell.y * 3 + cell.x + 1) * 5)
      assert.ok(maxAbsDiff(p, q) < 1e-5)
      assert.ok(Math.abs(q.reduce((a, b) => a + b, 0) - 1) < 1e-5)
    }
  } finally {
    fcn.dispose()
    net.dispose()
  }
})

test('a GAP head: the pooling is removed, the logit map per position averages to the original logits', async () => {
  const input = tf.input({ shape: [6, 6, 3] })
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv', kernelInitializer: tf.initializers.glorotUniform({ seed: 11 }) }).apply(input) as tf.SymbolicTensor
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor
  const logits = tf.layers.dense({ units: 3, name: 'predictions', kernelInitializer: tf.initializers.glorotUniform({ seed: 12 }), biasInitializer: 'ones' }).apply(x) as tf.SymbolicTensor
  const probs = tf.layers.softmax({ name: 'probs' }).apply(logits) as tf.SymbolicTensor
  const net = tf.model({ inputs: input, outputs: probs })
  const fcn = toFullyConvolutional(net)
  try {
    assert.equal(fcn.head, 'global-pooling')
    assert.ok(fcn.steps[0]!.startsWith('gap (GlobalAveragePooling2D) removed'))
    const x6 = random([1, 6, 6, 3], 13)
    const logitMap = tf.model({ inputs: fcn.model.inputs, outputs: fcn.model.getLayer('predictions').output as tf.SymbolicTensor }).predict(x6) as tf.Tensor4D
    assert.deepEqual(logitMap.shape, [1, 6, 6, 3])
    const originalLogits = tf.model({ inputs: net.inputs, outputs: logits }).predict(x6) as tf.Tensor
    assert.ok(maxAbsDiff(logitMap.mean([1, 2]).dataSync(), originalLogits.dataSync()) < 1e-5)
    const grid = await classMapGrid(fcn, x6)
    assert.deepEqual([grid.height, grid.width], [6, 6])
    assert.ok(maxAbsDiff(grid.values, tf.softmax(logitMap).dataSync()) < 1e-5, 'softmax per position')
    // A position is one unit of the 3×3 'same' conv: its window is its receptive field, clipped to the input.
    assert.deepEqual(grid.cells[0]!.window, { top: 0, bottom: 1, left: 0, right: 1 })
    assert.deepEqual(grid.cells[8]!.window, { top: 0, bottom: 2, left: 1, right: 3 })
    // Smaller or larger inputs than the training size are fine for a global-pooling head.
    const small = await classMapGrid(fcn, random([1, 4, 9, 3], 14))
    assert.deepEqual([small.height, small.width], [4, 9])
  } finally {
    fcn.dispose()
    net.dispose()
  }
})

test('refusals name the layer and the reason', () => {
  const reshapeNet = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 3, name: 'conv' }),
      tf.layers.reshape({ targetShape: [8], name: 'reshape' }),
      tf.layers.dense({ units: 2, name: 'dense' }),
    ],
  })
  assert.throws(() => toFullyConvolutional(reshapeNet), (e: Error) => /UNSUPPORTED_OP|No fully-convolutional rewrite/.test(e.message) && e.message.includes('"reshape" (Reshape)'))

  const bnNet = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 3, name: 'conv' }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.batchNormalization({ name: 'bn' }),
      tf.layers.dense({ units: 2, name: 'dense' }),
    ],
  })
  assert.throws(() => toFullyConvolutional(bnNet), /layer "bn" \(BatchNormalization\) sits between Flatten "flat" and the first Dense/)

  const open = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [null, null, 3], filters: 2, kernelSize: 1 }), tf.layers.globalAveragePooling2d({})] })
  assert.throws(() => toFullyConvolutional(open), /already accepts any input size/)

  const noHead = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [4, 4, 3], filters: 2, kernelSize: 1 })] })
  assert.throws(() => toFullyConvolutional(noHead), /output is not class scores/)
  for (const m of [reshapeNet, bnNet, open, noHead]) m.dispose()
})

test('an input smaller than the training window is refused', async () => {
  const net = flatten3x3Net(5)
  const fcn = toFullyConvolutional(net)
  try {
    await assert.rejects(classMapGrid(fcn, random([1, 15, 20, 3], 1)), /smaller than the training input size 16×16/)
  } finally {
    fcn.dispose()
    net.dispose()
  }
})

test('convscope fcn --json --png: the grid the engine computes, with class names, windows on the image and a PNG', async () => {
  // A 160×120 image with a bright disc: the CLI stretches it to --size 96x128 as the sidecar says.
  const image = join(scratch, 'disc.png')
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="160" height="120"><rect width="160" height="120" fill="#556070"/><circle cx="110" cy="50" r="24" fill="#e8c020"/></svg>`
  await sharp(Buffer.from(svg)).png().toFile(image)
  const png = join(scratch, 'grid.png')
  const bin = join(import.meta.dirname, '../../bin/convscope.mjs')
  const { stdout } = await promisify(execFile)(process.execPath, [bin, 'fcn', '--model', FC, '--image', image, '--size', '96x128', '--json', '--png', png, '--backend', 'wasm'])
  const out = JSON.parse(stdout)
  // (96 − 64) / 16 + 1 = 3 rows, (128 − 64) / 16 + 1 = 5 columns.
  assert.deepEqual([out.height, out.width, out.classes], [3, 5, 14])
  assert.deepEqual(out.inputSize, [96, 128])

  const fcn = await fullyConvolutionalFromFolder(FC)
  try {
    const side = await readSidecar(FC, [64, 64])
    const x = toInputTensor(await toModelInput(await readImage(image), { ...side.preprocessing, inputSize: [96, 128] }))
    const grid = await classMapGrid(fcn, x)
    x.dispose()
    out.cells.forEach((c: { class: number; label: string; probability: number; windowOnImage: { x: number; y: number; width: number; height: number } }, i: number) => {
      assert.equal(c.class, grid.argmax[i])
      assert.equal(c.label, side.labels![grid.argmax[i]!])
      assert.ok(Math.abs(c.probability - grid.maxValue[i]!) < 1e-6)
      // Input 128 wide for 160 image pixels: a 64-pixel window is 80 image pixels wide, 16 px of stride are 20.
      const cell = grid.cells[i]!
      assert.deepEqual(c.windowOnImage, { x: cell.x * 20, y: cell.y * 20, width: 80, height: 80 })
    })
  } finally {
    fcn.dispose()
  }
  const meta = await sharp(png).metadata()
  assert.deepEqual([meta.width, meta.height], [128, 96])
})
