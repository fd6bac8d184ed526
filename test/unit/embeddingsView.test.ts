/** The Embeddings view's point bookkeeping (renderer lib/embeddings.ts): groups, value colouring, class rows; hand-checked cases. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { CodeImage, ProjectionInfo } from '../../src/shared/api'
import { classRows, coordinatesOf, describeParams, groupByKey, groupByValue, predictedKey } from '../../src/renderer/src/lib/embeddings'

// Five points in 2-D; row 2 could not be read (NaN).
const points = Float32Array.from([0, 1, 2, 3, NaN, NaN, 6, 7, 8, 9])
const image = (index: number, className: string | null, predicted: number | null): CodeImage => ({
  index,
  path: `/d/${className ?? 'x'}/${index}.png`,
  className,
  predicted,
  predictedLabel: predicted === null ? null : `p${predicted}`,
  ok: true,
})
const images = [image(0, 'cats', 1), image(1, 'dogs', 0), image(2, 'cats', null), image(3, 'cats', 0), image(4, null, 1)]

test('groupByKey: one group per key in natural order (none last), unreadable rows left out, each with its rows and coordinates', () => {
  const groups = groupByKey(points, 2, (r) => ['b', 'a10', 'b', 'a2', null][r] ?? null, 'unlabelled')
  assert.deepEqual(
    groups.map((g) => [g.key, Array.from(g.rows), Array.from(g.x), Array.from(g.y)]),
    [
      ['a2', [3], [6], [7]],
      ['a10', [1], [2], [3]],
      ['b', [0], [0], [1]],
      ['', [4], [8], [9]],
    ],
  )
  assert.equal(groups[3]!.label, 'unlabelled')
  assert.deepEqual(groups.map((g) => g.colour), ['#1f77b4', '#ff7f0e', '#2ca02c', '#b0b0b0'], 'the shared palette in label order, grey for none')
})

test('groupByValue: finite values in one trace with their values, the rest grey', () => {
  const values = Float32Array.from([0.5, NaN, 7, 2, NaN])
  const [valued, none] = groupByValue(points, 2, values, 'conv unit 3')
  assert.deepEqual(Array.from(valued!.rows), [0, 3])
  assert.deepEqual(Array.from(valued!.values!), [0.5, 2])
  assert.deepEqual(Array.from(none!.rows), [1, 4])
  assert.equal(none!.values, undefined)
})

test('classRows: by the class folders the model class maps to, else by the prediction', () => {
  const folders = new Map<string, number | null>([['cats', 1], ['dogs', 0]])
  assert.deepEqual(Array.from(classRows(points, 2, images, 1, folders)), [0, 3], 'cats, row 2 unplaced')
  assert.deepEqual(Array.from(classRows(points, 2, images, 0, new Map())), [1, 3], 'predicted 0 with no folder mapping')
  assert.deepEqual(Array.from(coordinatesOf(points, 2, [3, 0]).x), [6, 0])
  assert.equal(predictedKey(images[2]), null)
  assert.equal(predictedKey(images[3]), 'p0')
})

test('describeParams names a map by the settings that differ from the defaults', () => {
  const info: ProjectionInfo = {
    name: 'tsne',
    label: 't-SNE',
    description: '',
    maxDims: 2,
    params: [
      { name: 'perplexity', label: 'Perplexity', kind: 'number', default: 30, help: '' },
      { name: 'iterations', label: 'Iterations', kind: 'int', default: 1000, help: '' },
    ],
  }
  assert.equal(describeParams(info, { perplexity: 30, iterations: 1000 }), 't-SNE')
  assert.equal(describeParams(info, { perplexity: 30, iterations: 250 }), 't-SNE · iterations 250')
})
