/**
 * Occlusion (issue 12 item 4, engine/occlusion): the positions and the refused sizes; the batched pass equals a
 * direct loop (one copy per forward, targetScores on tfjs, copies made here) on both forward executors, on TF.js
 * layers, TF graph and ONNX models (MobileNetV2 with ReLU6 among them); the
 * PyTorch reference of the same semantics (scripts/reference/occlusion_reference.py → test/golden/
 * occlusion-reference.json: gradcam-net and the demo gap network, every fill and kind of target) to 1e-4;
 * progress per batch and cancel between batches; getOcclusion through the engine on a demo image; the CLI's
 * --json, --npy and --png.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import sharp from 'sharp'
import { ConvscopeError, parseResult, Target, type ModelInfo, type Progress } from '../../src/shared/api'
import { initBackend } from '../../src/main/engine/backend'
import type { JobContext } from '../../src/main/engine/context'
import { DEMO_CLASSES, generateDemoDataset } from '../../src/main/engine/demo'
import { createEngine, type EngineService } from '../../src/main/engine/engine'
import type { LoadedModel } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { gaussianBlur } from '../../src/main/engine/occlusion/blur'
import { occlusionGrid } from '../../src/main/engine/occlusion/grid'
import { gridToInput, MIN_SIDE } from '../../src/main/engine/occlusion/occlusionImage'
import { occlusionMap, type OcclusionRequest } from '../../src/main/engine/occlusion/occlusionMap'
import { readNpy } from '../../src/main/engine/store/npy'
import { planTarget, targetScores, type TargetPlan } from '../../src/main/engine/targets'
import { main } from '../../src/main/cli'
import { occlusionCommand } from '../../src/main/cli/occlusionCommand'
import { runCli } from '../fixtures/cli'
import { makeTinyGraphModel } from '../fixtures/models'
import { mobileNetV2Layers } from '../helpers/mobileNetV2Layers'
import { relativeDiff } from '../fixtures/numeric'

const ROOT = join(import.meta.dirname, '../..')
const GAP_DIR = join(ROOT, 'resources/demo-models/gap')

interface GoldenMap {
  target: unknown
  fill: OcclusionRequest['fill']
  size: number
  stride: number
  rows: number
  cols: number
  value: number
  values: number[]
}
interface GoldenNetwork {
  model: 'gradcam-net' | 'gap'
  input: { kind: 'values'; shape: [number, number, 3]; values: number[] } | { kind: 'pixels'; shape: [number, number, 3]; pixels: number[] }
  maps: GoldenMap[]
}
const golden = JSON.parse(readFileSync(join(ROOT, 'test/golden/occlusion-reference.json'), 'utf8')) as { networks: GoldenNetwork[] }

/** A network's golden input as preprocessed values (the gap sidecar: range [0, 1], no mean / std). */
const goldenInput = (n: GoldenNetwork) => ({ shape: n.input.shape, data: n.input.kind === 'values' ? Float32Array.from(n.input.values) : Float32Array.from(n.input.pixels, (v) => v / 255) })

let models: Record<GoldenNetwork['model'], LoadedModel>
let root: string

before(async () => {
  await initBackend({ forced: 'wasm' })
  models = { 'gradcam-net': await loadModel(join(ROOT, 'test/golden/gradcam-net')), gap: await loadModel(GAP_DIR) }
  root = await mkdtemp(join(tmpdir(), 'convscope-occlusion-'))
})
after(async () => {
  Object.values(models ?? {}).forEach((m) => m.dispose())
  await rm(root, { recursive: true, force: true })
})

/**
 * The direct loop (one copy per forward, the square filled with `colour` here, targetScores on tfjs: each copy's own
 * max for a unit at 'max') against the batched pass on both executors.
 */
async function batchedEqualsLoop(model: LoadedModel, input: { data: Float32Array; shape: readonly [number, number, 3] }, plan: TargetPlan, size: number, stride: number, fill: OcclusionRequest['fill'], colour: number[], batch: number): Promise<void> {
  const [H, W] = input.shape
  const rows = Math.floor((H - size) / stride) + 1
  const cols = Math.floor((W - size) / stride) + 1
  const loop: number[] = []
  for (let r = 0; r < rows; r++) {
    for (let col = 0; col < cols; col++) {
      const copy = Float32Array.from(input.data)
      for (let y = r * stride; y < r * stride + size; y++) for (let x = col * stride; x < col * stride + size; x++) for (let k = 0; k < 3; k++) copy[(y * W + x) * 3 + k] = colour[k]!
      const s = tf.tidy(() => targetScores(model, tf.tensor4d(copy, [1, H, W, 3]), plan))
      loop.push((await s.data())[0]!)
      s.dispose()
    }
  }
  for (const executor of ['tfjs', 'onnxruntime'] as const) {
    const r = await occlusionMap(model, input, plan, { size, stride, fill, batch, executor })
    assert.equal(r.executor.startsWith(executor), true, r.executor)
    assert.deepEqual([r.grid.rows, r.grid.cols], [rows, cols])
    assert.ok(relativeDiff(r.values, loop) < 1e-5, `${model.info.name} ${plan.description} on ${executor}: ${relativeDiff(r.values, loop)}`)
  }
}

const quiet = (onProgress: (p: Progress) => void = () => {}, controller = new AbortController()): JobContext => ({ progress: onProgress, signal: controller.signal })

test('positions: rows = ⌊(H − size) / stride⌋ + 1 (no partial last position); a square larger than the input is refused', async () => {
  assert.deepEqual(occlusionGrid(16, 16, 5, 3), { size: 5, stride: 3, height: 16, width: 16, rows: 4, cols: 4 })
  assert.deepEqual(occlusionGrid(64, 48, 8, 8), { size: 8, stride: 8, height: 64, width: 48, rows: 8, cols: 6 })
  assert.equal(occlusionGrid(16, 16, 16, 1).rows, 1)
  assert.throws(() => occlusionGrid(16, 16, 17, 1), (e: unknown) => e instanceof ConvscopeError && e.code === 'BAD_REQUEST' && /does not fit the 16×16 network input/.test(e.message))
  assert.throws(() => occlusionGrid(16, 16, 4, 0), /stride must be a whole number/)
  const net = golden.networks[0]!
  const plan = planTarget(models['gradcam-net'], Target.parse({ kind: 'class', class: 0 }))
  await assert.rejects(occlusionMap(models['gradcam-net'], goldenInput(net), plan, { size: 20, stride: 2, fill: 'grey', batch: 8 }), /does not fit/)
})

test('the batched pass equals a direct loop (one copy per forward, targetScores on tfjs) on both executors', async () => {
  const model = models['gradcam-net']
  const input = goldenInput(golden.networks[0]!)
  const [H, W] = input.shape
  const cases = [
    { target: { kind: 'class', class: 1, score: 'probability' }, fill: 'grey', size: 4, stride: 2 },
    { target: { kind: 'unit', layer: 'conv2', channel: 5 }, fill: 'mean', size: 5, stride: 3 },
    { target: { kind: 'unit', layer: 'relu3', channel: 2, at: { y: 4, x: 1 } }, fill: 'grey', size: 3, stride: 4 },
  ] as const
  for (const c of cases) {
    const plan = planTarget(model, Target.parse(c.target))
    // The fill by hand: mid-grey is 128 / 255 in this [0, 1] model; the mean is the input's per channel.
    const colour = c.fill === 'grey' ? [128 / 255, 128 / 255, 128 / 255] : [0, 1, 2].map((k) => input.data.filter((_, i) => i % 3 === k).reduce((a, b) => a + b, 0) / (H * W))
    await batchedEqualsLoop(model, input, plan, c.size, c.stride, c.fill, colour, 5)
  }
})

test('other formats: a TF graph model, an ONNX model and a third-party-like MobileNetV2 (ReLU6): batched = the direct loop', async () => {
  const graph = await makeTinyGraphModel(join(root, 'graph'))
  const mobileNet = await mobileNetV2Layers(join(root, 'mobilenet'), { size: 32, alpha: 0.35, blocks: 3, classes: 5 })
  const cases = [
    { path: graph.dir, target: { kind: 'unit', layer: graph.rows.conv2, channel: 3 }, size: 8, stride: 8 },
    { path: join(ROOT, 'test/fixtures/onnx/tiny_cnn.onnx'), target: { kind: 'class', class: 1, score: 'probability' }, size: 56, stride: 56 },
    { path: mobileNet, target: { kind: 'class', class: 1, score: 'probability' }, size: 8, stride: 6 },
  ]
  for (const c of cases) {
    const model = await loadModel(c.path)
    try {
      const [H, W] = model.info.inputShape as [number, number, number]
      const input = { shape: [H, W, 3] as const, data: Float32Array.from({ length: H * W * 3 }, (_, i) => ((i * 7919) % 255) / 255) }
      const grey = [0, 1, 2].map(() => 128 / 255) // these models take [0, 1] RGB (no sidecar: the defaults)
      assert.deepEqual(model.info.preprocessing.range, [0, 1])
      await batchedEqualsLoop(model, input, planTarget(model, Target.parse(c.target)), c.size, c.stride, 'grey', grey, 3)
    } finally {
      model.dispose()
    }
  }
})

test('PyTorch reference of the same semantics: every fill, class logit / probability, unit max / position / mean / vector layer, direction; to 1e-4', async () => {
  for (const net of golden.networks) {
    const model = models[net.model]
    for (const m of net.maps) {
      const what = `${net.model} ${JSON.stringify(m.target)} ${m.fill} ${m.size}/${m.stride}`
      const r = await occlusionMap(model, goldenInput(net), planTarget(model, Target.parse(m.target)), { size: m.size, stride: m.stride, fill: m.fill, batch: 16 })
      assert.deepEqual([r.grid.rows, r.grid.cols], [m.rows, m.cols], what)
      assert.ok(relativeDiff(r.values, m.values) < 1e-4, `${what}: ${relativeDiff(r.values, m.values)}`)
      assert.ok(Math.abs(r.resolved.value - m.value) <= 1e-4 * Math.max(1, Math.abs(m.value)), `${what}: value ${r.resolved.value} vs ${m.value}`)
    }
  }
})

test('the blur keeps a constant image; the figure blends between square centres (hand-checked)', () => {
  const constant = new Float32Array(10 * 12 * 3).fill(0.25)
  assert.ok(gaussianBlur(constant, 10, 12, 3, 3).every((v) => Math.abs(v - 0.25) < 1e-6))
  // Hand-checked: 2×2 positions of a 2-pixel square, stride 2, on 4×4; centres at pixel edges 1 and 3.
  const grid = occlusionGrid(4, 4, 2, 2)
  const map = gridToInput(grid, Float32Array.of(0, 1, 2, 3))
  assert.equal(map[0], 0) // before the first centre: clamped
  assert.ok(Math.abs(map[1 * 4 + 1]! - 0.75) < 1e-6) // (y 1.5, x 1.5): a quarter of the way to the next centres
  assert.equal(map[15], 3)
})

test('progress after each batch in positions; cancel between batches', async () => {
  const model = models['gradcam-net']
  const input = goldenInput(golden.networks[0]!)
  const plan = planTarget(model, Target.parse({ kind: 'class', class: 0 }))
  const seen: Progress[] = []
  await occlusionMap(model, input, plan, { size: 4, stride: 2, fill: 'grey', batch: 10 }, quiet((p) => seen.push(p)))
  assert.deepEqual(
    seen.map((p) => p.done),
    [0, 10, 20, 30, 40, 49],
  )
  assert.ok(seen.every((p) => p.total === 49 && p.unit === 'positions'))

  const controller = new AbortController()
  const done: number[] = []
  const cancelled = occlusionMap(model, input, plan, { size: 4, stride: 2, fill: 'grey', batch: 10 }, quiet((p) => {
    done.push(p.done)
    if (p.done >= 10) controller.abort()
  }, controller))
  await assert.rejects(cancelled, (e: unknown) => e instanceof ConvscopeError && e.code === 'CANCELLED')
  assert.deepEqual(done, [0, 10])
})

test('getOcclusion through the engine on a demo image: the largest drop of the class probability lies on the object', async () => {
  await generateDemoDataset({ out: join(root, 'demo'), count: { train: 0, val: 1 }, classes: 4, size: 128, seed: 0 })
  const id = DEMO_CLASSES[3]!.id
  const image = join(root, 'demo', 'val', id, 'c03_val_00000.jpg')
  const engine: EngineService = createEngine({ workspace: join(root, 'workspace'), backend: 'wasm' })
  await engine.init()
  try {
    const info = parseResult('openModel', await engine.handle('openModel', { path: GAP_DIR }, quiet())) as ModelInfo
    const seen: Progress[] = []
    const params = { modelId: info.id, image, target: { kind: 'class', class: 3, score: 'probability' }, size: 16, stride: 8, batch: 20 }
    const r = parseResult('getOcclusion', await engine.handle('getOcclusion', params, quiet((p) => seen.push(p))))
    assert.deepEqual([r.rows, r.cols, r.inputHeight, r.inputWidth, r.fill], [7, 7, 64, 64, 'grey'])
    assert.equal(r.values.length, 49)
    assert.match(r.target.description, /^class 3 \(.+\) probability$/)
    assert.ok(r.target.value > 0.5, `the demo image is class 3: p ${r.target.value}`)
    assert.equal(seen.at(-1)!.done, 49)
    // The object's box (0-based inclusive, 128² image → 64² input) overlaps the square of the largest drop.
    const xml = await readFile(join(root, 'demo', 'annotations', 'val', id, 'c03_val_00000.xml'), 'utf8')
    const [xmin, ymin, xmax, ymax] = ['xmin', 'ymin', 'xmax', 'ymax'].map((k) => Number(new RegExp(`<${k}>(\\d+)</${k}>`).exec(xml)![1]) / 2) as [number, number, number, number]
    const lowest = r.values.indexOf(Math.min(...r.values))
    const [y, x] = [Math.floor(lowest / r.cols) * r.stride, (lowest % r.cols) * r.stride]
    assert.ok(x < xmax && x + r.size > xmin && y < ymax && y + r.size > ymin, `square (${x}, ${y}) size ${r.size} vs box ${[xmin, ymin, xmax, ymax]}`)
    assert.ok(r.target.value - r.values[lowest]! > 0.1, 'covering the object lowers its probability')
  } finally {
    engine.dispose()
  }
})

test('CLI: --json, --npy (rows × cols float32) and --png (the image beside the drop); bad options exit 2 with the reason', async () => {
  const net = golden.networks[1]!
  const image = join(root, 'checkered.png')
  await sharp(Buffer.from(net.input.kind === 'pixels' ? net.input.pixels : []), { raw: { width: 64, height: 64, channels: 3 } }).png().toFile(image)
  const npy = join(root, 'out', 'occ.npy')
  const png = join(root, 'out', 'occ.png')
  const m = net.maps[0]!
  const { code, out, err } = await runCli(occlusionCommand, ['--model', GAP_DIR, '--image', image, '--class', '5', '--score', 'probability', '--size', '8', '--stride', '8', '--batch', '16', '--json', '--npy', npy, '--png', png])
  assert.equal(code, 0, err)
  const json = JSON.parse(out)
  assert.deepEqual([json.rows, json.cols, json.fill, json.size, json.stride], [8, 8, 'grey', 8, 8])
  // The PNG round trip is lossless, so these are the golden's numbers (the map the reference computed).
  assert.ok(relativeDiff(json.values, m.values) < 1e-4, `${relativeDiff(json.values, m.values)}`)
  assert.equal(json.largestDrop.drop, json.target.value - Math.min(...json.values))
  const saved = await readNpy(npy)
  assert.deepEqual(saved.shape, [8, 8])
  assert.deepEqual(Array.from(saved.data), json.values)
  const meta = await sharp(png).metadata()
  assert.deepEqual([meta.width, meta.height], [2 * 4 * 64 + 8, MIN_SIDE])

  const text = await runCli(occlusionCommand, ['--model', GAP_DIR, '--image', image, '--unit', 'conv_last:7', '--size', '16', '--stride', '16'])
  assert.equal(text.code, 0, text.err)
  assert.match(text.out, /^conv_last channel 7 at its max \(y \d+, x \d+\) on .*checkered\.png: [\d.]+\nsquare 16 px, stride 16: 4×4 positions on a 64×64 input, \S+, \d+ ms\nfill grey: mid-grey/)
  // Through the CLI's entry, which turns a BAD_REQUEST into one line and exit code 2.
  const convscope = { run: (args: string[]) => main(['occlusion', ...args]) }
  const big = await runCli(convscope, ['--model', GAP_DIR, '--image', image, '--class', '5', '--size', '65'])
  assert.equal(big.code, 2)
  assert.match(big.err, /square of 65 pixels does not fit the 64×64 network input/)
  const fill = await runCli(convscope, ['--model', GAP_DIR, '--image', image, '--class', '5', '--fill', 'black'])
  assert.equal(fill.code, 2)
  assert.match(fill.err, /--fill must be one of grey, mean, blur/)
})
