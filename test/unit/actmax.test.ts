/**
 * Activation maximization (issue 12): the Fourier image's inverse transform against the textbook inverse DFT (a
 * direct loop over the Hermitian-extended spectrum), the transform's resample and its hand-written gradient against
 * tfjs's own gather gradient, the regularizers, and the loop on the demo gap network with few steps: seeded
 * reproducibility, a rising objective, a dead unit leaving zero (redirected ReLUs); startActmax's cache, progress
 * with previews, cancel and refused settings; the CLI's --json / --png / --npy.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import sharp from 'sharp'
import { ActmaxSettings, ConvscopeError, StartActmax, type Progress, type TargetInput } from '../../src/shared/api'
import { initBackend } from '../../src/main/engine/backend'
import type { LoadedModel } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { planTarget } from '../../src/main/engine/targets'
import { Target } from '../../src/shared/api'
import { maximize, preprocessing } from '../../src/main/engine/optimizers/actmax'
import { normalize } from '../../src/main/engine/images/preprocess'
import { mobileNetV2Layers } from '../helpers/mobileNetV2Layers'
import { inverseRealFft2d } from '../../src/main/engine/optimizers/fourier'
import { IDENTITY, transformImages, type Affine } from '../../src/main/engine/optimizers/transforms'
import { gaussianBlur } from '../../src/main/engine/optimizers/regularizers'
import { startActmax } from '../../src/main/engine/methods/neurons/actmax'
import { actmaxCommand } from '../../src/main/cli/actmaxCommand'
import { main } from '../../src/main/cli'
import { readNpy } from '../../src/main/engine/store/npy'
import { runCli } from '../fixtures/cli'

const ROOT = join(import.meta.dirname, '../..')
const GAP_DIR = join(ROOT, 'resources/demo-models/gap')
let gap: LoadedModel
let workspace: string

before(async () => {
  await initBackend({ forced: 'wasm' })
  gap = await loadModel(GAP_DIR)
  workspace = await mkdtemp(join(tmpdir(), 'convscope-actmax-'))
})
after(async () => {
  gap?.dispose()
  await rm(workspace, { recursive: true, force: true })
})

/** Few steps on a small image (resampled up to the 64² input). */
const quick = (over: Partial<ActmaxSettings> = {}): ActmaxSettings => ActmaxSettings.parse({ steps: 6, size: 24, previewEvery: 0, ...over })
const plan = (target: TargetInput) => planTarget(gap, Target.parse(target))
const CLASS_6: TargetInput = { kind: 'class', class: 6 }

test('the Fourier image inverse-transforms its spectrum as the textbook inverse real DFT does (odd and even sizes)', async () => {
  for (const size of [6, 7]) {
    const columns = Math.floor(size / 2) + 1
    const re = Float64Array.from({ length: size * columns }, (_, i) => Math.sin(1.7 * i + 0.3))
    const im = Float64Array.from({ length: size * columns }, (_, i) => Math.cos(0.9 * i - 1.1))
    const got = inverseRealFft2d(tf.tensor3d(Float32Array.from(re), [1, size, columns]), tf.tensor3d(Float32Array.from(im), [1, size, columns]), size)
    const values = await got.data()
    got.dispose()
    // Full spectrum by Hermitian symmetry X[ky, kx] = conj(X[-ky, -kx]); the half-spectrum's own DC and Nyquist
    // columns count as given, their mirror images as the symmetry makes them (what irfft2d reads).
    const at = (ky: number, kx: number): [number, number] => {
      if (kx < columns) return [re[ky * columns + kx]!, im[ky * columns + kx]!]
      const my = (size - ky) % size
      const mx = size - kx
      return [re[my * columns + mx]!, -im[my * columns + mx]!]
    }
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        let sum = 0
        for (let ky = 0; ky < size; ky++) {
          for (let kx = 0; kx < size; kx++) {
            // irfft2d: the inverse over y of full columns, then the real inverse over x, which takes the real part of
            // the DC (and even-size Nyquist) column after the y pass; the direct sum's real part is that.
            const [a, b] = at(ky, kx)
            const phase = 2 * Math.PI * ((ky * y) / size + (kx * x) / size)
            sum += a * Math.cos(phase) - b * Math.sin(phase)
          }
        }
        const want = sum / (size * size)
        assert.ok(Math.abs(values[y * size + x]! - want) < 1e-5, `size ${size} (${y}, ${x}): ${values[y * size + x]} vs ${want}`)
      }
    }
  }
})

test('transforms: the identity returns the images; the resample gradient equals tfjs gather autograd', async () => {
  const x = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 3) as tf.Tensor4D
  const same = transformImages(x, [IDENTITY, IDENTITY], 8, 8)
  assert.deepEqual(Array.from(await same.data()), Array.from(await x.data()))
  const affines: Affine[] = [
    { scale: 1.05, angle: 0.1, dx: 2, dy: -1 },
    { scale: 0.95, angle: -0.2, dx: -3, dy: 0 },
  ]
  const weights = tf.randomNormal([2, 10, 10, 3], 0, 1, 'float32', 4)
  const ours = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(transformImages(v as tf.Tensor4D, affines, 10, 10), weights)))(x)
  // The same bilinear sampling written with plain ops (tfjs's own gather gradient): four corners per output pixel.
  const plain = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(plainResample(v as tf.Tensor4D, affines, 10, 10), weights)))(x)
  const [a, b] = [await ours.data(), await plain.data()]
  a.forEach((value, i) => assert.ok(Math.abs(value - b[i]!) < 1e-5, `${i}: ${value} vs ${b[i]}`))
  assert.ok(a.some((v) => v !== 0))
  tf.dispose([x, same, weights, ours, plain])
})

/** Bilinear sampling, source = centre + R(θ)·offset / scale + shift, mid-grey outside: one output pixel at a time. */
function plainResample(x: tf.Tensor4D, affines: Affine[], outH: number, outW: number): tf.Tensor4D {
  const [n, h, w] = x.shape
  const images = affines.map((a, i) => {
    const rows = tf.concat([x.slice([i, 0, 0, 0], [1, h, w, 3]).reshape([h * w, 3]), tf.fill([1, 3], 0.5)])
    const pixels: tf.Tensor[] = []
    for (let v = 0; v < outH; v++) {
      for (let u = 0; u < outW; u++) {
        const ox = ((u + 0.5) * w) / outW - w / 2
        const oy = ((v + 0.5) * h) / outH - h / 2
        const sx = (Math.cos(a.angle) * ox - Math.sin(a.angle) * oy) / a.scale + w / 2 - 0.5 + a.dx
        const sy = (Math.sin(a.angle) * ox + Math.cos(a.angle) * oy) / a.scale + h / 2 - 0.5 + a.dy
        const [x0, y0] = [Math.floor(sx), Math.floor(sy)]
        let pixel: tf.Tensor = tf.zeros([3])
        for (const [cy, cx, wgt] of [
          [y0, x0, (1 - (sy - y0)) * (1 - (sx - x0))],
          [y0, x0 + 1, (1 - (sy - y0)) * (sx - x0)],
          [y0 + 1, x0, (sy - y0) * (1 - (sx - x0))],
          [y0 + 1, x0 + 1, (sy - y0) * (sx - x0)],
        ] as const) {
          const row = cy >= 0 && cy < h && cx >= 0 && cx < w ? cy * w + cx : h * w
          pixel = tf.add(pixel, tf.mul(tf.gather(rows, tf.tensor1d([row], 'int32')).reshape([3]), wgt))
        }
        pixels.push(pixel)
      }
    }
    return tf.stack(pixels).reshape([outH, outW, 3])
  })
  assert.equal(images.length, n)
  return tf.stack(images) as tf.Tensor4D
}

test('Gaussian blur keeps a constant image and the mean of any image (reflected edges, normalised taps)', async () => {
  const flat = tf.fill([1, 9, 9, 3], 0.25) as tf.Tensor4D
  const blurred = gaussianBlur(flat, 1)
  for (const v of await blurred.data()) assert.ok(Math.abs(v - 0.25) < 1e-6)
  const noise = tf.randomUniform([1, 9, 9, 3], 0, 1, 'float32', 9) as tf.Tensor4D
  const smooth = gaussianBlur(noise, 0.8)
  const spread = (t: tf.Tensor) => tf.moments(t).variance.dataSync()[0]!
  assert.ok(spread(smooth) < spread(noise))
  tf.dispose([flat, blurred, noise, smooth])
})

test('seeded: the same seed and settings give identical images; another seed other images; no tensor is left behind', async () => {
  const before = tf.memory().numTensors
  const a = await maximize(gap, plan(CLASS_6), quick({ seed: 3 }))
  const b = await maximize(gap, plan(CLASS_6), quick({ seed: 3 }))
  const c = await maximize(gap, plan(CLASS_6), quick({ seed: 4 }))
  assert.deepEqual(a.images[0]!.rgb, b.images[0]!.rgb)
  assert.deepEqual(a.objective, b.objective)
  assert.notDeepEqual(a.images[0]!.rgb, c.images[0]!.rgb)
  assert.equal(a.images[0]!.rgb.length, 24 * 24 * 3)
  assert.ok(a.images[0]!.rgb.every((v) => v >= 0 && v <= 1))
  const pixels = await maximize(gap, plan(CLASS_6), quick({ parameterization: 'pixel', blurEvery: 2, clipPixelsPercentile: 10, clipContributionsPercentile: 10, l2Decay: 0.01 }))
  const again = await maximize(gap, plan(CLASS_6), quick({ parameterization: 'pixel', blurEvery: 2, clipPixelsPercentile: 10, clipContributionsPercentile: 10, l2Decay: 0.01 }))
  assert.deepEqual(pixels.images[0]!.rgb, again.images[0]!.rgb)
  assert.equal(tf.memory().numTensors, before)
})

test('the objective rises: a class logit and a unit, both parameterizations; a unit dead on the grey start leaves zero', async () => {
  for (const parameterization of ['fourier', 'pixel'] as const) {
    const run = await maximize(gap, plan(CLASS_6), quick({ steps: 16, learningRate: 0.2, parameterization }))
    const o = run.objective
    assert.ok(o.at(-1)! > o[0]! + 1, `${parameterization}: ${o[0]} → ${o.at(-1)}`)
    assert.ok(run.images[0]!.value > o[0]!, `${parameterization}: final value ${run.images[0]!.value}`)
  }
  // conv_last channel 0 is 0 everywhere on a grey image (its pre-activation is −1.24): plain gradients would stay 0.
  const grey = tf.fill([1, 64, 64, 3], 0.5) as tf.Tensor4D
  const [out] = gap.forward(grey, ['conv_last'])
  assert.equal((await tf.max(out!.slice([0, 0, 0, 0], [1, -1, -1, 1])).data())[0], 0)
  tf.dispose([grey, out!])
  const dead = await maximize(gap, plan({ kind: 'unit', layer: 'conv_last', channel: 0 }), quick({ steps: 16, size: 64 }))
  assert.ok(dead.images[0]!.value > 0, `value ${dead.images[0]!.value}`)
})

test('startActmax: progress counts steps with previews, the second call is the cache, cancel stops between steps', async () => {
  const params = StartActmax.parse({ modelId: gap.info.id, target: CLASS_6, settings: { steps: 8, size: 24, images: 2, previewEvery: 4 } })
  const events: Progress[] = []
  const ctx = { progress: (p: Progress) => events.push(p), signal: new AbortController().signal }
  const first = await startActmax(workspace, gap, params, ctx)
  assert.equal(first.cached, false)
  assert.deepEqual(events.map((e) => e.done), [1, 2, 3, 4, 5, 6, 7, 8])
  assert.ok(events.every((e) => e.total === 8 && e.unit === 'steps'))
  assert.deepEqual(events.map((e) => e.image !== undefined), [false, false, false, true, false, false, false, true])
  const preview = Buffer.from(events[3]!.image!.replace(/^data:image\/png;base64,/, ''), 'base64')
  const meta = await sharp(preview).metadata()
  assert.deepEqual([meta.width, meta.height], [2 * 24 + 2, 24])
  assert.equal(first.images.length, 2)
  assert.equal(first.objective.length, 8)
  assert.match(first.target.description, /^class 6 \(gold star\) logit$/)
  const second = await startActmax(workspace, gap, params, { progress: () => assert.fail('a cached run reports no progress'), signal: ctx.signal })
  assert.equal(second.cached, true)
  assert.deepEqual(second.images, first.images)
  assert.deepEqual(second.objective, first.objective)
  // Another setting is another run.
  const other = await startActmax(workspace, gap, { ...params, settings: { ...params.settings, seed: 1 } }, { progress: () => {}, signal: ctx.signal })
  assert.equal(other.cached, false)
  assert.equal((await readdir(join(workspace, 'actmax'))).length, 2)

  const abort = new AbortController()
  const steps: number[] = []
  const cancelled = startActmax(workspace, gap, { ...params, settings: { ...params.settings, steps: 50 } }, {
    progress: (p) => {
      steps.push(p.done)
      if (p.done === 2) abort.abort()
    },
    signal: abort.signal,
  })
  await assert.rejects(cancelled, (e: unknown) => e instanceof ConvscopeError && e.code === 'CANCELLED')
  assert.deepEqual(steps, [1, 2])
  assert.equal((await readdir(join(workspace, 'actmax'))).length, 2)
})

test('the preprocessing inside the objective is images/preprocess.ts normalize (BGR, range, mean, std)', async () => {
  const pre = { channelOrder: 'BGR' as const, range: [-1, 2] as [number, number], mean: [0.1, 0.2, 0.3] as [number, number, number], std: [0.5, 2, 4] as [number, number, number] }
  const bytes = Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => (i * 37) % 256)
  const want = normalize(bytes, pre)
  const rgb = tf.tensor4d(Float32Array.from(bytes, (b) => b / 255), [1, 4, 4, 3])
  const got = preprocessing(pre)(rgb)
  const values = await got.data()
  want.forEach((w, i) => assert.ok(Math.abs(values[i]! - w) < 1e-5, `${i}: ${values[i]} vs ${w}`))
  tf.dispose([rgb, got])
})

test('a third-party-like MobileNetV2 (ReLU6, depthwise, residual adds): the objective of a class and a unit rises', async () => {
  const net = await loadModel(await mobileNetV2Layers(join(workspace, 'mobilenetv2'), { size: 32, alpha: 0.35, blocks: 4, classes: 5, seed: 2 }))
  try {
    for (const target of [{ kind: 'class', class: 2 }, { kind: 'unit', layer: 'block_2_add', channel: 3 }] as TargetInput[]) {
      const run = await maximize(net, planTarget(net, Target.parse(target)), quick({ steps: 8, size: 32, learningRate: 0.3 }))
      assert.ok(run.objective.at(-1)! > run.objective[0]!, `${JSON.stringify(target)}: ${run.objective.join(' ')}`)
    }
  } finally {
    net.dispose()
  }
})

test('diversity: two images pushed apart score a lower Gram similarity than without the term', async () => {
  const gram = async (rgb: Float32Array[]) => {
    const x = tf.image.resizeBilinear(tf.tensor4d(Float32Array.from(rgb.flatMap((r) => Array.from(r))), [2, 24, 24, 3]), [64, 64])
    const [out] = gap.forward(x as tf.Tensor4D, ['conv_last'])
    const flat = out!.reshape([2, -1, out!.shape[3]!])
    const g = tf.matMul(flat, flat, true, false).reshape([2, -1])
    const unit = tf.div(g, tf.norm(g, 'euclidean', 1, true))
    const cos = (await tf.sum(tf.mul(unit.slice([0, 0], [1, -1]), unit.slice([1, 0], [1, -1]))).data())[0]!
    tf.dispose([x, out!, flat, g, unit])
    return cos
  }
  const unit: TargetInput = { kind: 'unit', layer: 'conv_last', channel: 5 }
  const plain = await maximize(gap, plan(unit), quick({ steps: 12, images: 2, learningRate: 0.3 }))
  const apart = await maximize(gap, plan(unit), quick({ steps: 12, images: 2, learningRate: 0.3, diversity: 100 }))
  const [same, diverse] = [await gram(plain.images.map((m) => m.rgb)), await gram(apart.images.map((m) => m.rgb))]
  assert.ok(diverse < same, `cosine ${diverse} with the term, ${same} without`)
})

test('settings that cannot run are refused, naming why', async () => {
  const refused = async (target: TargetInput, settings: Partial<ActmaxSettings>, message: RegExp) =>
    assert.rejects(maximize(gap, plan(target), quick(settings)), (e: unknown) => e instanceof ConvscopeError && e.code === 'BAD_REQUEST' && message.test(e.message))
  await refused(CLASS_6, { blurEvery: 4 }, /blurEvery act on pixels between steps: use parameterization "pixel"/)
  await refused(CLASS_6, { clipPixelsPercentile: 5 }, /clipPixelsPercentile act on pixels/)
  await refused(CLASS_6, { diversity: 1 }, /diversity pushes several images apart: set images ≥ 2/)
  await refused(CLASS_6, { l2Decay: 1 }, /l2Decay must be below 1/)
  await refused(CLASS_6, { scales: [] }, /scales needs at least one scale/)
  assert.throws(() => ActmaxSettings.parse({ steps: 0 }))
})

test('convscope actmax: --json, --png side by side for --class A,B, --npy of the float images; bad flags exit 2', async () => {
  const png = join(workspace, 'cli', 'classes.png')
  const npy = join(workspace, 'cli', 'classes.npy')
  const { code, out, err } = await runCli(actmaxCommand, ['--model', GAP_DIR, '--class', '6,red heart', '--steps', '4', '--size', '20', '--json', '--png', png, '--npy', npy])
  assert.equal(code, 0, err)
  const json = JSON.parse(out)
  assert.deepEqual(json.runs.map((r: { target: string }) => r.target), ['class 6 (gold star) logit', 'class 10 (red heart) logit'])
  assert.equal(json.runs[0].objective.length, 4)
  assert.equal(json.settings.steps, 4)
  const meta = await sharp(png).metadata()
  assert.deepEqual([meta.width, meta.height], [2 * 20 + 4, 20])
  const saved = await readNpy(npy)
  assert.deepEqual(saved.shape, [2, 20, 20, 3])
  // The same flags again: the same images (seeded).
  const again = await runCli(actmaxCommand, ['--model', GAP_DIR, '--class', '6', '--steps', '4', '--size', '20', '--json', '--png', png, '--scale', '3'])
  assert.deepEqual(JSON.parse(again.out).runs[0].values, json.runs[0].values)
  const scaled = await sharp(png).metadata()
  assert.deepEqual([scaled.width, scaled.height], [60, 60])

  const convscope = { run: (args: string[]) => main(['actmax', ...args]) }
  const steps = await runCli(convscope, ['--model', GAP_DIR, '--class', '6', '--steps', 'many'])
  assert.equal(steps.code, 2)
  assert.match(steps.err, /--steps must be a number, got "many"/)
  const blur = await runCli(convscope, ['--model', GAP_DIR, '--unit', 'conv_last:3', '--steps', '2', '--blur-every', '2'])
  assert.equal(blur.code, 2)
  assert.match(blur.err, /use parameterization "pixel"/)
  const param = await runCli(convscope, ['--model', GAP_DIR, '--class', '6', '--param', 'wavelet'])
  assert.equal(param.code, 2)
  assert.match(param.err, /--param: /)
})
