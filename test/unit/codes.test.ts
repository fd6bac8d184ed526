/**
 * Codes (issue 13, item 1) as a product of the scan pipeline, on the demo gap network over a few demo images
 * and one corrupt file: each row equals a direct per-image computation (tfjs forward to conv_last, mean over
 * space in a plain loop; the gap layer's output is that mean); the thumbnails are sharp's 32×32 squash of the
 * file and the classes the output's argmax; float16 rows are the float32 rows rounded; a skipped image has a NaN
 * row, a zero thumbnail, class -1 and is listed; shards merged equal one run byte for byte (onnxruntime and tfjs);
 * a run may keep top-K layers beside its codes; a run killed with SIGKILL resumes to the same bytes; imageCode
 * gives a folder image's row exactly; the folder readers refuse what is not a finished codes folder; the
 * workspace job lists, resumes and reuses; getCodeUnitValues reads a scan's maxima column.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import sharp from 'sharp'
import { generateDemoDataset } from '../../src/main/engine/demo'
import { listImageFolder } from '../../src/main/engine/images/imageFolder'
import { readImage } from '../../src/main/engine/images/readImage'
import { toInputTensor, toModelInput } from '../../src/main/engine/images/preprocess'
import { OUTPUT, type LoadedModel } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { runScan, type ScanOptions } from '../../src/main/engine/scan/runScan'
import { mergeScans } from '../../src/main/engine/scan/merge'
import { MANIFEST_FILE, readManifest, maximaFile } from '../../src/main/engine/scan/manifest'
import { float16ToFloat32, float32ToFloat16, readNpy } from '../../src/main/engine/store/npy'
import { readCodeMatrix, readCodesFolder, readPixelMatrix } from '../../src/main/engine/codes/codesFolder'
import { imageCode } from '../../src/main/engine/codes/imageCode'
import { getCodeImages, listCodes, startCodes } from '../../src/main/engine/methods/embeddings/codes'
import { getCodeUnitValues } from '../../src/main/engine/methods/embeddings/unitValues'
import { SCANS_DIR } from '../../src/main/engine/scan/scanJobs'
import type { JobContext } from '../../src/main/engine/context'
import { GetCodeUnitValues, StartCodes } from '../../src/shared/api'
import { checkpointPosition, childScan } from '../helpers/killableRun'

const ROOT = join(import.meta.dirname, '../..')
const GAP = join(ROOT, 'resources/demo-models/gap')
const BATCH = 2
let scratch = ''
let data = ''
let model: LoadedModel
let images: string[] = []
let classNames: (string | null)[] = []
let broken = ''
let single = ''

before(async () => {
  await tf.setBackend('cpu')
  scratch = await mkdtemp(join(tmpdir(), 'convscope-codes-'))
  await generateDemoDataset({ out: join(scratch, 'demo'), count: { train: 0, val: 2 }, classes: 5, size: 80, seed: 4 })
  data = join(scratch, 'demo', 'val')
  const first = (await listImageFolder(data)).images[0]!
  broken = join(first.path, '..', 'zz-broken.png')
  await writeFile(broken, 'this is not a png')
  const folder = await listImageFolder(data)
  images = folder.images.map((i) => i.path)
  classNames = folder.images.map((i) => i.className)
  model = await loadModel(GAP)
})
after(async () => {
  model?.dispose()
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

const run = (out: string, extra: Partial<ScanOptions> = {}) =>
  runScan({ model, images, classNames, root: data, layers: [], codes: { layer: 'gap', dtype: 'float32' }, batchSize: BATCH, out, checkpointMs: 1e9, ...extra })

/** Every file of a finished folder but the manifest, by name, as bytes. */
async function arrays(dir: string): Promise<Map<string, Buffer>> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.npy')).sort()
  return new Map(await Promise.all(names.map(async (n) => [n, await readFile(join(dir, n))] as [string, Buffer])))
}
async function assertSameBytes(a: string, b: string) {
  const fa = await arrays(a)
  const fb = await arrays(b)
  assert.deepEqual([...fa.keys()], ['codes.npy', 'pixels.npy', 'predicted.npy'])
  assert.deepEqual([...fb.keys()], [...fa.keys()])
  for (const [name, bytes] of fa) assert.ok(bytes.equals(fb.get(name)!), `${name} differs`)
}

test('codes rows equal a direct per-image computation; thumbnails, classes and the skipped image as documented', async () => {
  single = join(scratch, 'single')
  const manifest = await run(single)
  assert.deepEqual(manifest.codes, { layer: 'gap', dim: 192, pooled: false, height: 1, width: 1, dtype: 'float32', classes: 14, labels: model.info.labels })
  assert.deepEqual(manifest.layers, [])
  const brokenIndex = images.indexOf(broken)
  assert.deepEqual(manifest.skipped.map((s) => s.index), [brokenIndex])
  const { data: codes, count, dim } = await readCodeMatrix(single)
  const { data: pixels } = await readPixelMatrix(single)
  const predicted = (await readNpy(join(single, 'predicted.npy'))).data as Int32Array
  assert.equal(count, images.length)
  for (const [i, path] of images.entries()) {
    const row = codes.subarray(i * dim, (i + 1) * dim)
    if (i === brokenIndex) {
      assert.ok(row.every(Number.isNaN), 'a skipped image has a NaN code row')
      assert.ok(pixels.subarray(i * 3072, (i + 1) * 3072).every((v) => v === 0), 'and a zero thumbnail')
      assert.equal(predicted[i], -1)
      continue
    }
    // Direct: the conv_last map of this image alone, averaged over space in a plain loop.
    const x = toInputTensor(await toModelInput(await readImage(path), model.info.preprocessing))
    const [map, out] = model.forward(x, ['conv_last', OUTPUT])
    const [, h, w, c] = map!.shape as number[]
    const v = map!.dataSync()
    for (let u = 0; u < c!; u++) {
      let s = 0
      for (let p = 0; p < h! * w!; p++) s += v[p * c! + u]!
      const want = s / (h! * w!)
      assert.ok(Math.abs(row[u]! - want) <= 1e-5 * Math.max(1, Math.abs(want)), `image ${i} unit ${u}: ${row[u]} vs ${want}`)
    }
    const scores = Array.from(out!.dataSync())
    assert.equal(predicted[i], scores.indexOf(Math.max(...scores)), `image ${i}: top-1 class`)
    tf.dispose([x, map!, out!])
    // The thumbnail: the whole file squashed to 32×32 by sharp.
    const thumb = await sharp(path).resize(32, 32, { fit: 'fill' }).removeAlpha().raw().toBuffer()
    assert.ok(Buffer.from(pixels.subarray(i * 3072, (i + 1) * 3072)).equals(thumb), `image ${i}: thumbnail`)
  }
})

test('the codes folder: images with classes, predictions and labels; float16 rows are the float32 rows rounded', async () => {
  const folder = await readCodesFolder(single)
  assert.equal(folder.summary.layer, 'gap')
  assert.equal(folder.images.length, images.length)
  assert.deepEqual(folder.images.map((i) => i.path), images)
  assert.deepEqual(folder.images.map((i) => i.className), classNames)
  const bad = folder.images.find((i) => i.path === broken)!
  assert.deepEqual([bad.ok, bad.predicted, bad.predictedLabel], [false, null, null])
  const good = folder.images.find((i) => i.ok)!
  assert.equal(good.predictedLabel, model.info.labels![good.predicted!])

  const half = join(scratch, 'half')
  await run(half, { codes: { layer: 'gap', dtype: 'float16' } })
  const npy = await readNpy(join(half, 'codes.npy'))
  assert.equal(npy.dtype, 'float16')
  const full = await readCodeMatrix(single)
  assert.deepEqual(Array.from(npy.data as Uint16Array), Array.from(float32ToFloat16(full.data)))
  assert.deepEqual(Array.from((await readCodeMatrix(half)).data), Array.from(float16ToFloat32(float32ToFloat16(full.data))))
  assert.ok((await readFile(join(half, 'pixels.npy'))).equals(await readFile(join(single, 'pixels.npy'))))
})

test('codes shards merged equal one run byte for byte, on onnxruntime and on tfjs; other settings are refused', async () => {
  assert.equal((await readManifest(single)).executor, 'onnxruntime-cpu', 'the demo network runs on onnxruntime by default')
  const tfjsSingle = join(scratch, 'tfjs-single')
  await run(tfjsSingle, { executor: 'tfjs', batchSize: 3 })
  for (const [executor, one] of [['onnxruntime', single], ['tfjs', tfjsSingle]] as const) {
    const parts = [0, 1, 2].map((i) => join(scratch, `${executor}-shard${i}`))
    for (const [i, dir] of parts.entries()) await run(dir, { shard: { index: i, count: 3 }, executor })
    await assert.rejects(readCodesFolder(parts[0]!), /shard 0\/3 of a codes run; merge the shards first/)
    const merged = join(scratch, `${executor}-merged`)
    await mergeScans(parts, merged, { maximaBlockBytes: 3072 * 2 }) // blocks of 2 thumbnail rows
    await assertSameBytes(merged, one)
    assert.deepEqual((await readManifest(merged)).codes, (await readManifest(one)).codes)
  }
  const other = join(scratch, 'other-shard')
  await run(other, { shard: { index: 1, count: 3 }, codes: { layer: 'gap', dtype: 'float16' } })
  await assert.rejects(mergeScans([join(scratch, 'onnxruntime-shard0'), other, join(scratch, 'onnxruntime-shard2')], join(scratch, 'bad-merge')), /has codes of gap as float16, .* codes of gap as float32/)
  await assert.rejects(run(single, { codes: { layer: 'conv_last', dtype: 'float32' } }), /holds a scan made with codes of gap as float32; choose another --out folder/)
})

test('a codes run may scan top-K layers too: the same codes bytes, and the scan files beside them', async () => {
  const both = join(scratch, 'both')
  const m = await run(both, { layers: ['conv_last'], k: 3 })
  assert.deepEqual(m.layers.map((l) => l.name), ['conv_last'])
  const names = (await readdir(both)).filter((n) => n.endsWith('.npy')).sort()
  assert.deepEqual(names, ['codes.npy', 'conv_last.maxima.npy', 'conv_last.topk.images.npy', 'conv_last.topk.values.npy', 'conv_last.topk.yx.npy', 'pixels.npy', 'predicted.npy'])
  for (const n of ['codes.npy', 'pixels.npy', 'predicted.npy']) assert.ok((await readFile(join(both, n))).equals(await readFile(join(single, n))), `${n} differs`)
})

/** A codes run in a child process (throttled, a checkpoint after every batch); resolves when it exits. */
const childRun = (out: string, killWhen?: () => Promise<boolean>) =>
  childScan(GAP, { images, classNames, root: data, layers: [], codes: { layer: 'gap', dtype: 'float32' }, batchSize: BATCH, out }, { slowMs: 40, killWhen })

const exists = (p: string) => stat(p).then(() => true, () => false)

test('a codes run killed with SIGKILL resumes to exactly the uninterrupted bytes', async () => {
  const out = join(scratch, 'killed')
  const first = await childRun(out, async () => (await checkpointPosition(out).catch(() => 0)) >= 2 * BATCH)
  assert.ok(first.killed, 'the first run was killed')
  assert.equal(await exists(join(out, MANIFEST_FILE)), false, 'killed before the end')
  const at = await checkpointPosition(out)
  assert.ok(at > 0 && at < images.length, `killed at ${at} of ${images.length}`)
  await childRun(out)
  const m = await readManifest(out)
  assert.equal(m.timing.resumed, true)
  assert.deepEqual((await readdir(out)).filter((n) => !n.endsWith('.npy') && n !== MANIFEST_FILE), [], 'no checkpoint or partial file left')
  await assertSameBytes(out, single)
})

test('imageCode gives a folder image exactly its row; another model is refused', async () => {
  const { data: codes, dim } = await readCodeMatrix(single)
  const { data: pixels } = await readPixelMatrix(single)
  for (const i of [0, 3]) {
    const got = await imageCode(model, single, images[i]!)
    assert.deepEqual(Array.from(got.code), Array.from(codes.subarray(i * dim, (i + 1) * dim)), `image ${i}: code`)
    assert.deepEqual(Array.from(got.pixels), Array.from(pixels.subarray(i * 3072, (i + 1) * 3072)), `image ${i}: pixels`)
  }
  const fc = await loadModel(join(ROOT, 'resources/demo-models/fc'))
  try {
    await assert.rejects(imageCode(fc, single, images[0]!), /holds codes of another model/)
  } finally {
    fc.dispose()
  }
})

test('the readers refuse what is not a finished codes folder, saying why', async () => {
  const empty = join(scratch, 'empty')
  await mkdir(empty)
  await assert.rejects(readCodesFolder(empty), /is not a finished codes folder: .*holds no finished scan/)
  const scan = join(scratch, 'plain-scan')
  await runScan({ model, images, classNames, root: data, layers: ['conv_last'], k: 3, batchSize: 4, out: scan, checkpointMs: 1e9 })
  await assert.rejects(readCodeMatrix(scan), /holds a scan without codes \(made by convscope scan, not convscope codes\)/)
})

test('the workspace job: listed while unfinished, resumed, reused; getCodeUnitValues reads the scan maxima column', async () => {
  const workspace = join(scratch, 'workspace')
  const abort = new AbortController()
  let reports = 0
  const ctx = (signal: AbortSignal): JobContext =>
    ({
      signal,
      // Cancel at the run's first report (after listing the images): one batch holds them all.
      progress: () => {
        if (++reports === 2) abort.abort()
      },
    }) as unknown as JobContext
  const request = StartCodes.parse({ modelId: model.info.id, dataDir: data })
  await assert.rejects(startCodes(workspace, model, request, ctx(abort.signal)), /codes run cancelled; run it again with the same arguments to resume/)
  const listed = await listCodes(workspace, model.info.id)
  assert.equal(listed.length, 1)
  assert.deepEqual([listed[0]!.status, listed[0]!.layer, listed[0]!.dim, listed[0]!.images], ['incomplete', 'gap', 192, images.length])
  const done = await startCodes(workspace, model, request, ctx(new AbortController().signal))
  assert.equal(done.status, 'complete')
  assert.equal(done.dir, listed[0]!.dir)
  assert.deepEqual((await listCodes(workspace, model.info.id)).map((s) => s.status), ['complete'])
  assert.equal((await readManifest(done.dir)).timing.resumed, true)
  await assertSameBytes(done.dir, single)
  const again = await startCodes(workspace, model, request, ctx(new AbortController().signal))
  assert.equal(again.finishedAt, done.finishedAt, 'a finished one is returned as it is')
  const imgs = await getCodeImages(done.dir)
  assert.equal(imgs.images.length, images.length)

  await assert.rejects(getCodeUnitValues(workspace, GetCodeUnitValues.parse({ codesDir: done.dir, layer: 'conv_last', unit: 5 })), /no finished scan of model .* keeps the maxima of layer conv_last; scan that folder/)
  const scanDir = join(workspace, SCANS_DIR, 'some-scan')
  await runScan({ model, images, classNames, root: data, layers: ['conv3_2_relu', 'conv_last'], k: 3, batchSize: 4, out: scanDir, checkpointMs: 1e9 })
  const got = await getCodeUnitValues(workspace, GetCodeUnitValues.parse({ codesDir: done.dir, layer: 'conv_last', unit: 5 }))
  assert.equal(got.scanDir, scanDir)
  const m = await readNpy(join(scanDir, maximaFile('conv_last')))
  const units = m.shape[1]!
  const want = float16ToFloat32(m.data as Uint16Array).filter((_, i) => i % units === 5)
  assert.deepEqual(Array.from(got.values), Array.from(want))
  assert.ok(Number.isNaN(got.values[images.indexOf(broken)]!))
  await assert.rejects(getCodeUnitValues(workspace, GetCodeUnitValues.parse({ codesDir: done.dir, layer: 'conv_last', unit: 192 })), /has 192 units; unit 192 is not one of them/)
})
