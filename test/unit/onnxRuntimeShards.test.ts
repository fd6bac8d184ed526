/**
 * Scans and codes runs on onnxruntime give the same bytes however their images were batched and on however many
 * threads (issue 11 "results identical", issue 13's merged shards): onnxruntime sums a ReduceMean over NHWC space
 * otherwise in a batch of fewer than max(2, T) images, T its intra-op threads (executors/onnxRuntime.ts header), so
 * such a batch runs padded with copies of its last image. On the demo gap network written as ONNX (its `gap` layer is
 * that ReduceMean), over 10 demo images and one unreadable file:
 * - on 4 threads, an image's scan maxima and codes are the same bytes alone and at any place of batches of 2, 3, 5
 *   and 16 with other neighbours (unpadded, batches of 1-3 differ: logged);
 * - a scan of 11 files at batch 4 on 4 threads (last batch 3) equals, in every .npy byte, shards 0/2 + 1/2 on one
 *   thread merged (batches of 4 + 2 and 4 + 1), as `--workers 2` runs them, and a run cancelled after its first
 *   batch and resumed at batch 6 on 2 threads (6 + 1);
 * - a codes run likewise, and imageCode of each image (a batch of one) gives its row's bytes.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { generateDemoDataset } from '../../src/main/engine/demo'
import { imageCode } from '../../src/main/engine/codes/imageCode'
import { runOnnxRuntime, runOnnxRuntimeMaxima, type Values } from '../../src/main/engine/executors/onnxRuntime'
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

/**
 * `fn` with the model loaded again and its onnxruntime sessions made on `threads` intra-op threads (OMP_NUM_THREADS,
 * as scan workers set it: executors/onnxRuntime.ts runtimeThreads).
 */
async function onThreads<T>(threads: number, fn: (m: LoadedModel) => Promise<T>): Promise<T> {
  const before = process.env.OMP_NUM_THREADS
  process.env.OMP_NUM_THREADS = String(threads)
  const m = await loadModel(GAP)
  try {
    return await fn(m)
  } finally {
    m.dispose()
    if (before === undefined) delete process.env.OMP_NUM_THREADS
    else process.env.OMP_NUM_THREADS = before
  }
}

const scanWith = (m: LoadedModel, out: string, extra: Partial<ScanOptions> = {}) =>
  runScan({ model: m, images, root: data, layers: scanLayerNames(), k: 3, batchSize: BATCH, out, checkpointMs: 1e9, executor: 'onnxruntime', ...extra })
const scan = (threads: number, out: string, extra: Partial<ScanOptions> = {}) => onThreads(threads, (m) => scanWith(m, out, extra))
const codes = (threads: number, out: string, extra: Partial<ScanOptions> = {}) => scan(threads, out, { layers: [], codes: { layer: 'gap', dtype: 'float32' }, ...extra })

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

test("on 4 threads, an image's maxima and codes are the same bytes alone and anywhere in batches of 2, 3, 5 and 16", async () => {
  await onThreads(4, async (m) => {
    const layers = scanLayerNames().map((name) => describeScanLayer(m, name))
    const [x] = randomImages(1, 99)
    const rows = async (batch: Float32Array[], at: number) => {
      const maxima = await runOnnxRuntimeMaxima(m, packed(batch), layers)
      const code = await runOnnxRuntime(m, packed(batch), ['gap'], { batchInvariant: true })
      const part = (a: Float32Array | Int32Array) => Buffer.from(a.slice((a.length / batch.length) * at, (a.length / batch.length) * (at + 1)).buffer)
      return Buffer.concat([...maxima.flatMap((r) => [part(r.max), part(r.arg)]), part(code.layers[0]!.data)])
    }
    const alone = await rows([x!], 0)
    let cases = 0
    for (const [n, at, seed] of [[2, 0, 1], [2, 1, 5], [3, 2, 9], [5, 4, 13], [16, 0, 20], [16, 7, 40], [16, 15, 60]] as const) {
      const batch = randomImages(n, seed)
      batch[at] = x!
      assert.ok((await rows(batch, at)).equals(alone), `batch of ${n}, place ${at}: not the lone image's bytes`)
      cases++
    }
    // What the padding avoids: the image run in batches of 1-3 as they are (logged, not asserted: onnxruntime's own rounding).
    const inBatch = async (n: number) => (await runOnnxRuntime(m, packed([x!, ...randomImages(n - 1, 3)]), ['gap'])).layers[0]!.data.slice(0, 192)
    const big = await inBatch(16)
    const differ = await Promise.all([1, 2, 3].map(async (n) => (await inBatch(n)).filter((v, i) => v !== big[i]).length))
    console.log(`${cases} batches gave the padded lone image's bytes; unpadded, batches of 1, 2, 3 differ from 16 in ${differ.join(', ')} of 192 gap values`)
  })
})

test('a scan on onnxruntime: one run on 4 threads = shards 0/2 + 1/2 on 1 thread merged = a run resumed at another batch size on 2, byte for byte', async () => {
  assert.equal(lastBatchImages({ index: 1, count: 2 }, BATCH), 1, 'shard 1/2 ends with a lone image')
  const one = join(scratch, 'scan-one')
  const manifest = await scan(4, one)
  assert.equal(manifest.executor, 'onnxruntime-cpu')
  assert.deepEqual(manifest.skipped.map((s) => s.index), [broken])

  const shards = [0, 1].map((i) => join(scratch, `scan-shard${i}`))
  for (const [i, dir] of shards.entries()) await scan(1, dir, { shard: { index: i, count: 2 } })
  const merged = join(scratch, 'scan-merged')
  await mergeScans(shards, merged)

  const resumed = join(scratch, 'scan-resumed')
  const abort = new AbortController()
  await assert.rejects(scan(2, resumed, { signal: abort.signal, onProgress: (p) => p.done >= BATCH && abort.abort() }), /cancelled/)
  assert.equal(lastBatchImages({ index: 0, count: 1 }, 6, BATCH), 1, 'the resumed run ends with a lone image')
  assert.equal((await scan(2, resumed, { batchSize: 6 })).timing.resumed, true)

  const files = await assertSameBytes(one, merged, 'merged shards')
  await assertSameBytes(one, resumed, 'resumed run')
  assert.equal(files, scanLayerNames().length * 4, 'top-K values, images, positions and maxima of every layer')
})

test('a codes run on onnxruntime: one run = merged shards = a resumed run, and imageCode gives each row', async () => {
  const one = join(scratch, 'codes-one')
  await codes(4, one)
  const shards = [0, 1].map((i) => join(scratch, `codes-shard${i}`))
  for (const [i, dir] of shards.entries()) await codes(1, dir, { shard: { index: i, count: 2 } })
  const merged = join(scratch, 'codes-merged')
  await mergeScans(shards, merged)
  const resumed = join(scratch, 'codes-resumed')
  const abort = new AbortController()
  await assert.rejects(codes(2, resumed, { signal: abort.signal, onProgress: (p) => p.done >= BATCH && abort.abort() }), /cancelled/)
  await codes(2, resumed, { batchSize: 6 })
  assert.equal(await assertSameBytes(one, merged, 'merged codes shards'), 3)
  await assertSameBytes(one, resumed, 'resumed codes run')

  const rows = (await readNpy(join(one, 'codes.npy'))).data as Float32Array
  const dim = rows.length / images.length
  await onThreads(2, async (m) => {
    for (const [i, path] of images.entries()) {
      if (i === broken) continue
      const { code } = await imageCode(m, one, path)
      assert.ok(Buffer.from(code.buffer, code.byteOffset, code.byteLength).equals(Buffer.from(rows.buffer, rows.byteOffset + i * dim * 4, dim * 4)), `imageCode of image ${i}`)
    }
  })
})
