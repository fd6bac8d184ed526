/**
 * `convscope import-torchvision` as a user runs it, with --weights none (no download): squeezenet1_1 (5 MB) into a
 * temp folder. References come from outside convscope: torchvision itself (weights.transforms(), the category
 * names, asked through /usr/bin/python3) and onnxruntime-node (the exported model's logits). Skipped, with the
 * reason, where Debian's python3-torchvision is missing; the "no Python" message is tested everywhere.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import * as tf from '@tensorflow/tfjs'
import * as ort from 'onnxruntime-node'
import sharp from 'sharp'
import { initBackend } from '../../src/main/engine/backend'
import { OUTPUT, type LoadedModel } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { parseLabels, readSidecar } from '../../src/main/engine/models/sidecar'
import { classifyFolder, mapClassFolders, outputClasses } from '../../src/main/engine/methods/classify'

const PYTHON = '/usr/bin/python3'
const NAME = 'squeezenet1_1'
const bin = join(import.meta.dirname, '../../bin/convscope.mjs')
const run = promisify(execFile)

/** torchvision's own view of the architecture's DEFAULT weights: the reference for the sidecar and labels. */
const TRUTH = `
import json
from torchvision.models import get_model_weights
w = get_model_weights('${NAME}').DEFAULT
t = w.transforms()
print(json.dumps({'crop': t.crop_size, 'resize': t.resize_size, 'interpolation': t.interpolation.value,
                  'mean': t.mean, 'std': t.std, 'categories': w.meta['categories']}))
`
const probe = spawnSync(PYTHON, ['-c', TRUTH], { encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } })
const skip = probe.status === 0 ? false : `${PYTHON} cannot import torchvision >= 0.14 (apt-get install python3-torchvision): ${(probe.stderr || String(probe.error)).trim().split('\n').pop()}`
const truth = probe.status === 0 ? (JSON.parse(probe.stdout) as { crop: number[]; resize: number[]; interpolation: string; mean: number[]; std: number[]; categories: string[] }) : null

async function convscope(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { env: { ...process.env, CONVSCOPE_BACKEND: 'wasm' } })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

let root: string
let dir: string
let imported: { code: number; stdout: string; stderr: string }
let wrongName: { code: number; stdout: string; stderr: string }
let model: LoadedModel | null = null

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'convscope-import-'))
  dir = join(root, NAME)
  if (skip) return
  await initBackend({ forced: 'wasm' })
  const started = Date.now()
  // The wrong NAME runs beside the import: each mostly waits for Python to import torch.
  ;[imported, wrongName] = await Promise.all([
    convscope('import-torchvision', NAME, '--weights', 'none', '--out', root, '--python', PYTHON),
    convscope('import-torchvision', 'resnet19', '--weights', 'none', '--out', root, '--python', PYTHON),
  ])
  console.log(`import-torchvision ${NAME} --weights none: ${((Date.now() - started) / 1000).toFixed(1)} s`)
})
after(async () => {
  model?.dispose()
  await rm(root, { recursive: true, force: true })
})

test('import-torchvision --weights none writes the model folder and names the next command', { skip }, async () => {
  assert.equal(imported.code, 0, imported.stderr)
  for (const file of ['model.onnx', 'convscope.json', 'labels.json', 'export.json']) assert.ok(existsSync(join(dir, file)), `${file} written`)
  assert.match(imported.stdout, new RegExp(`^wrote ${dir}$`, 'm'))
  assert.match(imported.stdout, new RegExp(`^next: +convscope info ${dir}$`, 'm'))
  const made = JSON.parse(await readFile(join(dir, 'export.json'), 'utf8'))
  assert.equal(made.architecture, NAME)
  assert.equal(made.opset, 13)
  assert.equal(made.dynamicHeightWidth, true)
  assert.match(made.weights, /^none/)
})

test("the sidecar holds the weights' own preprocessing (torchvision's weights.transforms())", { skip }, async () => {
  const { preprocessing, labels, warnings, defaulted } = await readSidecar(dir, [null, null])
  assert.equal(defaulted, false)
  assert.deepEqual(warnings, [])
  assert.equal(preprocessing.resize, 'shorter-side')
  assert.equal(preprocessing.resizeSize, truth!.resize[0])
  assert.deepEqual(preprocessing.inputSize, [truth!.crop[0], truth!.crop[0]])
  assert.equal(preprocessing.interpolation, truth!.interpolation)
  assert.deepEqual(preprocessing.mean, truth!.mean)
  assert.deepEqual(preprocessing.std, truth!.std)
  assert.deepEqual(preprocessing.range, [0, 1])
  assert.deepEqual(labels, truth!.categories)
})

test('labels.json: the 1 000 torchvision categories with their WordNet ids, in ILSVRC (sorted id) order', { skip }, async () => {
  const text = await readFile(join(dir, 'labels.json'), 'utf8')
  assert.deepEqual(parseLabels(text, 'labels.json'), truth!.categories)
  const map = JSON.parse(text) as Record<string, [string, string]>
  const ids = Array.from({ length: 1000 }, (_, i) => map[String(i)]![0])
  assert.ok(ids.every((id) => /^n\d{8}$/.test(id)), 'every id is a WordNet noun id')
  assert.equal(new Set(ids).size, 1000)
  assert.deepEqual(ids, [...ids].sort(), 'class i is the i-th id in sorted order (PyTorch ImageFolder order)')
  // Hand-checked against WordNet 3.0: the fish, the two cranes (bird, machine) and the last class.
  assert.deepEqual([map['0'], map['134']![0], map['517']![0], map['999']], [['n01440764', 'tench'], 'n02012849', 'n03126707', ['n15075141', 'toilet tissue']])
  const committed = JSON.parse(await readFile(join(import.meta.dirname, '../../resources/imagenet/imagenet_class_index.json'), 'utf8'))
  assert.deepEqual(map, committed, 'the committed class index, with the weights’ own names')
})

test('loadModel opens the import: ONNX, 1 000 labels and classes, logits as onnxruntime computes them', { skip }, async () => {
  model = await loadModel(dir)
  assert.equal(model.info.format, 'onnx')
  assert.equal(model.info.labels?.length, 1000)
  assert.equal(outputClasses(model), 1000)

  const [h, w] = [224, 224]
  const nhwc = tf.randomUniform([1, h, w, 3], -2, 2, 'float32', 7) as tf.Tensor4D
  const [out] = model.forward(nhwc, [OUTPUT])
  const ours = (await out!.data()) as Float32Array
  const nchw = tf.tidy(() => nhwc.transpose([0, 3, 1, 2]))
  const session = await ort.InferenceSession.create(join(dir, 'model.onnx'))
  const { logits } = await session.run({ input: new ort.Tensor('float32', (await nchw.data()) as Float32Array, [1, 3, h, w]) })
  const theirs = logits!.data as Float32Array
  tf.dispose([nhwc, out!, nchw])
  assert.equal(ours.length, 1000)
  const scale = Math.max(...theirs.map(Math.abs))
  const worst = Math.max(...theirs.map((v, i) => Math.abs(v - ours[i]!)))
  console.log(`logits vs onnxruntime: max |Δ| ${worst.toExponential(2)} of max |logit| ${scale.toExponential(2)}`)
  assert.ok(worst <= 1e-4 * scale + 1e-6, `logits differ from onnxruntime by ${worst}`)

  // Dynamic height / width: onnxruntime runs the same file on a non-square input.
  const other = await session.run({ input: new ort.Tensor('float32', new Float32Array(3 * 160 * 192).fill(0.5), [1, 3, 160, 192]) })
  assert.deepEqual(other.logits!.dims, [1, 1000])
  await session.release()
})

test("an ImageNet folder's WordNet-id class folders map to the output indices", { skip }, async () => {
  model ??= await loadModel(dir)
  const dataset = join(root, 'imagenet-val')
  const folders = ['n01440764', 'n02012849', 'n03126707', 'n15075141']
  for (const f of folders) await mkdir(join(dataset, f), { recursive: true })
  const mapping = await mapClassFolders(model, dataset, folders)
  assert.deepEqual(
    folders.map((f) => mapping.get(f)),
    [0, 134, 517, 999].map((index) => ({ index, how: 'wordnet id' })),
  )
  // The same through classify on a folder with images (a 300×200 JPEG per class, through the sidecar's preprocessing).
  for (const [i, f] of folders.entries()) {
    await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 60 * i, g: 120, b: 200 - 40 * i } } }).jpeg().toFile(join(dataset, f, 'a.jpg'))
  }
  const result = await classifyFolder(model, dataset)
  assert.deepEqual(result.skipped, [])
  assert.deepEqual(
    result.perClass.map((c) => [c.className, c.index, c.label, c.images]),
    folders.map((f, i) => [f, [0, 134, 517, 999][i], truth!.categories[[0, 134, 517, 999][i]!], 1]),
  )
  assert.ok(Object.values(result.mapping).every((how) => how === 'wordnet id'))
})

test('a wrong NAME gets the list of valid names; an earlier import is kept without --force', { skip }, async () => {
  assert.equal(wrongName.code, 2)
  assert.match(wrongName.stderr, /no ImageNet classifier "resnet19"; valid names: .*\bresnet18\b.*\bsqueezenet1_1\b/)
  const again = await convscope('import-torchvision', NAME, '--weights', 'none', '--out', root, '--python', PYTHON)
  assert.equal(again.code, 2)
  assert.match(again.stderr, /already holds an import: pass --force/)
})

test('without a Python that has torch, one line says what to install', async () => {
  const { code, stdout, stderr } = await convscope('import-torchvision', NAME, '--out', join(root, 'elsewhere'), '--python', join(root, 'no-python3'))
  assert.equal(code, 1)
  assert.equal(stdout, '')
  assert.match(stderr, /^convscope import-torchvision: needs Python 3 with torch and torchvision >= 0\.14; tried .*no-python3 \(not found\): install them with `sudo apt-get install python3-torch python3-torchvision`/)
})
