import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, FilterData, type LayerInfo } from '../../src/shared/api'
import { getFilters, readsImage } from '../../src/main/engine/methods/filters'
import { LayerGraph } from '../../src/main/engine/models/layerGraph'
import { makeFakeModel, type FakeModel } from './fakeModel'

let fake: FakeModel
before(async () => {
  await tf.setBackend('cpu')
  fake = makeFakeModel()
})
after(() => fake.model.dispose())

test('conv layer on the image: [kh, kw, in, out] weights, shown as RGB', async () => {
  const f = await getFilters(fake.model, 'conv1')
  FilterData.parse(f)
  assert.deepEqual(f.shape, [3, 3, 3, 4])
  assert.equal(f.depthwise, false)
  assert.equal(f.rgb, true)
  const kernel = fake.net.getLayer('conv1').getWeights()[0]!
  assert.deepEqual(Array.from(f.weights), Array.from(kernel.dataSync()))
  f.weights[0] = 1234 // a copy: the layer's weights stay as they were
  assert.notEqual(kernel.dataSync()[0], 1234)
})

test('depthwise layer: [kh, kw, channels, multiplier], not RGB', async () => {
  const f = await getFilters(fake.model, 'dw')
  assert.deepEqual(f.shape, [3, 3, 4, 2])
  assert.equal(f.depthwise, true)
  assert.equal(f.rgb, false)
  assert.deepEqual(Array.from(f.weights), Array.from(fake.net.getLayer('dw').getWeights()[0]!.dataSync()))
})

test('layers without a kernel, and unknown layers: BAD_REQUEST', async () => {
  await assert.rejects(getFilters(fake.model, 'fc'), (e: ConvscopeError) => {
    assert.equal(e.code, 'BAD_REQUEST')
    assert.match(e.message, /"fc" \(Dense\) has no convolution kernel; layers with filters include conv1, dw/)
    return true
  })
  await assert.rejects(getFilters(fake.model, 'nope'), (e: ConvscopeError) => e.code === 'BAD_REQUEST' && /no layer "nope"/.test(e.message))
})

test('readsImage: through pixel-wise layers to the input, not past a conv', () => {
  const l = (name: string, kind: LayerInfo['kind'], channels: number, inbound: string[]): LayerInfo => ({
    name, type: name, kind, outputShape: [8, 8, channels], params: 0, inbound, receptiveField: null, hasFilters: false, spatial: true, activation: null,
  })
  const layers = [
    l('in', 'input', 3, []),
    l('rescale', 'other', 3, ['in']),
    l('pad', 'reshape', 3, ['rescale']),
    l('c1', 'conv', 3, ['pad']),
    l('c2', 'conv', 8, ['c1']),
    l('first', 'conv', 8, []),
  ]
  const graph = new LayerGraph({ name: 'pixel-steps', layers })
  assert.equal(readsImage(graph, graph.get('c1')), true)
  assert.equal(readsImage(graph, graph.get('c2')), false)
  assert.equal(readsImage(graph, graph.get('first')), true)
})
