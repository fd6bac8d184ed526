/**
 * The command line as a user runs it: `convscope info` and `convscope activations` on a small model,
 * each output checked against the engine's own answer, and bad input ending in one clear line.
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
import { readNpy } from '../../src/main/engine/store/npy'
import { makeTinyCnn, type TinyCnn } from '../fixtures/models'

const run = promisify(execFile)
const bin = join(import.meta.dirname, '../../bin/convscope.mjs')
let root: string
let cnn: TinyCnn
let image: string

async function convscope(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { env: { ...process.env, CONVSCOPE_BACKEND: 'cpu' } })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

before(async () => {
  await tf.setBackend('cpu')
  root = await mkdtemp(join(tmpdir(), 'convscope-cli-'))
  cnn = await makeTinyCnn(join(root, 'model'), { labels: 'txt' })
  image = join(root, 'red.png')
  await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 220, g: 20, b: 40 } } }).png().toFile(image)
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

test('info prints a row per layer with output shape and receptive field', async () => {
  const { code, stdout } = await convscope('info', cnn.dir)
  assert.equal(code, 0)
  for (const name of cnn.layerNames) assert.match(stdout, new RegExp(`^${name}\\s`, 'm'), `row for ${name}`)
  // conv1 is a 3×3 'same' conv on the image: field 3, jump 1, centred on pixel 0
  assert.match(stdout, /^conv1\s+Conv2D\s+\[32, 32, 8\]\s+224\s+3\s+1\s+0$/m)
})

test('info --json is the ModelInfo of the engine', async () => {
  const { code, stdout } = await convscope('info', cnn.dir, '--json')
  assert.equal(code, 0)
  const info = JSON.parse(stdout)
  assert.deepEqual(info.layers.map((l: { name: string }) => l.name), cnn.layerNames)
  assert.deepEqual(info.inputShape, cnn.inputShape)
  assert.equal(info.labels.length, cnn.classes)
})

test('activations --json gives per-channel max and argmax that match the --npy array', async () => {
  const json = await convscope('activations', '--model', cnn.dir, '--image', image, '--layer', 'conv3', '--json')
  assert.equal(json.code, 0, json.stderr)
  const result = JSON.parse(json.stdout)
  assert.deepEqual(result.shape, [16, 16, 16])
  assert.equal(result.predictions.length, 5)

  const out = join(root, 'conv3.npy')
  const npy = await convscope('activations', '--model', cnn.dir, '--image', image, '--layer', 'conv3', '--npy', out)
  assert.equal(npy.code, 0, npy.stderr)
  const array = await readNpy(out)
  assert.deepEqual(array.shape, [16, 16, 16])
  const values = array.data as Float32Array
  for (const c of result.channels) {
    let max = -Infinity
    let at = -1
    for (let i = 0; i < 16 * 16; i++) {
      if (values[i * 16 + c.channel] > max) {
        max = values[i * 16 + c.channel]
        at = i
      }
    }
    assert.ok(Math.abs(max - c.max) < 1e-6, `channel ${c.channel}: max ${c.max} vs array ${max}`)
    assert.deepEqual([c.y, c.x], [Math.floor(at / 16), at % 16])
  }
})

test('bad input ends with one line naming the problem, never a stack trace', async () => {
  const missing = await convscope('info', join(root, 'nowhere'))
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /convscope info: .*not found.*nowhere/i)
  assert.doesNotMatch(missing.stderr, /\n\s+at /)

  const badLayer = await convscope('activations', '--model', cnn.dir, '--image', image, '--layer', 'nope')
  assert.equal(badLayer.code, 2)
  assert.match(badLayer.stderr, /no layer "nope"/)

  const notImage = await convscope('activations', '--model', cnn.dir, '--image', cnn.modelJson, '--layer', 'conv1')
  assert.equal(notImage.code, 1)
  assert.match(notImage.stderr, /model\.json.*not an image/)

  const unknown = await convscope('frobnicate')
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /unknown command "frobnicate"/)
})

test('the backend line only with --verbose, or from info: an error is the only line a failing command prints', async () => {
  const badLayer = await convscope('activations', '--model', cnn.dir, '--image', image, '--layer', 'nope')
  assert.equal(badLayer.code, 2)
  assert.deepEqual(badLayer.stderr.trim().split('\n'), [badLayer.stderr.trim()], 'one line')
  assert.doesNotMatch(badLayer.stderr, /backend/)

  const verbose = await convscope('activations', '--model', cnn.dir, '--image', image, '--layer', 'nope', '--verbose')
  assert.equal(verbose.code, 2)
  assert.match(verbose.stderr, /^convscope: backend cpu\b.*\n.*no layer "nope"/)

  const info = await convscope('info', cnn.dir)
  assert.equal(info.code, 0)
  assert.match(info.stderr, /^convscope: backend cpu\b/)
  const json = await convscope('info', cnn.dir, '--json')
  assert.doesNotMatch(json.stderr, /backend/)
})
