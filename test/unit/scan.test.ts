/**
 * Dataset scans (issue 4) on a tiny CNN and a few dozen small PNGs: the top-K equals a brute-force
 * computation, shards merge to exactly the one-run result, bad files are skipped and listed, a scan killed
 * with SIGKILL resumes to the same result, and `top` draws the receptive field onto the original image.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { statSync } from 'node:fs'
import { cp, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import sharp from 'sharp'
import { loadModel } from '../../src/main/engine/models/loadModel'
import type { LoadedModel } from '../../src/main/engine/model'
import { listImageFolder } from '../../src/main/engine/images/imageFolder'
import { readImage } from '../../src/main/engine/images/readImage'
import { inputToImage, planResize, toInputTensor, toModelInput } from '../../src/main/engine/images/preprocess'
import { fieldBox } from '../../src/main/engine/models/receptiveField'
import { readNpy, float16ToFloat32, float32ToFloat16, npyHeader } from '../../src/main/engine/store/npy'
import { runScan } from '../../src/main/engine/scan/runScan'
import { defaultScanLayers } from '../../src/shared/scanLayers'
import { mergeScans } from '../../src/main/engine/scan/merge'
import { readManifest, CHECKPOINT_FILE, MANIFEST_FILE, maximaFile, maximaPartialFile } from '../../src/main/engine/scan/manifest'
import { topCommand } from '../../src/main/cli/topCommand'
import { scanCommand } from '../../src/main/cli/scanCommand'
import { mergeCommand } from '../../src/main/cli/mergeCommand'
import { runCli } from '../fixtures/cli'
import { writeNoiseImageTree } from '../fixtures/images'
import { makeTinyCnn } from '../fixtures/models'
import { checkpointPosition, childScan as scanInChild } from '../helpers/killableRun'

const LAYERS = ['pool1', 'conv3', 'conv4']
const K = 5
let root: string
let data: string
let modelDir: string
let model: LoadedModel
let images: string[]
let classNames: (string | null)[]
let broken: string

before(async () => {
  await tf.setBackend('cpu')
  root = await mkdtemp(join(tmpdir(), 'convscope-scan-'))
  modelDir = join(root, 'model')
  await makeTinyCnn(modelDir, { sidecar: { inputSize: [32, 32], range: [0, 1], resize: 'center-crop' } })
  data = join(root, 'data')
  await writeNoiseImageTree(data, { classes: ['cats', 'dogs'], perClass: 12, seed: 5, size: (i) => (i % 4 === 3 ? [40, 40] : [64, 48]) })
  broken = join(data, 'dogs', 'img05b.png')
  await writeFile(broken, 'this is not a png')
  const folder = await listImageFolder(data)
  images = folder.images.map((i) => i.path)
  classNames = folder.images.map((i) => i.className)
  model = await loadModel(modelDir)
})
after(async () => {
  model?.dispose()
  await rm(root, { recursive: true, force: true })
})

const scan = (out: string, extra: Partial<Parameters<typeof runScan>[0]> = {}) =>
  runScan({ model, images, classNames, root: data, layers: LAYERS, k: K, batchSize: 4, out, checkpointMs: 1e9, ...extra })

/** Every .npy of a result folder, by name, as raw bytes. */
async function npyFiles(dir: string): Promise<Map<string, Buffer>> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.npy')).sort()
  return new Map(await Promise.all(names.map(async (n) => [n, await readFile(join(dir, n))] as [string, Buffer])))
}

async function assertSameArrays(a: string, b: string) {
  const fa = await npyFiles(a)
  const fb = await npyFiles(b)
  assert.deepEqual([...fa.keys()], [...fb.keys()])
  assert.equal(fa.size, LAYERS.length * 4)
  for (const [name, bytes] of fa) assert.ok(bytes.equals(fb.get(name)!), `${name} differs`)
}

let single: string

test('a scan keeps, per unit, the top K of a brute-force pass over every image, and each image\'s maxima', async () => {
  single = join(root, 'single')
  const manifest = await scan(single)
  assert.equal(manifest.images.length, images.length)
  assert.deepEqual(manifest.layers.map((l) => l.name), LAYERS)

  // Brute force: one image at a time, max and first argmax per channel in plain JS, then sort.
  const per = new Map<string, { value: number; image: number; y: number; x: number }[][]>()
  const maxima = new Map<string, number[][]>()
  for (const [i, path] of images.entries()) {
    if (path === broken) continue
    const x = toInputTensor(await toModelInput(await readImage(path), model.info.preprocessing))
    const outs = model.forward(x, LAYERS)
    for (const [li, name] of LAYERS.entries()) {
      const [, h, w, c] = outs[li]!.shape as number[]
      const v = outs[li]!.dataSync()
      if (!per.has(name)) per.set(name, Array.from({ length: c! }, () => []))
      const row: number[] = []
      for (let u = 0; u < c!; u++) {
        let best = -Infinity
        let at = 0
        for (let p = 0; p < h! * w!; p++) if (v[p * c! + u]! > best) (best = v[p * c! + u]!), (at = p)
        per.get(name)![u]!.push({ value: best, image: i, y: Math.floor(at / w!), x: at % w! })
        row.push(best)
      }
      maxima.set(name, [...(maxima.get(name) ?? []), row])
    }
    tf.dispose([x, ...outs])
  }
  for (const name of LAYERS) {
    const values = await readNpy(join(single, `${name}.topk.values.npy`))
    const imgs = await readNpy(join(single, `${name}.topk.images.npy`))
    const yx = await readNpy(join(single, `${name}.topk.yx.npy`))
    const units = per.get(name)!.length
    assert.deepEqual(values.shape, [units, K])
    assert.deepEqual(yx.shape, [units, K, 2])
    for (let u = 0; u < units; u++) {
      const expected = per.get(name)![u]!.sort((a, b) => (a.value !== b.value ? b.value - a.value : a.image - b.image || a.y - b.y || a.x - b.x)).slice(0, K)
      for (let j = 0; j < K; j++) {
        const p = u * K + j
        assert.equal(imgs.data[p], expected[j]!.image, `${name} unit ${u} rank ${j}`)
        assert.ok(Math.abs(values.data[p]! - expected[j]!.value) <= 1e-5 * Math.max(1, Math.abs(expected[j]!.value)), `${name} unit ${u} rank ${j} value`)
        assert.deepEqual([yx.data[2 * p], yx.data[2 * p + 1]], [expected[j]!.y, expected[j]!.x], `${name} unit ${u} rank ${j} position`)
      }
    }
    const m = await readNpy(join(single, `${name}.maxima.npy`))
    assert.equal(m.dtype, 'float16')
    assert.deepEqual(m.shape, [images.length, units])
    const got = float16ToFloat32(m.data as Uint16Array)
    const brokenIndex = images.indexOf(broken)
    let r = 0
    for (let i = 0; i < images.length; i++) {
      if (i === brokenIndex) {
        assert.ok(Number.isNaN(got[i * units]), 'a skipped image has a NaN row')
        continue
      }
      const want = float16ToFloat32(float32ToFloat16(maxima.get(name)![r++]!))
      assert.deepEqual(Array.from(got.subarray(i * units, (i + 1) * units)), Array.from(want))
    }
  }
})

test('a bad file is skipped, counted and listed with its reason; the scan goes on', async () => {
  const manifest = await readManifest(single)
  assert.equal(manifest.skipped.length, 1)
  assert.equal(manifest.skipped[0]!.path, 'dogs/img05b.png')
  assert.equal(manifest.skipped[0]!.index, images.indexOf(broken))
  assert.match(manifest.skipped[0]!.reason, /img05b\.png/)
  assert.equal(manifest.images.find((i) => i.path === 'cats/img00.png')!.className, 'cats')
  assert.deepEqual(
    [manifest.images[0]!.width, manifest.images[0]!.height],
    [64, 48],
  )
  await assert.rejects(stat(join(single, CHECKPOINT_FILE)), 'the checkpoint is removed when done')
})

test('shards 0/3, 1/3, 2/3 merged are byte-identical to one run', async () => {
  const dirs = [0, 1, 2].map((i) => join(root, `shard${i}`))
  // Different batch sizes per shard: the result must not depend on batching either.
  for (const [i, dir] of dirs.entries()) await scan(dir, { shard: { index: i, count: 3 }, batchSize: 2 + i })
  const merged = join(root, 'merged')
  const manifest = await mergeScans([dirs[2]!, dirs[0]!, dirs[1]!], merged)
  await assertSameArrays(merged, single)
  const one = await readManifest(single)
  assert.deepEqual(manifest.images, one.images)
  assert.deepEqual(manifest.skipped, one.skipped)
  // Maxima merged in blocks of 1–3 rows (the default block holds them all): the same bytes.
  await mergeScans(dirs, join(root, 'merged-blocks'), { maximaBlockBytes: 50 })
  await assertSameArrays(join(root, 'merged-blocks'), single)
  await assert.rejects(mergeScans([dirs[0]!, dirs[1]!], join(root, 'm2')), /shard 2\/3 missing/)
  await assert.rejects(mergeScans([dirs[0]!, dirs[0]!, dirs[1]!], join(root, 'm3')), /both shard 0\/3/)
})

test('shards made by different executors are not merged; shards without a recorded executor merge as before', async () => {
  const dirs = [0, 1, 2].map((i) => join(root, `shard${i}`))
  // Copies of the shards whose manifests record a given executor, or none (scans made before it was recorded).
  const recording = async (i: number, executor: string | undefined) => {
    const dir = join(root, `shard${i}-${executor ?? 'unrecorded'}`)
    await cp(dirs[i]!, dir, { recursive: true })
    const manifest = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as Record<string, unknown>
    if (executor === undefined) delete manifest.executor
    else manifest.executor = executor
    await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(manifest))
    return dir
  }
  const tfjs = await Promise.all([0, 1, 2].map((i) => recording(i, 'tfjs-cpu')))
  const ort1 = await recording(1, 'onnxruntime-cpu')
  await assert.rejects(mergeScans([tfjs[0]!, ort1, tfjs[2]!], join(root, 'm-ort')), /shard1-onnxruntime-cpu was scanned on onnxruntime-cpu, \S+shard0-tfjs-cpu on tfjs-cpu: .* not merged; scan every shard with the same executor/)
  await assert.rejects(stat(join(root, 'm-ort', MANIFEST_FILE)), 'nothing is written')
  await assert.rejects(mergeScans([tfjs[0]!, tfjs[1]!, await recording(2, 'tfjs-wasm')], join(root, 'm-wasm')), /was scanned on tfjs-wasm, \S+ on tfjs-cpu/)
  assert.equal((await mergeScans(tfjs, join(root, 'm-tfjs'))).executor, 'tfjs-cpu')
  await assertSameArrays(join(root, 'm-tfjs'), single)
  // Older scans (no executor recorded: tfjs) merge as before, with each other and with tfjs shards.
  const older = await Promise.all([0, 1, 2].map((i) => recording(i, undefined)))
  assert.equal((await mergeScans(older, join(root, 'm-older'))).executor, undefined)
  await assertSameArrays(join(root, 'm-older'), single)
  assert.equal((await mergeScans([older[0]!, tfjs[1]!, older[2]!], join(root, 'm-older-tfjs'))).executor, 'tfjs-cpu')
  await assertSameArrays(join(root, 'm-older-tfjs'), single)
  await assert.rejects(mergeScans([older[0]!, ort1, older[2]!], join(root, 'm-older-ort')), /shard0-unrecorded was scanned on tfjs \(not recorded\), \S+ on onnxruntime-cpu/)
})

test('a scan refuses to resume into a folder made with other options', async () => {
  await assert.rejects(scan(single, { k: K + 1 }), /top 5, not 6|another|choose another/)
  await assert.rejects(scan(single, { layers: ['conv3'] }), /other layers/)
  // Same options: the finished result is reused as it is.
  const again = await scan(single)
  assert.equal(again.timing.finishedAt, (await readManifest(single)).timing.finishedAt)
})

test('a cancelled scan leaves a checkpoint that only the same options may resume', async () => {
  const out = join(root, 'cancelled')
  const abort = new AbortController()
  await assert.rejects(
    scan(out, { signal: abort.signal, onProgress: (p) => p.done >= 8 && abort.abort() }),
    (e: Error & { code?: string }) => e.code === 'CANCELLED',
  )
  assert.equal(await checkpointPosition(out), 8)
  await assert.rejects(scan(out, { k: K + 1 }), /unfinished scan made with top 5, not 6/)
  await assert.rejects(scan(out, { images: images.slice(1), classNames: classNames.slice(1) }), /another dataset/)
  const manifest = await scan(out, { batchSize: 5 })
  assert.equal(manifest.timing.resumed, true)
  await assertSameArrays(out, single)
})

test('maxima rows go straight into the final .npy layout, which is renamed into place, not copied', async () => {
  const out = join(root, 'streamed')
  const layer = (await readManifest(single)).layers[0]!
  const partial = join(out, maximaPartialFile(layer.file))
  const header = npyHeader('float16', [images.length, layer.units])
  const seen: { done: number; size: number; ino: number }[] = []
  await scan(out, {
    onProgress: (p) => {
      if (p.done === 0 || p.done === images.length) return
      const s = statSync(partial)
      seen.push({ done: p.done, size: s.size, ino: s.ino })
    },
  })
  assert.ok(seen.length >= 3)
  for (const s of seen) assert.equal(s.size, header.length + s.done * layer.units * 2, `after ${s.done} images`)
  const final = statSync(join(out, maximaFile(layer.file)))
  assert.equal(final.ino, seen[0]!.ino, 'the finished .npy is the file the rows were written to')
  assert.ok((await readFile(join(out, maximaFile(layer.file)))).subarray(0, header.length).equals(header))
  await assertSameArrays(out, single)
})

test('a scan killed while renaming its maxima into place resumes to the same result', async () => {
  const out = join(root, 'renamed')
  const abort = new AbortController()
  await assert.rejects(scan(out, { signal: abort.signal, onProgress: (p) => p.done >= 12 && abort.abort() }), /cancelled/)
  // As if killed between renaming the first layer's rows and writing the manifest.
  const stem = (await readManifest(single)).layers[0]!.file
  await rename(join(out, maximaPartialFile(stem)), join(out, maximaFile(stem)))
  await scan(out)
  await assertSameArrays(out, single)
})

/** Run a scan in a child process (throttled, checkpoint after every batch); resolves when it exits. */
const childScan = (out: string, killWhen?: (out: string) => Promise<boolean>) =>
  scanInChild(modelDir, { images, classNames, root: data, layers: LAYERS, k: K, batchSize: 2, out }, { slowMs: 15, killWhen: killWhen && (() => killWhen(out)) })

const exists = (p: string) => stat(p).then(() => true, () => false)

test('a scan killed with SIGKILL after checkpoints resumes to exactly the uninterrupted result', async () => {
  const out = join(root, 'killed')
  let seenAt = 0
  // Kill 1: as soon as the first checkpoint exists.
  const first = await childScan(out, async (o) => exists(join(o, CHECKPOINT_FILE)))
  assert.ok(first.killed, 'the first run was killed')
  assert.equal(await exists(join(out, MANIFEST_FILE)), false, 'killed before the end')
  const afterFirst = await checkpointPosition(out)
  assert.ok(afterFirst > 0 && afterFirst < images.length, `first kill at ${afterFirst} of ${images.length}`)
  // Kill 2: some checkpoints later, at an arbitrary moment (not right after a checkpoint).
  const second = await childScan(out, async (o) => {
    const position = await checkpointPosition(o).catch(() => 0)
    if (position < afterFirst + 6) return false
    seenAt ||= Date.now()
    return Date.now() - seenAt > 7
  })
  if (second.killed) assert.equal(await exists(join(out, MANIFEST_FILE)), false)
  assert.ok(second.killed, "the resumed run was killed too")
  if (second.killed) {
    const afterSecond = await checkpointPosition(out)
    assert.ok(afterSecond > afterFirst && afterSecond < images.length, `second kill at ${afterSecond}`)
  }
  // Then run to the end.
  await childScan(out)
  const manifest = await readManifest(out)
  assert.equal(manifest.timing.resumed, true)
  assert.deepEqual((await readdir(out)).filter((n) => !n.endsWith('.npy') && n !== MANIFEST_FILE), [], 'no checkpoint, partial or temp file is left')
  assert.deepEqual(manifest.skipped, (await readManifest(single)).skipped)
  await assertSameArrays(out, single)
})

test("top's patch box is the unit's receptive field at (y, x) mapped onto the original image", async () => {
  const lines: string[] = []
  const log = console.log
  console.log = (s: string) => lines.push(s)
  try {
    assert.equal(await topCommand.run(['--scan', single, '--layer', 'conv4', '--unit', '3', '--json']), 0)
  } finally {
    console.log = log
  }
  const { patches } = JSON.parse(lines.join('\n')) as { patches: { rank: number; path: string; className: string; y: number; x: number; box: { x: number; y: number; width: number; height: number } }[] }
  assert.equal(patches.length, K)
  const rf = model.info.layers.find((l) => l.name === 'conv4')!.receptiveField!
  for (const p of patches) {
    const { width, height } = await sharp(p.path).metadata()
    const field = fieldBox(rf, p.y, p.x, [32, 32])!
    // center-crop of width×height to 32×32, written out by hand
    const geometry = planResize(width, height, { inputSize: [32, 32], resize: 'center-crop' }).geometry
    const expected = inputToImage(geometry, { x: field.left, y: field.top, width: field.right - field.left + 1, height: field.bottom - field.top + 1 })
    assert.deepEqual(p.box, expected)
    assert.ok(p.box.x >= 0 && p.box.y >= 0 && p.box.x + p.box.width <= width + 1e-9 && p.box.y + p.box.height <= height + 1e-9)
    if (width === 64) {
      // 64×48 → 43×32, crop x from 5: image x = (5 + input x) * 64 / 43
      assert.ok(Math.abs(expected.x - Math.max(0, (5 + field.left) * (64 / 43))) < 1e-9)
    }
    assert.equal(p.className, p.path.includes('/cats/') ? 'cats' : 'dogs')
  }
})

const cli = runCli

test('convscope scan --shard i/n, then convscope merge, give the one-run result; default layers are the activation outputs', async () => {
  // Issue 9: ReLU outputs (fused into conv1, dw2, pw2, conv4; relu3 after the add), not conv3 before its ReLU nor the pool.
  assert.deepEqual(defaultScanLayers(model.info), ['conv1', 'dw2', 'pw2', 'relu3', 'conv4'])
  const dirs = [0, 1].map((i) => join(root, `cli-shard${i}`))
  for (const [i, dir] of dirs.entries()) {
    const r = await cli(scanCommand, ['--model', modelDir, '--data', data, '--out', dir, '--layers', LAYERS.join(','), '--top', String(K), '--shard', `${i}/2`, '--batch', '3', '--backend', 'cpu'])
    assert.equal(r.code, 0, r.err)
    assert.match(r.err, /img\/s/)
    if (i === images.indexOf(broken) % 2) assert.match(r.out, /skipped 1 file\(s\):\n {2}dogs\/img05b\.png: /)
  }
  const merged = join(root, 'cli-merged')
  const m = await cli(mergeCommand, [...dirs, '--out', merged])
  assert.equal(m.code, 0, m.err)
  await assertSameArrays(merged, single)
  const bad = await cli(scanCommand, ['--model', modelDir, '--data', data, '--out', dirs[0]!, '--layers', 'conv3', '--shard', '0/2', '--backend', 'cpu']).catch((e: Error) => e)
  assert.ok(bad instanceof Error && /other layers/.test(bad.message))
})
