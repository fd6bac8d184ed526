/**
 * The command line on an ONNX model (issue 10): info, activations, cam, scan, localize, faithfulness and fcn
 * take the reader's fixture test/fixtures/onnx/tiny_cnn.onnx (conv1 3→4 k3 s2 p1 → relu1 → depthwise conv2
 * with asymmetric pads → GAP → Reshape → Gemm 4→3), as the file itself or the folder holding it. Numbers are
 * checked against independent references: conv1 computed here by hand from the weights in expected.json
 * (written by scripts/onnx/makeFixtures.py), the logits by onnxruntime-node, the receptive fields by hand.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import sharp from 'sharp'
import { activationsCommand } from '../../src/main/cli/activationsCommand'
import { camCommand } from '../../src/main/cli/camCommand'
import { faithfulnessCommand } from '../../src/main/cli/faithfulnessCommand'
import { fcnCommand } from '../../src/main/cli/fcnCommand'
import { infoCommand } from '../../src/main/cli/infoCommand'
import { localizeCommand } from '../../src/main/cli/localizeCommand'
import { scanCommand } from '../../src/main/cli/scanCommand'
import { readNpy } from '../../src/main/engine/store/npy'
import { runCli } from '../fixtures/cli'
import { maxAbsDiff } from '../helpers/compare'
import { seededRandom } from '../fixtures/models'

const FIXTURES = join(import.meta.dirname, '../fixtures/onnx')
const SIZE = 32
const LABELS = ['red', 'green', 'blue']
const BACKEND = ['--backend', 'wasm']

interface Weights {
  'conv1.weight': { values: number[] }
  'conv1.bias': { values: number[] }
}

let root = ''
let modelDir = ''
let modelFile = ''
let data = ''
/** Per image: its path, class and the model input (NCHW, pixel / 255: the sidecar's range [0, 1], no resize). */
const images: { path: string; cls: string; nchw: Float32Array }[] = []

/** A 32×32 picture: seeded noise with a bright rectangle (its box is the annotation). */
async function picture(path: string, seed: number, box: [number, number, number, number]): Promise<Float32Array> {
  const rand = seededRandom(seed)
  const rgb = new Uint8Array(SIZE * SIZE * 3).map(() => Math.floor(rand() * 120))
  for (let y = box[1]; y <= box[3]; y++) for (let x = box[0]; x <= box[2]; x++) rgb.set([250, 200 - 60 * (seed % 3), 40 + 50 * (seed % 4)], (y * SIZE + x) * 3)
  await sharp(rgb, { raw: { width: SIZE, height: SIZE, channels: 3 } }).png().toFile(path)
  const nchw = new Float32Array(3 * SIZE * SIZE)
  for (let i = 0; i < SIZE * SIZE; i++) for (let c = 0; c < 3; c++) nchw[c * SIZE * SIZE + i] = rgb[i * 3 + c]! / 255
  return nchw
}

const voc = (cls: string, b: [number, number, number, number]) =>
  `<annotation><size><width>${SIZE}</width><height>${SIZE}</height><depth>3</depth></size><object><name>${cls}</name>` +
  `<bndbox><xmin>${b[0] + 1}</xmin><ymin>${b[1] + 1}</ymin><xmax>${b[2] + 1}</xmax><ymax>${b[3] + 1}</ymax></bndbox></object></annotation>`

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'convscope-cli-onnx-'))
  modelDir = join(root, 'tiny')
  modelFile = join(modelDir, 'tiny_cnn.onnx')
  await mkdir(modelDir, { recursive: true })
  await copyFile(join(FIXTURES, 'tiny_cnn.onnx'), modelFile)
  await writeFile(join(modelDir, 'labels.txt'), LABELS.join('\n') + '\n')
  await writeFile(join(modelDir, 'convscope.json'), JSON.stringify({ inputSize: [SIZE, SIZE], range: [0, 1], resize: 'stretch', labels: 'labels.txt' }))
  data = join(root, 'val')
  let seed = 1
  for (const cls of LABELS) {
    await mkdir(join(data, cls), { recursive: true })
    await mkdir(join(root, 'annotations', 'val', cls), { recursive: true })
    for (const k of [0, 1]) {
      const box: [number, number, number, number] = [4 + 6 * k, 3 + 5 * k, 17 + 6 * k, 20 + 5 * k]
      const path = join(data, cls, `${cls}${k}.png`)
      images.push({ path, cls, nchw: await picture(path, seed++, box) })
      await writeFile(join(root, 'annotations', 'val', cls, `${cls}${k}.xml`), voc(cls, box))
    }
  }
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

/** conv1 by hand (3×3, stride 2, pads 1) from the fixture's weights: NHWC [16, 16, 4], as convscope lays maps out. */
async function conv1Reference(nchw: Float32Array): Promise<Float32Array> {
  const w = (JSON.parse(await readFile(join(FIXTURES, 'expected.json'), 'utf8')) as { tiny_cnn: Weights }).tiny_cnn
  const kernel = w['conv1.weight'].values
  const bias = w['conv1.bias'].values
  const out = SIZE / 2
  const result = new Float32Array(out * out * 4)
  for (let y = 0; y < out; y++) {
    for (let x = 0; x < out; x++) {
      for (let o = 0; o < 4; o++) {
        let sum = bias[o]!
        for (let i = 0; i < 3; i++) {
          for (let ky = 0; ky < 3; ky++) {
            for (let kx = 0; kx < 3; kx++) {
              const yy = 2 * y + ky - 1
              const xx = 2 * x + kx - 1
              if (yy >= 0 && yy < SIZE && xx >= 0 && xx < SIZE) sum += kernel[((o * 3 + i) * 3 + ky) * 3 + kx]! * nchw[(i * SIZE + yy) * SIZE + xx]!
            }
          }
        }
        result[(y * out + x) * 4 + o] = sum
      }
    }
  }
  return result
}

/** The fixture's logits for one input, by onnxruntime-node. */
async function ortLogits(nchw: Float32Array): Promise<number[]> {
  const session = await ort.InferenceSession.create(modelFile)
  const { logits } = await session.run({ input: new ort.Tensor('float32', nchw, [1, 3, SIZE, SIZE]) })
  return Array.from(logits!.data as Float32Array)
}

const softmax = (v: number[]) => {
  const e = v.map((x) => Math.exp(x - Math.max(...v)))
  const sum = e.reduce((a, b) => a + b, 0)
  return e.map((x) => x / sum)
}

test('info takes the .onnx file or its folder: PyTorch-free node names kept, shapes and hand-checked receptive fields', async () => {
  const { code, out } = await runCli(infoCommand, [modelFile, ...BACKEND])
  assert.equal(code, 0)
  assert.match(out, /^tiny_cnn\s+\(onnx model, id [0-9a-f]+\)$/m)
  assert.match(out, /^labels:\s+3 classes$/m)
  // conv1 k3 s2 p1: field 3, jump 2, centred on pixel 0; 4×3×3×3 + 4 = 112 parameters.
  assert.match(out, /^conv1\s+Conv\s+\[16, 16, 4\]\s+112\s+3\s+2\s+0$/m)
  assert.match(out, /^relu1\s+Relu\s+\[16, 16, 4\]\s+0\s+3\s+2\s+0$/m)
  // Depthwise conv2 k3, pads top 0 / left 1 / bottom 2 / right 1: field 3 + 2·2 = 7, unit 0 centred at
  // row 0 + (1 − 0)·2 = 2 and column 0 + (1 − 1)·2 = 0; 4×1×3×3 = 36 parameters, no bias.
  assert.match(out, /^conv2\s+Conv\s+\[16, 16, 4\]\s+36\s+7\s+2\s+2×0$/m)
  assert.match(out, /^fc\s+Gemm\s+\[3\]\s+15\s/m)

  const byFile = JSON.parse((await runCli(infoCommand, [modelFile, '--json', ...BACKEND])).out)
  const byFolder = JSON.parse((await runCli(infoCommand, [modelDir, '--json', ...BACKEND])).out)
  assert.equal(byFile.format, 'onnx')
  assert.equal(byFolder.id, byFile.id, 'the folder with one .onnx is the same model')
  assert.deepEqual(byFile.inputShape, [SIZE, SIZE, 3])
  assert.deepEqual(byFile.labels, LABELS)
})

test('activations: conv1 equals the hand-computed convolution, fc the logits of onnxruntime, the predictions their softmax', async () => {
  const image = images[0]!
  const conv1 = join(root, 'conv1.npy')
  assert.equal((await runCli(activationsCommand, ['--model', modelFile, '--image', image.path, '--layer', 'conv1', '--npy', conv1, ...BACKEND])).code, 0)
  const ours = await readNpy(conv1)
  assert.deepEqual(ours.shape, [16, 16, 4])
  const reference = await conv1Reference(image.nchw)
  assert.ok(maxAbsDiff(ours.data as Float32Array, reference) < 1e-4, `conv1 within 1e-4 of the hand computation`)

  const fc = join(root, 'fc.npy')
  assert.equal((await runCli(activationsCommand, ['--model', modelDir, '--image', image.path, '--layer', 'fc', '--npy', fc, ...BACKEND])).code, 0)
  const logits = await ortLogits(image.nchw)
  const logitsOurs = (await readNpy(fc)).data as Float32Array
  assert.ok(maxAbsDiff(logitsOurs, logits) < 1e-4, `fc ${Array.from(logitsOurs)} vs onnxruntime ${logits}`)

  // The model ends in logits (Gemm): its predictions are their softmax, ranked.
  const json = await runCli(activationsCommand, ['--model', modelFile, '--image', image.path, '--layer', 'relu1', '--json', ...BACKEND])
  const predictions = (JSON.parse(json.out) as { predictions: { index: number; label: string; score: number }[] }).predictions
  const probabilities = softmax(logits)
  const ranked = [0, 1, 2].sort((a, b) => probabilities[b]! - probabilities[a]!)
  assert.deepEqual(predictions.map((p) => [p.index, p.label]), ranked.map((k) => [k, LABELS[k]]))
  assert.ok(maxAbsDiff(predictions.map((p) => p.score), ranked.map((k) => probabilities[k]!)) < 1e-5)
})

test('scan --layers relu1: each unit’s top values are the largest per-image maxima of relu(conv1) over the folder', async () => {
  const out = join(root, 'scan')
  const { code, err } = await runCli(scanCommand, ['--model', modelFile, '--data', data, '--layers', 'relu1', '--top', '2', '--out', out, ...BACKEND])
  assert.equal(code, 0, err)
  const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as { images: { path?: string; relPath?: string }[] }
  assert.equal(manifest.images.length, images.length)
  const values = await readNpy(join(out, 'relu1.topk.values.npy'))
  assert.deepEqual(values.shape, [4, 2])
  const maxima = await Promise.all(
    images.map(async (image) => {
      const conv = await conv1Reference(image.nchw)
      return [0, 1, 2, 3].map((u) => Math.max(0, ...Array.from({ length: 256 }, (_, p) => conv[p * 4 + u]!)))
    }),
  )
  for (let u = 0; u < 4; u++) {
    const expected = maxima.map((m) => m[u]!).sort((a, b) => b - a).slice(0, 2)
    const ours = Array.from((values.data as Float32Array).subarray(u * 2, u * 2 + 2))
    assert.ok(maxAbsDiff(ours, expected) < 1e-4, `unit ${u}: ${ours} vs ${expected}`)
  }
})

test('cam --json: the top-3 classes in the order of onnxruntime’s logits, each with a box, at conv2', async () => {
  const image = images[2]!
  const { code, out, err } = await runCli(camCommand, ['--model', modelFile, '--image', image.path, '--top', '3', '--out', join(root, 'cam'), '--json', ...BACKEND])
  assert.equal(code, 0, err)
  const r = JSON.parse(out) as { label: string; layer: string; classes: { classIndex?: number; label?: string; box: unknown }[] }
  assert.equal(r.label, 'CAM')
  assert.equal(r.layer, 'conv2')
  const logits = await ortLogits(image.nchw)
  const order = [0, 1, 2].sort((a, b) => logits[b]! - logits[a]!).map((k) => LABELS[k])
  assert.deepEqual(r.classes.map((c) => c.label), order)
  assert.ok(r.classes.every((c) => c.box !== null))
})

test('localize and faithfulness run on the ONNX model over the annotated folder', async () => {
  const localized = await runCli(localizeCommand, ['--model', modelFile, '--data', data, '--method', 'cam,gradcam', ...BACKEND])
  assert.equal(localized.code, 0, localized.err)
  assert.match(localized.out, /: 6 images evaluated of 6; annotations .*annotations\/val/)
  assert.match(localized.out, /^\| CAM \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$/m)
  assert.match(localized.out, /^\| Grad-CAM \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$/m)

  const image = images[4]!
  const faithful = await runCli(faithfulnessCommand, ['--model', modelFile, '--image', image.path, '--method', 'cam,random', '--json', ...BACKEND])
  assert.equal(faithful.code, 0, faithful.err)
  type Curve = { fractions: number[]; scores: number[]; auc: number }
  const r = JSON.parse(faithful.out) as { classIndex: number; methods: { method: string; deletion: Curve; insertion: Curve }[] }
  assert.deepEqual(r.methods.map((m) => m.method), ['cam', 'random'])
  for (const m of r.methods) for (const curve of [m.deletion, m.insertion]) assert.ok(curve.auc >= 0 && curve.auc <= 1, `${m.method} AUC ${curve.auc}`)
  // The deletion curve starts at the untouched image: the top class's softmax probability by onnxruntime.
  const probabilities = softmax(await ortLogits(image.nchw))
  assert.equal(r.classIndex, probabilities.indexOf(Math.max(...probabilities)))
  assert.equal(r.methods[0]!.deletion.fractions[0], 0)
  assert.ok(Math.abs(r.methods[0]!.deletion.scores[0]! - probabilities[r.classIndex]!) < 1e-4, `${r.methods[0]!.deletion.scores[0]} vs ${probabilities[r.classIndex]}`)
})

test('fcn: the global-pooling head without its pooling gives a 32×32 grid on a 64×64 input', async () => {
  const { code, out, err } = await runCli(fcnCommand, ['--model', modelFile, '--image', images[0]!.path, '--json', ...BACKEND])
  assert.equal(code, 0, err)
  const grid = JSON.parse(out) as { height: number; width: number; classes: number; labels: string[] | null; inputSize: number[] }
  assert.deepEqual(grid.inputSize, [64, 64])
  assert.deepEqual([grid.height, grid.width, grid.classes], [32, 32, 3])
  assert.deepEqual(grid.labels, LABELS)
})
