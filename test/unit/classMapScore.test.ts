/**
 * Class maps of the probability (issue 12's class target in the Classes view): checked by an identity, not by
 * the same code path. HiResCAM is linear in the gradient, and d p_c / d A = p_c (d z_c / d A − Σ_j p_j d z_j / d A),
 * so its probability map must equal p_c (M_c − Σ_j p_j M_j) built from the logit maps of every class. Methods whose
 * definition rests on the logit (CAM, Grad-CAM++) refuse the probability, and getMapMethods says which score each takes.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import * as tf from '@tensorflow/tfjs'
import { initBackend } from '../../src/main/engine/backend'
import type { LoadedModel } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { camCommand } from '../../src/main/cli/camCommand'
import { runCli } from '../fixtures/cli'
import { classLogits, describeMapMethod, MAP_METHOD_LIST, mapMethod } from '../../src/main/engine/maps'

const ROOT = join(import.meta.dirname, '../..')
let gap: LoadedModel

before(async () => {
  await initBackend({ forced: 'wasm' })
  gap = await loadModel(join(ROOT, 'resources/demo-models/gap'))
})
after(() => gap?.dispose())

test('HiResCAM of the probability = p_c (M_c − Σ_j p_j M_j) from the logit maps of every class', async () => {
  const x = tf.randomUniform([1, ...gap.info.inputShape] as [number, number, number, number], 0, 1, 'float32', 3).mul(0.1).add(0.45) as tf.Tensor4D // near grey: logits of a few units, probabilities not saturated
  const logits = classLogits(gap, x)
  const p = Array.from(await tf.softmax(logits).data())
  logits.dispose()
  const all = Array.from({ length: p.length }, (_, i) => i)
  const method = mapMethod('hirescam')
  const logitMaps = (await method.compute(gap, x, all, { layer: 'conv_last' })).maps
  // the two most probable classes: elsewhere p_c rounds to 0 in float32 and so does the map
  const chosen = [...all].sort((a, b) => p[b]! - p[a]!).slice(0, 2)
  const probMaps = (await method.compute(gap, x, chosen, { layer: 'conv_last', score: 'probability' })).maps
  x.dispose()
  const size = logitMaps[0]!.values.length
  const mixed = new Float64Array(size)
  for (const [j, m] of logitMaps.entries()) for (let i = 0; i < size; i++) mixed[i]! += p[j]! * m.values[i]!
  for (const [n, c] of chosen.entries()) {
    const got = probMaps[n]!.values
    const want = Array.from({ length: size }, (_, i) => p[c]! * (logitMaps[c]!.values[i]! - mixed[i]!))
    const peak = Math.max(...want.map(Math.abs))
    assert.ok(peak > 0, 'a non-zero map')
    const worst = Math.max(...want.map((w, i) => Math.abs(w - got[i]!)))
    assert.ok(worst <= 1e-4 * peak, `class ${c}: worst ${worst} of peak ${peak}`)
    // and it is not the logit's map scaled: the other classes' term matters
    const logitPeak = Math.max(...Array.from(logitMaps[c]!.values, Math.abs))
    assert.ok(Math.max(...Array.from(logitMaps[c]!.values, (v, i) => Math.abs(p[c]! * v - got[i]!))) > 1e-3 * logitPeak)
  }
})

test('CAM and Grad-CAM++ refuse the probability, naming why; getMapMethods lists each method\'s scores', async () => {
  const x = tf.zeros([1, ...gap.info.inputShape]) as tf.Tensor4D
  await assert.rejects(mapMethod('gradcampp').compute(gap, x, [0], { score: 'probability' }), /Grad-CAM\+\+ explains the logit only, not the probability/)
  x.dispose()
  const described = Object.fromEntries(MAP_METHOD_LIST.map((m) => [m.name, describeMapMethod(m, gap).scores]))
  assert.deepEqual(described, { cam: ['logit'], gradcam: ['logit', 'probability'], gradcampp: ['logit'], backprop: ['logit', 'probability'], hirescam: ['logit', 'probability'] })
})

test('convscope cam --score probability: maps of the probability; CAM refuses it with the reason', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'convscope-cam-score-'))
  try {
    const image = join(dir, 'grey.png')
    await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 120, g: 130, b: 140 } } }).png().toFile(image)
    const model = join(ROOT, 'resources/demo-models/gap')
    const ok = await runCli(camCommand, ['--model', model, '--image', image, '--method', 'gradcam', '--score', 'probability', '--top', '2', '--out', dir, '--json', '--backend', 'wasm'])
    assert.equal(ok.code, 0, ok.err)
    assert.equal((JSON.parse(ok.out) as { classes: unknown[] }).classes.length, 2)
    await assert.rejects(runCli(camCommand, ['--model', model, '--image', image, '--score', 'probability', '--out', dir, '--backend', 'wasm']), /CAM explains the logit only, not the probability/)
    await assert.rejects(runCli(camCommand, ['--model', model, '--image', image, '--score', 'prob', '--out', dir, '--backend', 'wasm']), /--score must be logit or probability/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
