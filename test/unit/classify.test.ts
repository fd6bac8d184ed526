/**
 * classifyFolder and `convscope classify` on a model whose answer is known: its logits are the mean red,
 * green and blue of the image (set by hand), so a red image is class "red", and so on.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import sharp from 'sharp'
import { ConvscopeError } from '../../src/shared/api'
import { classifyFolder } from '../../src/main/engine/methods/classify'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { fsIOHandler } from '../../src/main/engine/models/fsIOHandler'
import type { LoadedModel } from '../../src/main/engine/model'
import { classifyCommand, formatClassifyResult } from '../../src/main/cli/classifyCommand'

const LABELS = ['red', 'green', 'blue', 'dark', 'grey', 'white']
let root: string
let model: LoadedModel

/**
 * input 8×8×3 → GlobalAveragePooling2D → Dense(6) → Softmax. Logits: red, green, blue = the mean of that
 * channel minus 0.4 × the other two (so a colour wins clearly); the other three classes are small and fixed.
 */
async function makeColourModel(dir: string, labels: 'txt' | 'imagenet'): Promise<void> {
  const input = tf.input({ shape: [8, 8, 3] })
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(input) as tf.SymbolicTensor
  const dense = tf.layers.dense({ name: 'logits', units: LABELS.length })
  const logits = dense.apply(gap) as tf.SymbolicTensor
  const probs = tf.layers.softmax({ name: 'probs' }).apply(logits) as tf.SymbolicTensor
  const m = tf.model({ inputs: input, outputs: probs })
  const kernel = [
    [1, -0.4, -0.4, 0, 0, 0],
    [-0.4, 1, -0.4, 0, 0, 0],
    [-0.4, -0.4, 1, 0, 0, 0],
  ]
  dense.setWeights([tf.tensor2d(kernel), tf.tensor1d([0, 0, 0, 0.01, 0.02, 0.03])])
  await m.save(fsIOHandler(dir))
  m.dispose()
  const file = labels === 'txt' ? 'labels.txt' : 'imagenet_class_index.json'
  const body =
    labels === 'txt' ? `${LABELS.join('\n')}\n` : JSON.stringify(Object.fromEntries(LABELS.map((l, i) => [String(i), [`n0000000${i}`, l]])))
  await writeFile(join(dir, file), body)
  await writeFile(join(dir, 'convscope.json'), JSON.stringify({ inputSize: [8, 8], range: [0, 1], resize: 'stretch', labels: file }))
}

const COLOURS: Record<string, { r: number; g: number; b: number }> = {
  red: { r: 230, g: 20, b: 30 },
  green: { r: 10, g: 200, b: 40 },
  blue: { r: 20, g: 30, b: 220 },
}

async function solid(file: string, colour: keyof typeof COLOURS, size = 12): Promise<void> {
  await sharp({ create: { width: size, height: size + 4, channels: 3, background: COLOURS[colour]! } }).png().toFile(file)
}

/** root/<folder>/ for each [folder, colours of its images]; plus broken files in the last folder. */
async function makeTree(dir: string, folders: [string, (keyof typeof COLOURS)[]][]): Promise<void> {
  for (const [folder, colours] of folders) {
    await mkdir(join(dir, folder), { recursive: true })
    for (const [i, c] of colours.entries()) await solid(join(dir, folder, `img${i}.png`), c)
  }
}

before(async () => {
  await tf.setBackend('cpu')
  root = await mkdtemp(join(tmpdir(), 'convscope-classify-'))
  await makeColourModel(join(root, 'model'), 'txt')
  model = await loadModel(join(root, 'model'))
  // green/ holds one blue image: one top-1 miss. blue/ holds two unreadable files.
  await makeTree(join(root, 'data'), [
    ['red', ['red', 'red', 'red']],
    ['green', ['green', 'green', 'blue']],
    ['blue', ['blue', 'blue']],
  ])
  await writeFile(join(root, 'data', 'blue', 'empty.jpg'), '')
  const png = await sharp({ create: { width: 10, height: 10, channels: 3, background: COLOURS.blue! } }).png().toBuffer()
  await writeFile(join(root, 'data', 'blue', 'truncated.png'), png.subarray(0, png.length - 30))
})
after(async () => {
  model.dispose()
  await rm(root, { recursive: true, force: true })
})

test('top-1 and top-5 per class and overall match the known answers; unreadable files are skipped with the reason', async () => {
  const progress: [number, number][] = []
  const r = await classifyFolder(model, join(root, 'data'), { batchSize: 3, onProgress: (d, t) => progress.push([d, t]) })
  assert.equal(r.k, 5)
  assert.equal(r.overall.images, 8)
  assert.equal(r.overall.top1, 7 / 8)
  assert.equal(r.overall.top5, 1, 'every truth is within the top 5 of 6 classes')
  const by = Object.fromEntries(r.perClass.map((c) => [c.className, c]))
  assert.deepEqual(
    r.perClass.map((c) => [c.className, c.index, c.label, c.images, c.top1]),
    [
      ['blue', 2, 'blue', 2, 1],
      ['green', 1, 'green', 3, 2 / 3],
      ['red', 0, 'red', 3, 1],
    ],
  )
  assert.deepEqual(by.green!.confusedWith, { index: 2, label: 'blue', images: 1 })
  assert.equal(by.red!.confusedWith, null)
  assert.equal(r.overall.meanClassTop1, (1 + 2 / 3 + 1) / 3)
  assert.deepEqual(r.mapping, { blue: 'label', green: 'label', red: 'label' })

  assert.deepEqual(r.skipped.map((s) => s.path.split('/').pop()).sort(), ['empty.jpg', 'truncated.png'])
  for (const s of r.skipped) assert.match(s.reason, new RegExp(`${s.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} (is empty|is truncated|could not be decoded|has a corrupt header)`))
  assert.deepEqual(progress.at(-1), [10, 10], 'progress counts every file, the skipped too')
  assert.ok(progress.every(([d], i) => i === 0 || d > progress[i - 1]![0]))
})

test('a model whose labels are an ImageNet map is matched by WordNet id; a dataset classes.json maps its own folder names', async () => {
  const imagenet = await loadModel((await makeColourModel(join(root, 'model-imagenet'), 'imagenet'), join(root, 'model-imagenet')))
  try {
    await makeTree(join(root, 'wnid'), [
      ['n00000000', ['red']],
      ['n00000002', ['blue', 'green']],
    ])
    const r = await classifyFolder(imagenet, join(root, 'wnid'))
    assert.deepEqual(r.mapping, { n00000000: 'wordnet id', n00000002: 'wordnet id' })
    assert.deepEqual(r.perClass.map((c) => [c.className, c.index, c.label, c.top1]), [
      ['n00000000', 0, 'red', 1],
      ['n00000002', 2, 'blue', 0.5],
    ])
  } finally {
    imagenet.dispose()
  }

  // The demo dataset's layout: folders c00_red, ... named in classes.json.
  await makeTree(join(root, 'demo'), [
    ['c00_red', ['red', 'red']],
    ['c01_green', ['green']],
  ])
  await writeFile(join(root, 'demo', 'classes.json'), JSON.stringify({ 0: ['c00_red', 'red'], 1: ['c01_green', 'green'] }))
  const r = await classifyFolder(model, join(root, 'demo'))
  assert.deepEqual(r.mapping, { c00_red: 'classes.json', c01_green: 'classes.json' })
  assert.equal(r.overall.top1, 1)
})

test('folders that match no class fail with a message naming them and the ways to name them; --sorted maps by order', async () => {
  await makeTree(join(root, 'odd'), [
    ['a_first', ['red']],
    ['b_second', ['green']],
    ['red', ['red']],
  ])
  await assert.rejects(classifyFolder(model, join(root, 'odd')), (e: unknown) => {
    assert.ok(e instanceof ConvscopeError)
    assert.equal(e.code, 'BAD_REQUEST')
    assert.match(e.message, /"a_first", "b_second"/)
    assert.doesNotMatch(e.message, /"red",.*hold/)
    assert.match(e.message, /labels include "red", "green", "blue", "dark"/)
    assert.match(e.message, /WordNet id/)
    assert.match(e.message, /--sorted/)
    return true
  })
  const sorted = await classifyFolder(model, join(root, 'odd'), { mapping: 'sorted' })
  assert.deepEqual(sorted.perClass.map((c) => [c.className, c.index, c.top1]), [
    ['a_first', 0, 1],
    ['b_second', 1, 1],
    ['red', 2, 0],
  ])
})

test('a folder of loose images, or an empty one, is refused with a clear message', async () => {
  await mkdir(join(root, 'flat'), { recursive: true })
  await solid(join(root, 'flat', 'x.png'), 'red')
  await assert.rejects(classifyFolder(model, join(root, 'flat')), /holds images directly, not class sub-folders/)
  await mkdir(join(root, 'none'), { recursive: true })
  await assert.rejects(classifyFolder(model, join(root, 'none')), /holds no images/)
})

test('convscope classify prints the per-class table, or the result as JSON', async (t) => {
  const out: string[] = []
  t.mock.method(console, 'log', (s: string) => out.push(s))
  t.mock.method(process.stderr, 'write', () => true)
  assert.equal(await classifyCommand.run(['--model', join(root, 'model'), '--data', join(root, 'data'), '--json', '--backend', 'cpu']), 0)
  const json = JSON.parse(out.join('\n'))
  assert.equal(json.overall.top1, 7 / 8)
  assert.equal(json.skipped.length, 2)

  out.length = 0
  assert.equal(await classifyCommand.run(['--model', join(root, 'model'), '--data', join(root, 'data'), '--backend', 'cpu']), 0)
  const text = out.join('\n')
  assert.ok(text.startsWith(formatClassifyResult({ ...json, skipped: [] })), 'the table of formatClassifyResult')
  assert.match(text, /^green\s+green\s+3\s+66\.7 %\s+100\.0 %\s+blue \(1\)$/m)
  assert.match(text, /^overall\s+8\s+87\.5 %\s+100\.0 %\s+mean per class top-1 88\.9 %$/m)
  assert.match(text, /skipped 2 files:/)
})
