/**
 * Scans and codes runs on onnxruntime give the same bytes however their images were batched (issue 11 "results
 * identical", issue 13's merged shards): onnxruntime rounds a lone image's ReduceMean otherwise than a batch's
 * (executors/onnxRuntime.ts header), so a lone image runs beside a copy of itself. On the demo gap network written
 * as ONNX (its `gap` layer is that ReduceMean), over 10 demo images and one unreadable file:
 * - an image's scan maxima and codes are the same bytes alone and at any place of batches of 2, 3 and 16 with other
 *   neighbours (the header's finding, on this network);
 * - a scan of 11 files at batch 4 (last batch 3) equals, in every .npy byte, shards 0/2 + 1/2 merged (batches of
 *   4 + 2 and 4 + 1: a lone image) and a run cancelled after its first batch and resumed at batch 6 (6 + 1);
 * - a codes run likewise, and imageCode of each image (a lone run) gives its row's bytes.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { generateDemoDataset } from '../../src/main/engine/demo'
import { imageCode } from '../../src/main/engine/codes/imageCode'
import { LONE_BATCH, runOnnxRuntime, runOnnxRuntimeMaxima, type Values } from '../../src/main/engine/executors/onnxRuntime'
import { listImageFolder } from '../../src/main/engine/images/imageFolder'
import type { LoadedModel } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { shardIndices } from '../../src/main/engine/scan/manifest'
import { mergeScans } from '../../src/main/engine/scan/merge'
import { runScan, type ScanOptions } from '../../src/main/engine/scan/runScan'
import { describeScanLayer } from '../../src/main/engine/scan/scanLayer'
import { readNpy } from '../../src/main/engine/store/npy'

const ROOT = join(import.meta.dirname, '../..')
const GAP = join(ROOT, 'resources/demo-models/gap')
const BATCH = 4
let scratch = ''
let data = ''
let model: LoadedModel
let images: string[] = []
let broken = -1

before(async () => {
  await tf.setBackend('cpu')
  scratch = await mkdtemp(join(tmpdir(), 'convscope-ort-shards-'))
  await generateDemoDataset({ out: join(scratch, 'demo'), count: { train: 0, val: 2 }, classes: 5, size: 64, seed: 11 })
  data = join(scratch, 'demo', 'val')
  const first = (await listImageFolder(data)).images[0]!
  await writeFile(join(first.path, '..', 'zz-broken.png'), 'this is not a png')
  images = (await listImageFolder(data)).images.map((i) => i.path)
  broken = images.findIndex((p) => p.endsWith('zz-broken.png'))
  model = await loadModel(GAP)
})
after(async () => {
  model?.dispose()
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

/** Every scan layer of the model ([h, w, c] maps and [units] vectors), `gap` and the output included. */
const scanLayerNames = () => model.info.layers.filter((l) => l.outputShape.length === 3 || l.outputShape.length === 1).map((l) => l.name)

const scan = (out: string, extra: Partial<ScanOptions> = {}) =>
  runScan({ model, images, root: data, layers: scanLayerNames(), k: 3, batchSize: BATCH, out, checkpointMs: 1e9, executor: 'onnxruntime', ...extra })
const codes = (out: string, extra: Partial<ScanOptions> = {}) => scan(out, { layers: [], codes: { layer: 'gap', dtype: 'float32' }, ...extra })

/** Every .npy of a finished folder, by name. */
async function arrays(dir: string): Promise<Map<string, Buffer>> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.npy')).sort()
  return new Map(await Promise.all(names.map(async (n) => [n, await readFile(join(dir, n))] as [string, Buffer])))
}
async function assertSameBytes(a: string, b: string, what: string): Promise<number> {
  const fa = await arrays(a)
  const fb = await arrays(b)
  assert.deepEqual([...fb.keys()], [...fa.keys()], `${what}: the same files`)
  for (const [name, bytes] of fa) assert.ok(bytes.equals(fb.get(name)!), `${what}: ${name} differs`)
  return fa.size
}

/** Readable images in the last batch of `shard` at `batch` (the lone-image case needs 1). */
const lastBatchImages = (shard: { index: number; count: number }, batch: number, start = 0) => {
  const local = shardIndices(images.length, shard).slice(start)
  return local.slice(local.length - (local.length % batch || batch)).filter((i) => i !== broken).length
}

/** Seeded values in [-1, 1): `n` images of the model's input size. */
function randomImages(n: number, seed: number): Float32Array[] {
  const [h, w, c] = model.info.inputShape
  return Array.from({ length: n }, (_, i) => tf.tidy(() => tf.randomUniform([h * w * c], -1, 1, 'float32', seed + i).dataSync() as Float32Array))
}
const packed = (list: readonly Float32Array[]): Values => {
  const [h, w, c] = model.info.inputShape
  const out = new Float32Array(list.length * h * w * c)
  list.forEach((x, i) => out.set(x, i * x.length))
  return { data: out, shape: [list.length, h, w, c] }
}
const rowOf = (a: Float32Array, n: number, i: number) => Buffer.from(a.slice((a.length / n) * i, (a.length / n) * (i + 1)).buffer)

test("an image's maxima and codes are the same bytes alone and anywhere in batches of 2, 3 and 16", async () => {
  const layers = scanLayerNames().map((name) => describeScanLayer(model, name))
  const [x] = randomImages(1, 99)
  const rows = async (batch: Float32Array[], at: number) => {
    const maxima = await runOnnxRuntimeMaxima(model, packed(batch), layers)
    const code = await runOnnxRuntime(model, packed(batch), ['gap'], { batchInvariant: true })
    return Buffer.concat([...maxima.flatMap((m) => [rowOf(m.max, batch.length, at), Buffer.from(m.arg.slice((m.arg.length / batch.length) * at, (m.arg.length / batch.length) * (at + 1)).buffer)]), rowOf(code.layers[0]!.data, batch.length, at)])
  }
  const alone = await rows([x!], 0)
  let cases = 0
  for (const [n, at, seed] of [[2, 0, 1], [2, 1, 5], [3, 2, 9], [16, 0, 20], [16, 7, 40], [16, 15, 60]] as const) {
    const batch = randomImages(n, seed)
    batch[at] = x!
    assert.ok((await rows(batch, at)).equals(alone), `batch of ${n}, place ${at}: not the lone image's bytes`)
    cases++
  }
  // What the lone image's copy avoids: the same image run alone as it is (logged, not asserted: onnxruntime's own rounding).
  const raw = (await runOnnxRuntime(model, packed([x!]), ['gap'])).layers[0]!.data
  const batched = (await runOnnxRuntime(model, packed([x!, ...randomImages(1, 3)]), ['gap'])).layers[0]!.data.subarray(0, raw.length)
  const differ = raw.filter((v, i) => v !== batched[i]).length
  console.log(`${cases} batches gave the lone image's bytes (run beside ${LONE_BATCH - 1} copy); run alone as it is, ${differ} of ${raw.length} gap values differ from a batch's`)
})

test('a scan on onnxruntime: one run = shards 0/2 + 1/2 merged = a run resumed at another batch size, byte for byte', async () => {
  assert.equal(lastBatchImages({ index: 1, count: 2 }, BATCH), 1, 'shard 1/2 ends with a lone image')
  const one = join(scratch, 'scan-one')
  const manifest = await scan(one)
  assert.equal(manifest.executor, 'onnxruntime-cpu')
  assert.deepEqual(manifest.skipped.map((s) => s.index), [broken])

  const shards = [0, 1].map((i) => join(scratch, `scan-shard${i}`))
  for (const [i, dir] of shards.entries()) await scan(dir, { shard: { index: i, count: 2 } })
  const merged = join(scratch, 'scan-merged')
  await mergeScans(shards, merged)

  const resumed = join(scratch, 'scan-resumed')
  const abort = new AbortController()
  await assert.rejects(scan(resumed, { signal: abort.signal, onProgress: (p) => p.done >= BATCH && abort.abort() }), /cancelled/)
  assert.equal(lastBatchImages({ index: 0, count: 1 }, 6, BATCH), 1, 'the resumed run ends with a lone image')
  assert.equal((await scan(resumed, { batchSize: 6 })).timing.resumed, true)

  const files = await assertSameBytes(one, merged, 'merged shards')
  await assertSameBytes(one, resumed, 'resumed run')
  assert.equal(files, scanLayerNames().length * 4, 'top-K values, images, positions and maxima of every layer')
})

test('a codes run on onnxruntime: one run = merged shards = a resumed run, and imageCode gives each row', async () => {
  const one = join(scratch, 'codes-one')
  await codes(one)
  const shards = [0, 1].map((i) => join(scratch, `codes-shard${i}`))
  for (const [i, dir] of shards.entries()) await codes(dir, { shard: { index: i, count: 2 } })
  const merged = join(scratch, 'codes-merged')
  await mergeScans(shards, merged)
  const resumed = join(scratch, 'codes-resumed')
  const abort = new AbortController()
  await assert.rejects(codes(resumed, { signal: abort.signal, onProgress: (p) => p.done >= BATCH && abort.abort() }), /cancelled/)
  await codes(resumed, { batchSize: 6 })
  assert.equal(await assertSameBytes(one, merged, 'merged codes shards'), 3)
  await assertSameBytes(one, resumed, 'resumed codes run')

  const rows = (await readNpy(join(one, 'codes.npy'))).data as Float32Array
  const dim = rows.length / images.length
  for (const [i, path] of images.entries()) {
    if (i === broken) continue
    const { code } = await imageCode(model, one, path)
    assert.ok(Buffer.from(code.buffer, code.byteOffset, code.byteLength).equals(Buffer.from(rows.buffer, rows.byteOffset + i * dim * 4, dim * 4)), `imageCode of image ${i}`)
  }
})
