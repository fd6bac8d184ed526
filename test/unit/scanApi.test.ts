/**
 * Dataset scans through the engine service (issue 4, the API the Units view uses), in process on the cpu
 * backend: startScan → listScans → getTopPatches agree with the scan files, and a scan cancelled midway
 * is listed as incomplete and, started again, resumes and ends with the same result as an uninterrupted one.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { ConvscopeError, parseResult, type ModelInfo, type Progress } from '../../src/shared/api'
import type { JobContext } from '../../src/main/engine/context'
import { createEngine, type EngineService } from '../../src/main/engine/engine'
import { readManifest } from '../../src/main/engine/scan/manifest'
import { topPatches } from '../../src/main/engine/scan/topPatches'
import { float16BitsToFloat32, readNpy } from '../../src/main/engine/store/npy'
import { makeTinyCnn, seededRandom } from '../fixtures/models'

let root: string
let data: string
let engine: EngineService
let model: ModelInfo
const PER_CLASS = 12 // 24 images: two batches of 16, so a cancel after the first batch stops midway

function context(onProgress: (p: Progress) => void = () => {}, controller = new AbortController()): JobContext {
  return { progress: onProgress, signal: controller.signal }
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'convscope-scanapi-'))
  engine = createEngine({ workspace: join(root, 'workspace'), backend: 'cpu' })
  await engine.init()
  const cnn = await makeTinyCnn(join(root, 'model'), { sidecar: { inputSize: [32, 32], range: [0, 1], resize: 'stretch' } })
  model = parseResult('openModel', await engine.handle('openModel', { path: cnn.dir }, context()))
  data = join(root, 'data')
  const rand = seededRandom(11)
  for (const cls of ['cats', 'dogs']) {
    await mkdir(join(data, cls), { recursive: true })
    for (let i = 0; i < PER_CLASS; i++) {
      const pixels = Buffer.alloc(40 * 30 * 3).map(() => Math.floor(rand() * 256))
      await sharp(pixels, { raw: { width: 40, height: 30, channels: 3 } }).png().toFile(join(data, cls, `img${String(i).padStart(2, '0')}.png`))
    }
  }
})
after(async () => {
  engine.dispose()
  await rm(root, { recursive: true, force: true })
})

test('startScan reports progress, lands in <workspace>/scans, and listScans finds it', async () => {
  const progress: Progress[] = []
  const summary = parseResult('startScan', await engine.handle('startScan', { modelId: model.id, dataDir: data, layers: ['conv3', 'conv4'], k: 4 }, context((p) => progress.push(p))))
  assert.equal(summary.status, 'complete')
  assert.equal(summary.images, 2 * PER_CLASS)
  assert.equal(summary.k, 4)
  assert.deepEqual(summary.layers.map((l) => [l.name, l.units]), [['conv3', 16], ['conv4', 16]])
  assert.ok(summary.dir.startsWith(join(root, 'workspace', 'scans')), summary.dir)
  const last = progress[progress.length - 1]!
  assert.equal(last.done, 2 * PER_CLASS)
  assert.equal(last.total, 2 * PER_CLASS)
  assert.match(last.message ?? '', /images\/s · 0 skipped/)

  const listed = parseResult('listScans', await engine.handle('listScans', { modelId: model.id }, context()))
  assert.deepEqual(listed.map((s) => s.dir), [summary.dir])
  assert.deepEqual(parseResult('listScans', await engine.handle('listScans', { modelId: 'another-model' }, context())), [])

  const again = parseResult('startScan', await engine.handle('startScan', { modelId: model.id, dataDir: data, layers: ['conv3', 'conv4'], k: 4 }, context()))
  assert.equal(again.dir, summary.dir, 'the same model, images and settings reuse the finished scan')
  assert.equal(again.finishedAt, summary.finishedAt)
})

test('getTopPatches gives a unit’s top patches, maxima column and top-N classes, as in the scan files', async () => {
  const [scan] = parseResult('listScans', await engine.handle('listScans', { modelId: model.id }, context()))
  const unit = 3
  const got = parseResult('getTopPatches', await engine.handle('getTopPatches', { scanDir: scan!.dir, layer: 'conv4', unit, topN: 5 }, context()))
  const expected = await topPatches(scan!.dir, 'conv4', unit)
  assert.equal(got.units, 16)
  assert.deepEqual(
    got.patches.map((p) => [p.rank, p.path, p.className, p.value, p.y, p.x, p.box]),
    expected.patches.map((p) => [p.rank, p.path, p.className, p.value, p.y, p.x, p.box]),
  )
  assert.equal(got.patches.length, 4)
  for (const p of got.patches) {
    assert.ok(p.path.startsWith(data), 'image paths are absolute')
    assert.deepEqual([p.imageWidth, p.imageHeight], [40, 30])
    assert.ok(p.box && p.box.x >= 0 && p.box.y >= 0 && p.box.x + p.box.width <= 40 + 1e-9 && p.box.y + p.box.height <= 30 + 1e-9, 'the box lies in the image')
  }

  const npy = await readNpy(join(scan!.dir, 'conv4.maxima.npy'))
  const column = Array.from({ length: npy.shape[0]! }, (_, r) => float16BitsToFloat32((npy.data as Uint16Array)[r * 16 + unit]!))
  assert.ok(got.maxima instanceof Float32Array)
  assert.deepEqual(Array.from(got.maxima!), column)
  // The best patch is the best image's maximum (stored as float16 in the maxima file).
  assert.ok(Math.abs(Math.max(...column) - got.patches[0]!.value) <= Math.abs(got.patches[0]!.value) * 1e-3 + 1e-6)

  const manifest = await readManifest(scan!.dir)
  const top5 = column.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 5)
  const counts = new Map<string, number>()
  for (const [, i] of top5) counts.set(manifest.images[i]!.className!, (counts.get(manifest.images[i]!.className!) ?? 0) + 1)
  assert.equal(got.topN, 5)
  assert.deepEqual(Object.fromEntries(got.classHistogram.map((c) => [c.className, c.count])), Object.fromEntries(counts))

  const few = parseResult('getTopPatches', await engine.handle('getTopPatches', { scanDir: scan!.dir, layer: 'conv4', unit, count: 2, withMaxima: false }, context()))
  assert.equal(few.patches.length, 2)
  assert.equal(few.maxima, null)
  await assert.rejects(engine.handle('getTopPatches', { scanDir: scan!.dir, layer: 'conv4', unit: 16 }, context()), (e: ConvscopeError) => e.code === 'BAD_REQUEST')
})

test('getUnitsOverview gives each asked unit the patches getTopPatches gives it, in the order asked', async () => {
  const [scan] = parseResult('listScans', await engine.handle('listScans', { modelId: model.id }, context()))
  const units = [5, 0, 15, 3]
  for (const count of [2, undefined]) {
    const overview = parseResult('getUnitsOverview', await engine.handle('getUnitsOverview', { scanDir: scan!.dir, layer: 'conv3', units, count }, context()))
    assert.equal(overview.units, 16)
    assert.deepEqual(overview.rows.map((r) => r.unit), units)
    for (const row of overview.rows) {
      const one = parseResult('getTopPatches', await engine.handle('getTopPatches', { scanDir: scan!.dir, layer: 'conv3', unit: row.unit, count }, context()))
      assert.deepEqual(row.patches, one.patches, `unit ${row.unit}, count ${count}`)
      assert.equal(row.patches.length, count ?? 4)
    }
  }
  await assert.rejects(engine.handle('getUnitsOverview', { scanDir: scan!.dir, layer: 'conv3', units: [2, 16] }, context()), (e: ConvscopeError) => e.code === 'BAD_REQUEST')
  await assert.rejects(engine.handle('getUnitsOverview', { scanDir: scan!.dir, layer: 'fc', units: [0] }, context()), (e: ConvscopeError) => e.code === 'BAD_REQUEST')
})

test('a scan cancelled midway is listed as incomplete, and started again it resumes to the uninterrupted result', async () => {
  const params = { modelId: model.id, dataDir: data, layers: ['pool1', 'conv4'], k: 3 }
  const controller = new AbortController()
  const seen: Progress[] = []
  await assert.rejects(
    engine.handle('startScan', params, context((p) => {
      seen.push(p)
      if (p.done > 0) controller.abort() // after the first batch
    }, controller)),
    (e: ConvscopeError) => e.code === 'CANCELLED',
  )
  const stoppedAt = seen[seen.length - 1]!.done
  assert.ok(stoppedAt > 0 && stoppedAt < 2 * PER_CLASS, `stopped at ${stoppedAt}`)
  const listed = parseResult('listScans', await engine.handle('listScans', { modelId: model.id }, context()))
  const partial = listed.find((s) => s.status === 'incomplete')
  assert.ok(partial, 'the cancelled scan is listed')
  assert.deepEqual(partial.layers.map((l) => l.name), ['pool1', 'conv4'])
  assert.ok((await readdir(partial.dir)).includes('.scan-checkpoint.bin'))

  const resumedProgress: Progress[] = []
  const resumed = parseResult('startScan', await engine.handle('startScan', params, context((p) => resumedProgress.push(p))))
  assert.equal(resumed.dir, partial.dir)
  assert.equal(resumed.status, 'complete')
  assert.equal(resumed.resumed, true)
  assert.equal(resumedProgress.find((p) => p.total !== null)!.done, stoppedAt, 'it starts from the checkpoint, not from 0')

  // The same scan in a fresh workspace, uninterrupted.
  const fresh = createEngine({ workspace: join(root, 'workspace2'), backend: 'cpu' })
  try {
    await fresh.handle('openModel', { path: join(root, 'model') }, context())
    const whole = parseResult('startScan', await fresh.handle('startScan', params, context()))
    for (const layer of ['pool1', 'conv4']) {
      for (const unit of [0, 5]) {
        const a = parseResult('getTopPatches', await engine.handle('getTopPatches', { scanDir: resumed.dir, layer, unit }, context()))
        const b = parseResult('getTopPatches', await fresh.handle('getTopPatches', { scanDir: whole.dir, layer, unit }, context()))
        assert.deepEqual(a.patches, b.patches, `${layer} unit ${unit}`)
        assert.deepEqual(Array.from(a.maxima!), Array.from(b.maxima!))
      }
    }
  } finally {
    fresh.dispose()
  }
})
