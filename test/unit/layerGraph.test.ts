import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ConvscopeError, type LayerInfo } from '../../src/shared/api'
import { LayerGraph, suggestLayers } from '../../src/main/engine/models/layerGraph'

const layer = (name: string, kind: LayerInfo['kind'], outputShape: number[], inbound: string[]): LayerInfo => ({
  name, type: name, kind, outputShape, params: 0, inbound, receptiveField: null, hasFilters: kind === 'conv', spatial: outputShape.length === 3, activation: null,
})

// input → conv1 → conv2 ─┐
//              └────────→ add → gap → fc   (a skip connection: add reads two layers)
const graph = new LayerGraph({
  name: 'skip-net',
  layers: [
    layer('input', 'input', [8, 8, 3], []),
    layer('conv1', 'conv', [8, 8, 4], ['input']),
    layer('conv2', 'conv', [8, 8, 4], ['conv1']),
    layer('add', 'merge', [8, 8, 4], ['conv2', 'conv1']),
    layer('gap', 'global-pool', [4], ['add']),
    layer('fc', 'dense', [3], ['gap', 'not-a-layer']),
  ],
})

test('get and find return the layer by name; has says whether it exists', () => {
  assert.equal(graph.get('conv2').name, 'conv2')
  assert.deepEqual(graph.get('gap').outputShape, [4])
  assert.equal(graph.find('add')?.kind, 'merge')
  assert.equal(graph.find('nope'), undefined)
  assert.equal(graph.has('fc'), true)
  assert.equal(graph.has('FC'), false, 'names are case-sensitive')
})

test('a missing layer is a BAD_REQUEST naming the model, the layer and the alike layers first', () => {
  assert.throws(
    () => graph.get('conv'),
    (e: ConvscopeError) => {
      assert.ok(e instanceof ConvscopeError)
      assert.equal(e.code, 'BAD_REQUEST')
      assert.equal(e.message, 'Model skip-net has no layer "conv"; layers include conv1, conv2, input, add, gap, fc')
      return true
    },
  )
})

test('inbound follows the layer inputs in order and leaves out names that are not layers; input is the single one', () => {
  assert.deepEqual(graph.inbound(graph.get('add')).map((l) => l.name), ['conv2', 'conv1'])
  assert.deepEqual(graph.inbound(graph.get('fc')).map((l) => l.name), ['gap'])
  assert.deepEqual(graph.inbound(graph.get('input')), [])
  assert.equal(graph.input(graph.get('gap'))?.name, 'add')
  assert.equal(graph.input(graph.get('add')), undefined, 'two inputs: no single one')
  assert.equal(graph.input(graph.get('input')), undefined, 'the model input reads no layer')
})

test('spatial lists the [h, w, c] layers after the input, input side first', () => {
  assert.deepEqual(graph.spatial().map((l) => l.name), ['conv1', 'conv2', 'add'])
})

test('suggestLayers: alike names first, at most 8 shown with the total, or what the model lacks', () => {
  const many = Array.from({ length: 12 }, (_, i) => layer(`block${i}`, 'conv', [4, 4, 2], []))
  assert.equal(suggestLayers('block11', many), 'layers include block1, block11, block0, block2, block3, block4, block5, block6, ... (12 in all)')
  assert.equal(suggestLayers('x', [], 'layers with filters'), 'it has no layers with filters')
})
