import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import sharp from 'sharp'
import { ConvscopeError, Preprocessing, type ModelInfo } from '../../src/shared/api'
import { noopContext, type JobContext } from '../../src/main/engine/context'
import { OUTPUT, type LoadedModel } from '../../src/main/engine/model'
import type { MapMethod } from '../../src/main/engine/maps/types'
import { evaluateLocalization, spread } from '../../src/main/engine/localization/evaluate'

/**
 * A model that needs no weights: it scores class c (red, green, blue) by 10 × the mean of colour channel c,
 * and a map method whose map of class c is channel c average-pooled to 8×8. Both are exact, so the
 * expected predictions and boxes follow from the pictures drawn below.
 */
function colourModel(): LoadedModel {
  const layer = (name: string, kind: 'input' | 'dense', outputShape: number[]) => ({
    name, type: kind === 'input' ? 'InputLayer' : 'Dense', kind, outputShape, params: 0, inbound: [], receptiveField: null, hasFilters: false, spatial: outputShape.length === 3, activation: null,
  })
  const info: ModelInfo = {
    id: 'colour', dir: '/nowhere', name: 'colour', format: 'layers', inputShape: [64, 64, 3],
    preprocessing: Preprocessing.parse({ inputSize: [64, 64], resize: 'stretch', range: [0, 1] }), preprocessingDefaulted: false,
    labels: ['red', 'green', 'blue'], layers: [layer('input', 'input', [64, 64, 3]), layer('scores', 'dense', [3])], totalParams: 0, warnings: [],
  }
  return {
    info,
    forward: (x, layers) => layers.map((l) => {
      if (l !== OUTPUT) throw new Error(`no layer ${l}`)
      return tf.tidy(() => tf.softmax(x.mean([1, 2]).mul(10)))
    }),
    kernel: () => null,
    dispose: () => {},
  }
}

const colourMaps: MapMethod = {
  name: 'cam',
  label: 'Colour oracle',
  unsupported: () => null,
  async compute(_model, input, classes) {
    const pooled = tf.tidy(() => tf.avgPool(input, 8, 8, 'valid'))
    const data = await pooled.data()
    pooled.dispose()
    return {
      layer: null,
      maps: classes.map((c) => ({ classIndex: c, score: 0, height: 8, width: 8, values: Float32Array.from({ length: 64 }, (_, i) => data[i * 3 + c]!) })),
    }
  },
}

type Rect = { x: number; y: number; w: number; h: number; rgb: [number, number, number] }
async function picture(path: string, rects: Rect[]) {
  const rgb = new Uint8Array(64 * 64 * 3)
  for (const r of rects) for (let y = r.y; y < r.y + r.h; y++) for (let x = r.x; x < r.x + r.w; x++) rgb.set(r.rgb, (y * 64 + x) * 3)
  await sharp(rgb, { raw: { width: 64, height: 64, channels: 3 } }).png().toFile(path)
}
const xml = (name: string, b: [number, number, number, number]) =>
  `<annotation><size><width>64</width><height>64</height><depth>3</depth></size><object><name>${name}</name><bndbox><xmin>${b[0]}</xmin><ymin>${b[1]}</ymin><xmax>${b[2]}</xmax><ymax>${b[3]}</ymax></bndbox></object></annotation>`

let root = ''
let data = ''
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'convscope-localize-'))
  data = join(root, 'val')
  for (const c of ['red', 'green', 'blue']) {
    await mkdir(join(data, c), { recursive: true })
    await mkdir(join(root, 'annotations', 'val', c), { recursive: true })
  }
  const red: Rect = { x: 8, y: 16, w: 32, h: 32, rgb: [255, 0, 0] }
  // a: a red square, annotated where it is: right class, right box.
  await picture(join(data, 'red', 'a.png'), [red])
  await writeFile(join(root, 'annotations', 'val', 'red', 'a.xml'), xml('red', [8, 16, 39, 47]))
  // b: the same picture annotated in the top-right corner: right class, wrong box.
  await picture(join(data, 'red', 'b.png'), [red])
  await writeFile(join(root, 'annotations', 'val', 'red', 'b.xml'), xml('red', [40, 0, 63, 15]))
  // c: a green image with a bigger red square: predicted red (wrong class); green is 2nd and its map finds the green square.
  await picture(join(data, 'green', 'c.png'), [red, { x: 48, y: 48, w: 16, h: 16, rgb: [0, 255, 0] }])
  await writeFile(join(root, 'annotations', 'val', 'green', 'c.xml'), xml('green', [48, 48, 63, 63]))
  // d: no annotation file: reported, not fatal.
  await picture(join(data, 'blue', 'd.png'), [{ x: 0, y: 0, w: 64, h: 64, rgb: [0, 0, 255] }])
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

test('evaluation of a tiny annotated folder: table row, failures, skipped images', async () => {
  const progress: number[] = []
  const ctx: JobContext = { progress: (p) => progress.push(p.done), signal: new AbortController().signal }
  const r = await evaluateLocalization(colourModel(), data, { methods: [colourMaps] }, ctx)
  assert.equal(r.annotations, join(root, 'annotations', 'val'))
  assert.deepEqual([r.listed, r.images], [4, 3])
  assert.deepEqual(progress, [1, 2, 3, 4])
  assert.equal(r.skipped.length, 1)
  assert.match(r.skipped[0]!.reason, /no annotation file/)
  assert.equal(r.skipped[0]!.path, join(data, 'blue', 'd.png'))

  const row = r.rows[0]!
  // Top-1 localization: only a. Top-5: a and c (green is c's 2nd guess). GT-known: a and c. Classification: c wrong.
  assert.equal(row.method, 'cam')
  assert.equal(row.label, 'Colour oracle')
  assert.equal(row.images, 3)
  assert.equal(row.threshold, 0.2)
  assert.equal(row.top1LocError, 1 - 1 / 3)
  assert.equal(row.top5LocError, 1 - 2 / 3)
  assert.equal(row.gtKnownLoc, 2 / 3)
  assert.equal(row.top1ClsError, 1 - 2 / 3)
  assert.equal(row.top5ClsError, 0)

  // Failures, worst IoU first: c (wrong class, IoU 0), then b.
  assert.deepEqual(r.failures.map((f) => [f.relPath, f.reason, f.predictedName, f.labelName]), [
    ['green/c.png', 'wrong class', 'red', 'green'],
    ['red/b.png', 'IoU 0.00 < 0.5', 'red', 'red'],
  ])
  // a's red box: bilinear from 8-pixel cells and 20 % of the max reach 2 pixels past each side of the square.
  const b = r.failures[1]!
  assert.deepEqual(b.box, { xmin: 6, ymin: 14, xmax: 41, ymax: 49 })
  assert.deepEqual(b.gtBoxes, [{ xmin: 40, ymin: 0, xmax: 63, ymax: 15 }])
  assert.deepEqual(r.failureCounts, [{ method: 'cam', count: 2 }])

  // The sweep: at τ = 0 the box is the whole image (IoU 1024/4096 for a, 256/4096 for c) — no GT-known hit;
  // by τ = 0.2 a and c are found.
  const sweep = r.sweep[0]!.points
  assert.equal(sweep.length, 100)
  assert.equal(sweep[0]!.gtKnownLoc, 0)
  assert.deepEqual(sweep[0]!.boxAcc, [0, 0, 0])
  assert.equal(sweep[20]!.gtKnownLoc, 2 / 3)
  assert.equal(row.maxBoxAccV2! > 0.6, true)
  // JSON-able: survives a round trip unchanged.
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r)
})

test('cancelling stops the evaluation with CANCELLED', async () => {
  const abort = new AbortController()
  const ctx: JobContext = { progress: (p) => p.done === 1 && abort.abort(), signal: abort.signal }
  await assert.rejects(evaluateLocalization(colourModel(), data, { methods: [colourMaps] }, ctx), (e: unknown) => e instanceof ConvscopeError && e.code === 'CANCELLED')
})

test('limit spreads the images evenly over the list; a method that cannot run is refused up front', async () => {
  assert.deepEqual(spread([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 3), [0, 3, 6])
  assert.deepEqual(spread([0, 1, 2], 5), [0, 1, 2])
  // The list is blue/d, green/c, red/a, red/b: limit 2 takes d (no annotation) and a.
  const r = await evaluateLocalization(colourModel(), data, { methods: [colourMaps], limit: 2 }, noopContext())
  assert.deepEqual([r.listed, r.images, r.skipped.length], [4, 1, 1])
  assert.equal(r.rows[0]!.top1LocError, 0)
  const refusing: MapMethod = { ...colourMaps, unsupported: () => 'no global average pooling head' }
  await assert.rejects(evaluateLocalization(colourModel(), data, { methods: [refusing] }, noopContext()), /Colour oracle cannot run on colour: no global average pooling head/)
})
