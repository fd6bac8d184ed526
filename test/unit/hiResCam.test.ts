/**
 * HiResCAM is right, not just plausible:
 * - on the demo gap network at conv_last it is CAM / (h·w) element-wise (∂logit_c/∂A = w_c / (h·w) there);
 * - on the golden network with a skip connection around its conv2 it is Σ_k (∂logit_c/∂A_k ⊙ A_k) computed
 *   here class by class from tf.grad (no tiling), at both map layers.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { initBackend } from '../../src/main/engine/backend'
import type { LoadedModel } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { classLogits, mapMethod } from '../../src/main/engine/maps'
import { maxAbs, relativeDiff } from '../fixtures/numeric'

const ROOT = join(import.meta.dirname, '../..')
let gap: LoadedModel
let net: LoadedModel

before(async () => {
  await initBackend({ forced: 'wasm' })
  gap = await loadModel(join(ROOT, 'resources/demo-models/gap'))
  net = await loadModel(join(ROOT, 'test/golden/gradcam-net'))
})
after(() => {
  gap?.dispose()
  net?.dispose()
})

test('HiResCAM at conv_last of the gap network is CAM / (h·w) element-wise, every class', async () => {
  const x = tf.randomUniform([1, ...gap.info.inputShape] as [number, number, number, number], 0, 1, 'float32', 11) as tf.Tensor4D
  const classes = Array.from({ length: 14 }, (_, i) => i)
  const hires = await mapMethod('hirescam').compute(gap, x, classes, { layer: 'conv_last' })
  // HiResCAM runs on tfjs (gradients); CAM on the same executor, so both explain the same float logit.
  process.env.CONVSCOPE_EXECUTOR = 'tfjs'
  const cams = await mapMethod('cam').compute(gap, x, classes).finally(() => delete process.env.CONVSCOPE_EXECUTOR)
  x.dispose()
  assert.equal(hires.layer, 'conv_last')
  for (const [i, m] of hires.maps.entries()) {
    const cam = cams.maps[i]!
    const cells = cam.height * cam.width
    assert.deepEqual([m.height, m.width], [cam.height, cam.width])
    assert.ok(Math.abs(m.score - cam.score) < 1e-5, 'the same logit')
    const expected = cam.values.map((v) => v / cells)
    const d = relativeDiff(m.values, expected)
    assert.ok(d < 1e-5, `class ${m.classIndex}: relative difference ${d}`)
  }
  assert.ok(hires.maps.some((m) => m.values.some((v) => v < 0)), 'signed maps: no ReLU')
})

test('HiResCAM on the skip-connection network is Σ_k ∂logit_c/∂A_k ⊙ A_k from tf.grad, class by class, at conv2 and relu3', async () => {
  const x = tf.randomUniform([1, 16, 16, 3], 0, 1, 'float32', 4) as tf.Tensor4D
  const classes = [0, 1, 2, 3, 4]
  for (const layer of ['conv2', 'relu3']) {
    const { maps } = await mapMethod('hirescam').compute(net, x, classes, { layer })
    const [activations] = net.forward(x, [layer])
    for (const m of maps) {
      const logit = (a: tf.Tensor) => classLogits(net, x, { replace: { layer, value: a } }).slice([0, m.classIndex], [1, 1]).sum() as tf.Scalar
      const expected = tf.tidy(() => tf.grad(logit)(activations!).mul(activations!).sum(3))
      assert.deepEqual([m.height, m.width], expected.shape.slice(1))
      const want = expected.dataSync()
      expected.dispose()
      const d = relativeDiff(m.values, want)
      assert.ok(d < 1e-5, `${layer} class ${m.classIndex}: relative difference ${d}`)
      assert.ok(maxAbs(want) > 0)
    }
    activations!.dispose()
  }
  x.dispose()
})
