/**
 * The Classes view's API through the engine service (issue 5), in process on the wasm backend with the
 * bundled demo networks and a small generated demo val split (2 images per class, with its annotations):
 * getMapMethods, getClassMaps (top-5 maps, boxes in image pixels, ground truth found from the demo's
 * annotations/ layout), startLocalization (progress, table, sweep, failures, cancel), getClassMapGrid
 * (the fully-convolutional rewrite) and getFaithfulness.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { ConvscopeError, parseResult, type ModelInfo, type Progress } from '../../src/shared/api'
import type { JobContext } from '../../src/main/engine/context'
import { DEMO_CLASSES, generateDemoDataset } from '../../src/main/engine/demo'
import { createEngine, type EngineService } from '../../src/main/engine/engine'
import { MAP_METHOD_NAMES, MAP_METHODS } from '../../src/main/engine/maps'
import { makeTinyGraphModel } from '../fixtures/models'

const MODELS = join(import.meta.dirname, '../../resources/demo-models')
const PER_CLASS = 2

let root: string
let val: string
let engine: EngineService
let gap: ModelInfo
let fc: ModelInfo

function context(onProgress: (p: Progress) => void = () => {}, controller = new AbortController()): JobContext {
  return { progress: onProgress, signal: controller.signal }
}
const call = async <M extends Parameters<typeof parseResult>[0]>(method: M, params: unknown, ctx = context()) => parseResult(method, await engine.handle(method, params, ctx))
const image = (classIndex: number, i = 0) => join(val, DEMO_CLASSES[classIndex]!.id, `c${String(classIndex).padStart(2, '0')}_val_${String(i).padStart(5, '0')}.jpg`)

/** The raw <bndbox> numbers of an annotation file (0-based inclusive, as the demo writes them). */
async function xmlBoxes(file: string): Promise<{ name: string; xmin: number; ymin: number; xmax: number; ymax: number }[]> {
  const xml = await readFile(file, 'utf8')
  return [...xml.matchAll(/<object>[\s\S]*?<name>(.*?)<\/name>[\s\S]*?<xmin>(\d+)<\/xmin>\s*<ymin>(\d+)<\/ymin>\s*<xmax>(\d+)<\/xmax>\s*<ymax>(\d+)<\/ymax>/g)].map((m) => ({
    name: m[1]!,
    xmin: Number(m[2]),
    ymin: Number(m[3]),
    xmax: Number(m[4]),
    ymax: Number(m[5]),
  }))
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'convscope-classmaps-'))
  await generateDemoDataset({ out: join(root, 'demo'), count: { train: 0, val: PER_CLASS }, size: 128, seed: 0 })
  val = join(root, 'demo', 'val')
  engine = createEngine({ workspace: join(root, 'workspace'), backend: 'wasm' })
  await engine.init()
  gap = await call('openModel', { path: join(MODELS, 'gap') })
  fc = await call('openModel', { path: join(MODELS, 'fc') })
})
after(async () => {
  engine.dispose()
  await rm(root, { recursive: true, force: true })
})

test('getMapMethods: every method runs on the GAP network; CAM is refused on the fc network with the reason', async () => {
  const g = await call('getMapMethods', { modelId: gap.id })
  assert.deepEqual(g.methods.map((m) => [m.name, m.unsupported]), MAP_METHOD_NAMES.map((name) => [name, null]))
  assert.deepEqual(g.methods.slice(0, 4).map((m) => m.name), ['cam', 'gradcam', 'gradcampp', 'backprop'])
  assert.equal(g.defaultLayer, 'conv_last')
  assert.ok(g.layers.includes('conv_last') && !g.layers.includes('predictions'), g.layers.join(','))
  const f = await call('getMapMethods', { modelId: fc.id })
  const cam = f.methods.find((m) => m.name === 'cam')!
  assert.ok(cam.unsupported && cam.unsupported.length > 10, `CAM on fc: ${cam.unsupported}`)
  assert.deepEqual(f.methods.filter((m) => m.unsupported !== null).map((m) => m.name), ['cam'])
  assert.equal(f.fullyConvolutional, null, 'the fc network has a flatten → dense head to rewrite')

  const graph = await makeTinyGraphModel(join(root, 'graph'))
  const opened = await call('openModel', { path: graph.dir })
  const g2 = await call('getMapMethods', { modelId: opened.id })
  // Since issue 10 the fully-convolutional form works from any format's layer table: the graph model's Mean → MatMul head has one.
  assert.equal(g2.fullyConvolutional, null)
})

test('getMapMethods carries each method as the registry describes it: what it needs, its grid, its cost', async () => {
  const { methods } = await call('getMapMethods', { modelId: gap.id })
  const byName = new Map(methods.map((m) => [m.name, m]))
  assert.deepEqual(byName.get('cam'), { name: 'cam', label: 'CAM', unsupported: null, needs: { layer: false, gradient: false, globalPoolingHead: true }, returns: 'one-channel', grid: 'layer', cost: 'forward only', comparedByDefault: true, scores: ['logit'] })
  assert.deepEqual(byName.get('gradcam')!.needs, { layer: true, gradient: true, globalPoolingHead: false })
  assert.equal(byName.get('backprop')!.grid, 'input')
  for (const { unsupported: _, label: __, ...sent } of methods) {
    const { name, needs, returns, grid, cost, comparedByDefault, scores } = MAP_METHODS[sent.name]!
    assert.deepEqual(sent, { name, needs, returns, grid, cost, comparedByDefault, scores }, `${sent.name}: as registered`)
  }
})

test('getClassMaps: the top-5 CAMs with names, scores, boxes in image pixels, and the annotation’s boxes', async () => {
  const path = image(6) // gold star
  const r = await call('getClassMaps', { modelId: gap.id, image: path, method: 'cam', dataDir: val })
  assert.equal(r.method, 'cam')
  assert.equal(r.layer, 'conv_last')
  assert.equal(r.threshold, 0.2)
  assert.equal(r.predictions.length, 5)
  assert.deepEqual(r.maps.map((m) => m.classIndex), r.predictions.map((p) => p.index), 'maps of the top-5, in rank order')
  for (const [i, m] of r.maps.entries()) {
    assert.equal(m.label, gap.labels![m.classIndex])
    assert.equal(m.probability, r.predictions[i]!.score)
    assert.equal(m.values.length, m.height * m.width)
    assert.deepEqual([m.height, m.width], [8, 8])
    // CAM identity (Zhou et al.): the logit is the spatial mean of the class's CAM plus its bias, so logits
    // rank like the probabilities.
    if (i > 0) assert.ok(m.logit <= r.maps[i - 1]!.logit + 1e-6)
    assert.ok(m.box, `class ${m.classIndex} has a box`)
    assert.ok(m.box.x >= 0 && m.box.y >= 0 && m.box.x + m.box.width <= 128 && m.box.y + m.box.height <= 128, JSON.stringify(m.box))
  }
  assert.deepEqual(r.inputOnImage, { x: 0, y: 0, width: 128, height: 128 }, 'stretch: the 64² input covers the whole 128² image')

  const annotation = join(root, 'demo', 'annotations', 'val', DEMO_CLASSES[6]!.id, 'c06_val_00000.xml')
  assert.ok(r.groundTruth, 'the demo annotation is found from the val folder')
  assert.equal(r.groundTruth.annotation, annotation)
  assert.equal(r.groundTruth.error, null)
  const raw = await xmlBoxes(annotation)
  assert.deepEqual(
    r.groundTruth.boxes.map((b) => [b.name, b.classIndex, b.box]),
    raw.map((o) => [o.name, 6, { x: o.xmin, y: o.ymin, width: o.xmax - o.xmin + 1, height: o.ymax - o.ymin + 1 }]),
  )
})

test('getClassMaps: chosen classes, a higher threshold, Grad-CAM at another layer, gradient saliency on the input grid', async () => {
  const path = image(10)
  const one = await call('getClassMaps', { modelId: gap.id, image: path, method: 'cam', classes: [3] })
  assert.deepEqual(one.maps.map((m) => m.classIndex), [3])
  const low = await call('getClassMaps', { modelId: gap.id, image: path, method: 'cam', classes: [10], threshold: 0.1 })
  const high = await call('getClassMaps', { modelId: gap.id, image: path, method: 'cam', classes: [10], threshold: 0.8 })
  assert.deepEqual(low.maps[0]!.values, high.maps[0]!.values, 'the threshold changes the box, not the map')
  const area = (b: { width: number; height: number } | null) => (b ? b.width * b.height : 0)
  assert.ok(area(high.maps[0]!.box) < area(low.maps[0]!.box), `box at 80 % (${area(high.maps[0]!.box)}) is smaller than at 10 % (${area(low.maps[0]!.box)})`)

  const info = await call('getMapMethods', { modelId: gap.id })
  const earlier = info.layers[info.layers.indexOf('conv_last') - 1]!
  const gc = await call('getClassMaps', { modelId: gap.id, image: path, method: 'gradcam', layer: earlier, top: 2 })
  assert.equal(gc.layer, earlier)
  assert.equal(gc.maps.length, 2)
  const bp = await call('getClassMaps', { modelId: gap.id, image: path, method: 'backprop', top: 1 })
  assert.equal(bp.layer, null)
  assert.deepEqual([bp.maps[0]!.height, bp.maps[0]!.width], [64, 64], 'gradient saliency lives on the input grid')
})

test('getClassMaps: a broken annotation file spoils the boxes, not the maps', async () => {
  const path = image(2, 1)
  const file = join(root, 'demo', 'annotations', 'val', DEMO_CLASSES[2]!.id, 'c02_val_00001.xml')
  const good = await readFile(file, 'utf8')
  try {
    await writeFile(file, good.replace(/<xmin>\d+<\/xmin>/, '<xmin>left</xmin>'))
    const r = await call('getClassMaps', { modelId: gap.id, image: path, method: 'cam', dataDir: val, top: 1 })
    assert.equal(r.maps.length, 1)
    assert.equal(r.groundTruth?.annotation, file)
    assert.deepEqual(r.groundTruth?.boxes, [])
    assert.match(r.groundTruth?.error ?? '', /<xmin> is "left", not a number/)
  } finally {
    await writeFile(file, good)
  }
})

test('getClassMaps: CAM on the fc network and an out-of-range class are refused with the reason', async () => {
  await assert.rejects(
    engine.handle('getClassMaps', { modelId: fc.id, image: image(0), method: 'cam' }, context()),
    (e: unknown) => e instanceof ConvscopeError && e.code === 'UNSUPPORTED_OP' && /CAM cannot run on fc/.test(e.message),
  )
  await assert.rejects(
    engine.handle('getClassMaps', { modelId: gap.id, image: image(0), method: 'cam', classes: [14] }, context()),
    (e: unknown) => e instanceof ConvscopeError && e.code === 'BAD_REQUEST' && /14 classes/.test(e.message),
  )
})

test('CAM on the GMP network is the CAM paper\'s global-max-pooling variant in the app too (GAP vs GMP comparison)', async () => {
  const gmp = await call('openModel', { path: join(MODELS, 'gmp') })
  const methods = await call('getMapMethods', { modelId: gmp.id })
  const cam = methods.methods.find((m) => m.name === 'cam')!
  assert.equal(cam.unsupported, null)
  assert.match(cam.label, /global max pooling/)
  const r = await call('getClassMaps', { modelId: gmp.id, image: image(3), method: 'cam' })
  assert.equal(r.maps.length, 5)
  assert.ok(r.maps.every((m) => m.height === 8 && m.width === 8 && m.box !== null))
})

test('startLocalization: progress, a row per method, the sweep, failures; `limit` spreads over the classes', async () => {
  const progress: Progress[] = []
  const r = await call('startLocalization', { modelId: gap.id, dataDir: val, methods: ['cam', 'gradcam'], limit: 14 }, context((p) => progress.push(p)))
  assert.equal(r.listed, 14 * PER_CLASS)
  assert.equal(r.images, 14)
  assert.equal(r.threshold, 0.2)
  assert.equal(r.annotations, join(root, 'demo', 'annotations', 'val'))
  assert.deepEqual(r.rows.map((row) => row.method), ['cam', 'gradcam'])
  for (const row of r.rows) {
    assert.equal(row.images, 14)
    for (const v of [row.top1LocError, row.top5LocError, row.gtKnownLoc, row.maxBoxAccV2]) assert.ok(v !== null && v >= 0 && v <= 1, JSON.stringify(row))
    assert.ok(row.top5LocError! <= row.top1LocError!, 'top-5 error ≤ top-1 error')
  }
  assert.deepEqual(r.sweep.map((s) => [s.method, s.points.length]), [['cam', 100], ['gradcam', 100]])
  const classes = new Set(r.failures.map((f) => f.relPath.split('/')[0]))
  for (const f of r.failures) assert.match(f.reason, /wrong class|IoU/)
  assert.equal(r.failures.length, r.failureCounts.reduce((n, c) => n + c.count, 0))
  assert.ok(classes.size <= 14)
  const last = progress[progress.length - 1]!
  assert.deepEqual([last.done, last.total], [14, 14])
})

test('startLocalization is cancellable', async () => {
  const controller = new AbortController()
  await assert.rejects(
    engine.handle('startLocalization', { modelId: gap.id, dataDir: val, methods: ['gradcampp'] }, context(() => controller.abort(), controller)),
    (e: unknown) => e instanceof ConvscopeError && e.code === 'CANCELLED',
  )
})

test('getClassMapGrid: the fc network rewritten as convolutions; at the training size it is the original network', async () => {
  const path = image(6)
  const same = await call('getClassMapGrid', { modelId: fc.id, image: path, size: 64 })
  assert.deepEqual([same.height, same.width, same.head], [1, 1, 'flatten-dense'])
  const maps = await call('getClassMaps', { modelId: fc.id, image: path, method: 'gradcam', top: 1 })
  assert.equal(same.argmax[0], maps.predictions[0]!.index)
  assert.ok(Math.abs(same.maxProbability[0]! - maps.predictions[0]!.score) < 1e-4, `${same.maxProbability[0]} vs ${maps.predictions[0]!.score}`)

  const big = await call('getClassMapGrid', { modelId: fc.id, image: path, size: 128 })
  assert.ok(big.height > 1 && big.width > 1, `${big.height}×${big.width}`)
  assert.equal(big.argmax.length, big.height * big.width)
  assert.equal(big.probabilities.length, big.height * big.width * 14)
  for (let p = 0; p < big.argmax.length; p++) {
    let sum = 0
    for (let c = 0; c < 14; c++) sum += big.probabilities[p * 14 + c]!
    assert.ok(Math.abs(sum - 1) < 1e-4, `position ${p} sums to ${sum}`)
  }
  await assert.rejects(engine.handle('getClassMapGrid', { modelId: fc.id, image: path, size: 32 }, context()), /smaller than the training input/)
})

test('getFaithfulness: deletion / insertion curves of a CAM, from the image’s probability, against a random order', async () => {
  const path = image(6) // gold star, classified right with a clear map
  const maps = await call('getClassMaps', { modelId: gap.id, image: path, method: 'cam', top: 1 })
  const f = await call('getFaithfulness', { modelId: gap.id, image: path, method: 'cam', points: 26 })
  assert.equal(f.classIndex, maps.predictions[0]!.index, 'default: the top-1 class')
  assert.equal(f.label, 'gold star')
  for (const curve of [f.deletion, f.insertion, f.random.deletion, f.random.insertion]) {
    assert.equal(curve.fractions.length, 26)
    assert.deepEqual([curve.fractions[0], curve.fractions[25]], [0, 1])
  }
  const p = maps.predictions[0]!.score
  assert.ok(Math.abs(f.deletion.scores[0]! - p) < 1e-4, `nothing deleted: the image's probability ${p}, got ${f.deletion.scores[0]}`)
  assert.ok(Math.abs(f.insertion.scores[25]! - p) < 1e-4, `everything inserted: the image's probability ${p}, got ${f.insertion.scores[25]}`)
  // Insertion by the CAM order restores the star from the blur sooner than a random order. The margin depends on the
  // network: the retrained gap network already sees a gold star in a rather blurred one (random order: AUC ≈ 0.90,
  // CAM ≈ 1.0). (Deletion is no such test here: zeroing 2–4 % of the pixels at random destroys the prediction.)
  assert.ok(f.insertion.auc > f.random.insertion.auc + 0.05, `insertion AUC: CAM ${f.insertion.auc} vs random ${f.random.insertion.auc}`)
  assert.ok(f.deletion.scores[25]! < 0.05 && f.deletion.auc < 0.5, `deleting the CAM's pixels removes the star: AUC ${f.deletion.auc}`)

  // The random baseline depends on the image, not on where its folder lies.
  const copy = join(root, 'elsewhere', basename(path))
  await mkdir(dirname(copy), { recursive: true })
  await copyFile(path, copy)
  const moved = await call('getFaithfulness', { modelId: gap.id, image: copy, method: 'cam', points: 26 })
  assert.deepEqual(moved.random, f.random)

  const other = await call('getFaithfulness', { modelId: gap.id, image: path, method: 'gradcam', class: 3, points: 11 })
  assert.equal(other.classIndex, 3)
  assert.equal(other.deletion.scores.length, 11)
  await assert.rejects(engine.handle('getFaithfulness', { modelId: gap.id, image: path, method: 'cam', class: 99 }, context()), /Class 99 is out of range: gap has 14 classes/)
})

test('startFaithfulness: mean curves over a folder for a method and the random baseline, with progress', async () => {
  const progress: Progress[] = []
  const r = await call('startFaithfulness', { modelId: gap.id, dataDir: val, methods: ['cam'], limit: 2, points: 11 }, context((p) => progress.push(p)))
  assert.equal(r.images, 2)
  assert.deepEqual(r.methods.map((m) => [m.method, m.label, m.images]), [['cam', 'CAM', 2], ['random', 'Random order', 2]])
  for (const m of r.methods) assert.ok(Math.abs(m.deletionAuc - m.deletion.auc) < 1e-9 && m.deletion.scores.length === 11)
  assert.deepEqual([progress.at(-1)!.done, progress.at(-1)!.total], [2, 2])
})

test('getClassFolders: the demo class folders map to the model’s classes through classes.json; others to null', async () => {
  const folders = [DEMO_CLASSES[3]!.id, DEMO_CLASSES[12]!.id, 'spiral', 'not_a_class']
  const r = await call('getClassFolders', { modelId: gap.id, dataDir: val, folders })
  assert.deepEqual(r, [
    { folder: DEMO_CLASSES[3]!.id, classIndex: 3 },
    { folder: DEMO_CLASSES[12]!.id, classIndex: 12 },
    { folder: 'spiral', classIndex: 12 },
    { folder: 'not_a_class', classIndex: null },
  ])
})
