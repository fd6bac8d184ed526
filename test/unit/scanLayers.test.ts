/**
 * Which layers a scan takes (issue 9, item 7): by default the activation outputs people study (ReLU layers,
 * convs with a fused activation), never a conv before its batch norm; dense layers (fc6 / fc7) can be
 * scanned as 1×1 maps whose patch is the whole image.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import type { LayerInfo } from '../../src/shared/api'
import { defaultScanLayers, isScannableLayer, scannableLayers } from '../../src/shared/scanLayers'
import { listImageFolder } from '../../src/main/engine/images/imageFolder'
import { readModelInput } from '../../src/main/engine/images/readImage'
import { toInputTensor } from '../../src/main/engine/images/preprocess'
import type { LoadedModel } from '../../src/main/engine/model'
import { LayerGraph } from '../../src/main/engine/models/layerGraph'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { runScan } from '../../src/main/engine/scan/runScan'
import { topPatches } from '../../src/main/engine/scan/topPatches'
import { describeScanLayer } from '../../src/main/engine/scan/scanLayer'
import { writeNoiseImageTree } from '../fixtures/images'
import { makeTinyCnn } from '../fixtures/models'

const layer = (name: string, kind: LayerInfo['kind'], activation: string | null, outputShape: number[] = [8, 8, 4]): LayerInfo => ({
  name,
  type: kind,
  kind,
  outputShape,
  params: 0,
  inbound: [],
  receptiveField: null,
  hasFilters: kind === 'conv',
  spatial: outputShape.length === 3,
  activation,
})

test('conv → batch norm → ReLU blocks: the ReLU outputs are the defaults, not the convs before the norm', () => {
  const model = {
    layers: [
      layer('input', 'input', null),
      layer('conv1', 'conv', 'linear'),
      layer('conv1_bn', 'norm', null),
      layer('conv1_relu', 'activation', 'relu'),
      layer('pool1', 'pool', null),
      layer('conv2', 'conv', null),
      layer('conv2_bn', 'norm', null),
      layer('conv2_relu', 'activation', 'relu6'),
      layer('gap', 'global-pool', null, [4]),
      layer('fc6', 'dense', 'relu', [16]),
      layer('probs', 'activation', 'softmax', [10]),
    ],
  }
  assert.deepEqual(defaultScanLayers(model), ['conv1_relu', 'conv2_relu'])
  assert.deepEqual(
    scannableLayers(model).map((l) => l.name),
    ['conv1', 'conv1_bn', 'conv1_relu', 'pool1', 'conv2', 'conv2_bn', 'conv2_relu', 'fc6', 'probs'],
    'every spatial layer and the dense units; not the input or the pooled vector',
  )
})

test('a conv with its activation fused is its own activation output; a model without any falls back to its convs and pools', () => {
  assert.deepEqual(defaultScanLayers({ layers: [layer('c1', 'conv', 'relu'), layer('c2', 'conv', 'linear'), layer('dw', 'depthwise', 'relu')] }), ['c1', 'dw'])
  assert.deepEqual(defaultScanLayers({ layers: [layer('c1', 'conv', null), layer('p1', 'pool', null), layer('c2', 'conv', null)] }), ['p1', 'c2'])
  assert.equal(isScannableLayer(layer('fc7', 'dense', 'relu', [4096])), true)
  assert.equal(isScannableLayer(layer('flatten', 'reshape', null, [4096])), false)
})

let root: string
let model: LoadedModel

before(async () => {
  await tf.setBackend('cpu')
  root = await mkdtemp(join(tmpdir(), 'convscope-scan-dense-'))
  await makeTinyCnn(join(root, 'model'), { sidecar: { inputSize: [32, 32], range: [0, 1], resize: 'stretch' } })
  await writeNoiseImageTree(join(root, 'data'), { classes: ['a', 'b'], perClass: 5, seed: 9, size: () => [40, 30] })
  model = await loadModel(join(root, 'model'))
})
after(async () => {
  model?.dispose()
  await rm(root, { recursive: true, force: true })
})

test('a dense layer scans as a 1×1 map: its top-K are the images with the largest outputs, each patch the whole image', async () => {
  const images = (await listImageFolder(join(root, 'data'))).images.map((i) => i.path)
  const out = join(root, 'scan')
  const manifest = await runScan({ model, images, layers: ['fc', 'conv4'], k: 3, out, batchSize: 4 })
  assert.deepEqual(manifest.layers.map((l) => [l.name, l.units, l.height, l.width]), [['fc', 16, 1, 1], ['conv4', 16, 7, 7]])

  // Brute force: fc's outputs per image, the top 3 images of unit u by value (then by index).
  const values: number[][] = []
  for (const path of images) {
    const x = toInputTensor((await readModelInput(path, model.info.preprocessing)).input)
    const [fc] = model.forward(x, ['fc'])
    values.push(Array.from(fc!.dataSync()))
    tf.dispose([x, fc!])
  }
  for (const unit of [0, 7, 15]) {
    const { patches } = await topPatches(out, 'fc', unit)
    const expected = values.map((v, image) => ({ image, value: v[unit]! })).sort((a, b) => b.value - a.value || a.image - b.image).slice(0, 3)
    assert.deepEqual(patches.map((p) => p.image), expected.map((e) => e.image), `fc unit ${unit}`)
    for (const p of patches) {
      assert.deepEqual([p.y, p.x], [0, 0])
      assert.deepEqual(p.box, { x: 0, y: 0, width: 40, height: 30 }, 'the whole image')
    }
  }
})

test('a dense layer whose field was not traced still gets the whole input as its field', () => {
  const info = { ...model.info, layers: model.info.layers.map((l) => (l.name === 'fc' ? { ...l, receptiveField: null } : l)) }
  const untraced = { info, graph: new LayerGraph(info) }
  assert.deepEqual(describeScanLayer(untraced, 'fc').receptiveField, { size: [32, 32], jump: [0, 0], start: [15.5, 15.5], exact: true })
  assert.equal(describeScanLayer(untraced, 'conv4').receptiveField?.exact, model.info.layers.find((l) => l.name === 'conv4')!.receptiveField?.exact)
})
