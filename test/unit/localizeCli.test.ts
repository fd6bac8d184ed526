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
import { evaluateLocalization, type LocalizationReport } from '../../src/main/engine/localization/evaluate'
import { spread } from '../../src/main/engine/datasets/datasetImages'
import { classMapBox } from '../../src/main/engine/localization/boxes'
import { mapMethod, runnableMapMethod } from '../../src/main/engine/maps'
import { findMaxPoolHead } from '../../src/main/engine/maps/maxPoolHead'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { readImage } from '../../src/main/engine/images/readImage'
import { toInputTensor, toModelInput } from '../../src/main/engine/images/preprocess'
import { generateDemoDataset } from '../../src/main/engine/demo/generate'
import { main } from '../../src/main/cli/index'
import { LayerGraph } from '../../src/main/engine/models/layerGraph'
import { handMadeMapMethod } from '../fixtures/mapMethods'

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
    graph: new LayerGraph(info),
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
  ...handMadeMapMethod,
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

// ---------------------------------------------------------------------------------------------------
// The commands, in-process on the demo networks and a 14-image demo val split (one image per class).
// ---------------------------------------------------------------------------------------------------

const demoModel = (name: string) => join(import.meta.dirname, '..', '..', 'resources', 'demo-models', name)
let demoRoot = ''

/** Run `convscope args...` in this process; stdout lines collected, stderr passed to `onStderr`. */
async function convscope(args: string[], onStderr: (text: string) => void = () => {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = []
  const err: string[] = []
  const log = console.log
  const error = console.error
  const write = process.stderr.write.bind(process.stderr)
  console.log = (...a: unknown[]) => void out.push(a.join(' '))
  console.error = (...a: unknown[]) => void err.push(a.join(' '))
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err.push(String(chunk))
    onStderr(String(chunk))
    return true
  }) as typeof process.stderr.write
  try {
    const code = await main([...args, '--backend', 'wasm'])
    return { code, stdout: out.join('\n'), stderr: err.join('') }
  } finally {
    console.log = log
    console.error = error
    process.stderr.write = write
  }
}

before(async () => {
  demoRoot = await mkdtemp(join(tmpdir(), 'convscope-localize-demo-'))
  await generateDemoDataset({ out: demoRoot, count: { train: 0, val: 1 } })
})
after(async () => {
  await rm(demoRoot, { recursive: true, force: true })
})

test('localize --json on the demo gap network: annotated images found, rows as evaluateLocalization gives them', async () => {
  const { code, stdout } = await convscope(['localize', '--model', demoModel('gap'), '--data', join(demoRoot, 'val'), '--method', 'cam,gradcam', '--limit', '7', '--json'])
  assert.equal(code, 0)
  const report = JSON.parse(stdout) as LocalizationReport
  assert.deepEqual([report.listed, report.images, report.skipped.length], [14, 7, 0])
  assert.equal(report.annotations, join(demoRoot, 'annotations', 'val'))
  assert.deepEqual(report.rows.map((r) => [r.method, r.label]), [['cam', 'CAM'], ['gradcam', 'Grad-CAM']])
  // The same evaluation in-process, straight from the engine.
  const model = await loadModel(demoModel('gap'))
  try {
    const direct = await evaluateLocalization(model, join(demoRoot, 'val'), { methods: [mapMethod('cam'), mapMethod('gradcam')], limit: 7 }, noopContext())
    assert.deepEqual(report.rows, direct.rows)
    assert.deepEqual(report.failures.map((f) => [f.method, f.relPath, f.box]), direct.failures.map((f) => [f.method, f.relPath, f.box]))
  } finally {
    model.dispose()
  }
  for (const row of report.rows) {
    for (const v of [row.top1LocError, row.top5LocError, row.gtKnownLoc, row.maxBoxAccV2, row.top1ClsError, row.top5ClsError]) assert.ok(v !== null && v >= 0 && v <= 1)
    // Top-5 localization is never worse than top-1.
    assert.ok(row.top5LocError! <= row.top1LocError!)
  }
})

test('localize prints the table; Ctrl-C cancels it', async () => {
  const { code, stdout } = await convscope(['localize', '--model', demoModel('gap'), '--data', join(demoRoot, 'val'), '--method', 'cam', '--limit', '7'])
  assert.equal(code, 0)
  assert.match(stdout, /: 7 images evaluated of 14; annotations .*annotations\/val; boxes at 20 % of the map's max/)
  assert.match(stdout, /^\| method \| top-1 loc\. err\. \| top-5 loc\. err\. \| GT-known loc\. \| MaxBoxAccV2 \| top-1 cls\. err\. \| top-5 cls\. err\. \|$/m)
  assert.match(stdout, /^\| CAM \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$/m)

  let interrupted = false
  const cancelled = await convscope(['localize', '--model', demoModel('gap'), '--data', join(demoRoot, 'val'), '--method', 'cam,gradcam,gradcampp,backprop'], (text) => {
    if (!interrupted && /\] \d+\/14/.test(text)) {
      interrupted = true
      process.emit('SIGINT')
    }
  })
  assert.equal(interrupted, true)
  assert.equal(cancelled.code, 1)
  assert.match(cancelled.stderr, /convscope localize: Cancelled by the user/)
  assert.equal(cancelled.stdout, '')
})

test('cam --json: top-5 classes with boxes and PNGs; --class by label or class id; GMP heads get the CAM paper variant', async () => {
  const image = join(demoRoot, 'val', 'c06_gold_star', 'c06_val_00000.jpg')
  const out = join(demoRoot, 'cam')
  const { code, stdout } = await convscope(['cam', '--model', demoModel('gap'), '--image', image, '--out', out, '--json'])
  assert.equal(code, 0)
  const r = JSON.parse(stdout)
  assert.equal(r.label, 'CAM')
  assert.equal(r.layer, 'conv_last')
  assert.equal(r.annotation, join(demoRoot, 'annotations', 'val', 'c06_gold_star', 'c06_val_00000.xml'))
  assert.equal(r.truth.length, 1)
  assert.deepEqual(r.classes.map((c: { rank: number }) => c.rank), [1, 2, 3, 4, 5])
  // Each box is the engine's box of the same map; each PNG is the image's size.
  const model = await loadModel(demoModel('gap'))
  try {
    const input = await toModelInput(await readImage(image), model.info.preprocessing)
    const x = toInputTensor(input)
    const maps = (await mapMethod('cam').compute(model, x, r.classes.map((c: { classIndex: number }) => c.classIndex))).maps
    x.dispose()
    maps.forEach((m, i) => assert.deepEqual(r.classes[i].box, classMapBox(m, input.geometry).box))
  } finally {
    model.dispose()
  }
  for (const c of r.classes) assert.deepEqual(await sharp(c.file).metadata().then((m) => [m.width, m.height, m.format]), [128, 128, 'png'])

  const byLabel = JSON.parse((await convscope(['cam', '--model', demoModel('gap'), '--image', image, '--class', 'gold star,c02_dotted_disk', '--out', out, '--json'])).stdout)
  assert.deepEqual(byLabel.classes.map((c: { classIndex: number }) => c.classIndex), [6, 2])
  const bad = await convscope(['cam', '--model', demoModel('gap'), '--image', image, '--class', 'zebra', '--out', out])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /"zebra" is no class of gap/)

  const gmp = JSON.parse((await convscope(['cam', '--model', demoModel('gmp'), '--image', image, '--top', '2', '--out', out, '--json'])).stdout)
  assert.equal(gmp.label, 'CAM (global max pooling head)')
  assert.equal(gmp.classes.length, 2)
})

test('CAM over a global max pooling head is Σ_k w_ck f_k(x, y) of conv_last with the dense weights', async () => {
  const gmp = await loadModel(demoModel('gmp'))
  const gap = await loadModel(demoModel('gap'))
  const fc = await loadModel(demoModel('fc'))
  try {
    // The CAM method picks the formula from the head: the GMP variant on gmp, labelled so; the exact one on gap.
    assert.equal(mapMethod('cam').unsupported(gmp), null)
    assert.equal(runnableMapMethod(gmp, 'cam').label, 'CAM (global max pooling head)')
    assert.equal(runnableMapMethod(gap, 'cam'), mapMethod('cam'))
    assert.equal(runnableMapMethod(gap, 'gradcam'), mapMethod('gradcam'))
    assert.match(findMaxPoolHead(gap) as string, /does not read a global max pooling layer/)
    assert.throws(() => runnableMapMethod(fc, 'cam'), (e: unknown) => e instanceof ConvscopeError && e.code === 'UNSUPPORTED_OP')
    assert.ok(mapMethod('cam').unsupported(fc))

    const input = await toModelInput(await readImage(join(demoRoot, 'val', 'c03_checkered_square', 'c03_val_00000.jpg')), gmp.info.preprocessing)
    const x = toInputTensor(input)
    const { maps, layer } = await mapMethod('cam').compute(gmp, x, [3, 11])
    const [features] = gmp.forward(x, ['conv_last'])
    const f = await features!.data()
    const [h, w, k] = features!.shape.slice(1) as [number, number, number]
    const weights = gmp.linearWeights!('predictions')!
    const W = await weights.kernel.data()
    const classes = weights.kernel.shape[1]!
    tf.dispose([x, features!])
    assert.equal(layer, 'conv_last')
    for (const m of maps) {
      assert.deepEqual([m.height, m.width], [h, w])
      for (let p = 0; p < h * w; p++) {
        let sum = 0
        for (let c = 0; c < k; c++) sum += f[p * k + c]! * W[c * classes + m.classIndex]!
        assert.ok(Math.abs(m.values[p]! - sum) <= 1e-4 * (1 + Math.abs(sum)), `class ${m.classIndex} pixel ${p}: ${m.values[p]} vs ${sum}`)
      }
    }
  } finally {
    gmp.dispose()
    gap.dispose()
    fc.dispose()
  }
})
