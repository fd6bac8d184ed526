/**
 * The code layer (issue 13, item 1): by default the classifier's input — the pooled map of a GAP or GMP network,
 * fc7 of a VGG-like one, the pool before torchvision's flatten → Gemm, fc7 of AlexNet — and the same codes on
 * both executors (tfjs and onnxruntime) to 1e-5 relative: the demo gap network at its pooled output and at its
 * last conv map (averaged in JS), and the tiny ONNX fixture.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import type { LayerInfo } from '../../src/shared/api'
import { generateDemoDataset } from '../../src/main/engine/demo'
import { listImageFolder } from '../../src/main/engine/images/imageFolder'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { LayerGraph } from '../../src/main/engine/models/layerGraph'
import { codesOfBatch, readCodeImage } from '../../src/main/engine/codes/codeBatch'
import { defaultCodeLayer, describeCodeLayer } from '../../src/main/engine/codes/codeLayer'
import { relativeDiff } from '../fixtures/numeric'

const ROOT = join(import.meta.dirname, '../..')
const DEMO = join(ROOT, 'resources/demo-models')
let scratch = ''
let images: string[] = []

before(async () => {
  await tf.setBackend('cpu')
  scratch = await mkdtemp(join(tmpdir(), 'convscope-code-layers-'))
  await generateDemoDataset({ out: join(scratch, 'demo'), count: { train: 0, val: 1 }, classes: 3, size: 96, seed: 9 })
  images = (await listImageFolder(join(scratch, 'demo', 'val'))).images.map((i) => i.path)
})
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

async function defaultOf(path: string): Promise<{ name: string; dim: number; pooled: boolean }> {
  const model = await loadModel(path)
  try {
    const { name, dim, pooled } = describeCodeLayer(model, defaultCodeLayer(model))
    return { name, dim, pooled }
  } finally {
    model.dispose()
  }
}

test('the default code layer is the classifier input: pooled map, fc7, the pool before a flatten', async () => {
  assert.deepEqual(await defaultOf(join(DEMO, 'gap')), { name: 'gap', dim: 192, pooled: false })
  assert.deepEqual(await defaultOf(join(DEMO, 'gmp')), { name: 'gmp', dim: 192, pooled: false })
  assert.deepEqual(await defaultOf(join(DEMO, 'fc')), { name: 'fc7', dim: 256, pooled: false })
  // GlobalAveragePool → Reshape (flatten) → Gemm: the pool, a [1, 1, 4] map (averaging it changes nothing).
  assert.deepEqual(await defaultOf(join(ROOT, 'test/fixtures/onnx/tiny_cnn.onnx')), { name: 'gap', dim: 4, pooled: false })
})

const alexnet = join(ROOT, 'test/.cache/torchvision/alexnet/model.onnx')
test('torchvision AlexNet: fc7 is classifier.5 (the ReLU feeding the last Gemm, past dropout-free export)', { skip: existsSync(alexnet) ? false : 'test/.cache/torchvision/alexnet not exported here' }, async () => {
  assert.deepEqual(await defaultOf(alexnet), { name: 'classifier.5', dim: 4096, pooled: false })
})

test('a spatial layer is averaged; no dense head or an unknown layer is a clear error', () => {
  const layer = (name: string, kind: LayerInfo['kind'], outputShape: number[], inbound: string[], type = 'X'): LayerInfo => ({
    name, type, kind, outputShape, inbound, params: 0, receptiveField: null, hasFilters: false, spatial: outputShape.length === 3, activation: null,
  })
  const info = { name: 'fcn', layers: [layer('input', 'input', [32, 32, 3], []), layer('conv', 'conv', [8, 8, 16], ['input']), layer('drop', 'other', [8, 8, 16], ['conv'], 'Dropout')] }
  const model = { info, graph: new LayerGraph(info) } as never
  assert.deepEqual(describeCodeLayer(model, 'conv'), { name: 'conv', dim: 16, pooled: true, height: 8, width: 8 })
  assert.throws(() => defaultCodeLayer(model), /model fcn has no dense classifier layer, so there is no default code layer; name one \(--layer\)/)
  assert.throws(() => describeCodeLayer(model, 'nope'), /model fcn has no layer "nope"/)
  const withHead = { name: 'net', layers: [...info.layers, layer('flat', 'reshape', [1024], ['drop'], 'Flatten'), layer('fc', 'dense', [10], ['flat'])] }
  // A flatten of a larger map is what the classifier reads: kept.
  assert.equal(defaultCodeLayer({ info: withHead, graph: new LayerGraph(withHead) } as never), 'flat')
})

async function assertExecutorsAgree(modelPath: string, layerName: string) {
  const model = await loadModel(modelPath)
  try {
    assert.ok(model.runtimeSource, `${modelPath} runs on onnxruntime too`)
    const layer = describeCodeLayer(model, layerName)
    const inputs = await Promise.all(images.map(async (p) => (await readCodeImage(p, model.info.preprocessing)).input))
    const a = await codesOfBatch(model, inputs, layer, 'tfjs-cpu')
    const b = await codesOfBatch(model, inputs, layer, 'onnxruntime-cpu')
    assert.equal(a.codes.length, images.length * layer.dim)
    const err = relativeDiff(a.codes, b.codes)
    assert.ok(err <= 1e-5, `${modelPath} ${layerName}: tfjs vs onnxruntime relative difference ${err}`)
    assert.deepEqual(Array.from(a.predicted), Array.from(b.predicted), 'same top-1 classes')
  } finally {
    model.dispose()
  }
}

test('tfjs and onnxruntime give the same codes to 1e-5 (demo gap: pooled output and averaged conv map; tiny ONNX fixture)', async () => {
  await assertExecutorsAgree(join(DEMO, 'gap'), 'gap')
  await assertExecutorsAgree(join(DEMO, 'gap'), 'conv_last')
  await assertExecutorsAgree(join(ROOT, 'test/fixtures/onnx/tiny_cnn.onnx'), 'relu1')
})
