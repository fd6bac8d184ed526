/**
 * `convscope scan` without flags (issue 11, item 4) and `--profile` (item 5): the default worker count (one
 * process per two cores, at least MIN_IMAGES_PER_WORKER images each; an unfinished scan in --out is resumed with its
 * own count), the start line that says what runs, the profile's fields (no timing assertions) in text and
 * JSON, for one process and summed over workers; the dataset loop's deeper load-ahead.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { scanCommand } from '../../src/main/cli/scanCommand'
import { runDatasetLoop, DatasetLoop, LOAD_AHEAD, loadAhead } from '../../src/main/engine/datasets/datasetLoop'
import { listDataset } from '../../src/main/engine/images/imageList'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { readManifest } from '../../src/main/engine/scan/manifest'
import { defaultScanLayers } from '../../src/shared/scanLayers'
import { ScanProfile, formatProfile, sumProfiles } from '../../src/main/engine/scan/profile'
import { runScan } from '../../src/main/engine/scan/runScan'
import { MIN_IMAGES_PER_WORKER, WORKERS_DIR, defaultWorkerCount, workerDecodeThreads, workerDir } from '../../src/main/engine/scan/workers'
import { runCli } from '../fixtures/cli'
import { writeNoiseImageTree } from '../fixtures/images'
import { makeTinyCnn } from '../fixtures/models'

let root: string
let data: string
let modelDir: string

before(async () => {
  await tf.setBackend('cpu')
  root = await mkdtemp(join(tmpdir(), 'convscope-scan-defaults-'))
  modelDir = join(root, 'model')
  await makeTinyCnn(modelDir, { sidecar: { inputSize: [32, 32], range: [0, 1], resize: 'center-crop' } })
  data = join(root, 'data')
  await writeNoiseImageTree(data, { classes: ['cats', 'dogs'], perClass: 12, seed: 5, size: () => [40, 36] })
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

const scanArgs = (out: string, ...extra: string[]) => ['--model', modelDir, '--data', data, '--out', out, '--top', '4', '--batch', '5', '--backend', 'cpu', ...extra]

test('the default worker count: one per two cores (a forward pass and a decode thread), each with at least MIN_IMAGES_PER_WORKER images', () => {
  assert.equal(defaultWorkerCount(0, 8), 1)
  assert.equal(defaultWorkerCount(2 * MIN_IMAGES_PER_WORKER - 1, 8), 1)
  assert.equal(defaultWorkerCount(2 * MIN_IMAGES_PER_WORKER, 8), 2)
  assert.equal(defaultWorkerCount(1_000_000, 8), 4)
  assert.equal(defaultWorkerCount(1_000_000, 2), 1)
  assert.equal(defaultWorkerCount(1_000_000, 1), 1)
  // A worker's decode threads: the cores it has beyond its forward pass's.
  assert.equal(workerDecodeThreads(4, 8), 1)
  assert.equal(workerDecodeThreads(2, 2), 0)
})

test('the load-ahead depth (scans take the dataset loop\'s): LOAD_AHEAD unless CONVSCOPE_LOAD_AHEAD names another', () => {
  assert.equal(loadAhead({}), LOAD_AHEAD)
  assert.equal(loadAhead({ CONVSCOPE_LOAD_AHEAD: '4' }), 4)
  assert.throws(() => loadAhead({ CONVSCOPE_LOAD_AHEAD: '0' }), /CONVSCOPE_LOAD_AHEAD is "0"; use a whole number ≥ 1/)
})

test('with ahead 2 two batches load while one computes; the loop counts its items and times', async () => {
  const events: string[] = []
  const loop = new DatasetLoop({
    items: Array.from({ length: 10 }, (_, i) => i),
    batchSize: 3,
    ahead: 2,
    pathOf: String,
    load: async (i) => {
      events.push(`load ${i}`)
      return i
    },
    compute: async ({ start }) => {
      events.push(`compute ${start}`)
    },
  })
  await loop.run()
  // Batches 0…2 and 3…5 were loading from the start; 6…8 started once 0…2 was in, before it computed.
  assert.ok(events.indexOf('load 6') < events.indexOf('compute 0'), events.join(', '))
  assert.ok(events.indexOf('load 9') < events.indexOf('compute 3'), events.join(', '))
  assert.ok(events.indexOf('load 9') > events.indexOf('compute 0'), 'no more than two batches ahead')
  const t = loop.timings
  assert.equal(t.items, 10)
  for (const v of [t.wallMs, t.loadingMs, t.waitMs, t.computeMs, t.checkpointMs]) assert.ok(Number.isFinite(v) && v >= 0)
  // A load failing while an earlier batch computes ends the pass with its error (not an unhandled rejection).
  await assert.rejects(
    runDatasetLoop({
      items: [0, 1, 2, 3, 4, 5],
      batchSize: 2,
      ahead: 2,
      pathOf: String,
      load: async (i) => {
        if (i === 3) throw new Error('disk gone')
        return i
      },
      compute: () => new Promise((r) => setTimeout(r, 20)),
    }),
    /disk gone/,
  )
})

const PROFILE_FIELDS = Object.keys(ScanProfile.shape).sort()

test('no --workers on a small dataset: one process, said in the start line; --profile prints where the time went', async () => {
  assert.ok(24 < 2 * MIN_IMAGES_PER_WORKER)
  const out = join(root, 'small')
  const r = await runCli(scanCommand, scanArgs(out, '--profile'))
  assert.equal(r.code, 0, r.err)
  // The tiny CNN runs on onnxruntime (written as ONNX) or, where it cannot, on tfjs.
  assert.match(r.err, /convscope scan: 24 images, layers [^\n]*, top 4, 1 process on (onnxruntime-cpu, \d+ thread\(s\)|tfjs-cpu)\n/)
  for (const label of ['profile: 24 images in', 'waiting for images', 'forward + per-unit max', 'top-K', 'maxima writes', 'checkpoints', 'other', 'decoding (overlapped)']) {
    assert.ok(r.out.includes(label), `${label} in:\n${r.out}`)
  }
  // A finished result is reused: nothing was scanned, and the profile says so.
  const again = await runCli(scanCommand, scanArgs(out, '--profile'))
  assert.match(again.out, /profile: nothing was scanned in this run/)
})

test('--json --profile: the summary and every profile field, in one process', async () => {
  const out = join(root, 'json')
  const r = await runCli(scanCommand, scanArgs(out, '--json', '--profile', '--workers', '1'))
  assert.equal(r.code, 0, r.err)
  const json = JSON.parse(r.out) as { out: string; images: number; workers: number; executor: string; imagesPerSecond: number; profile: { processes: number; total: ScanProfile; perProcess: ScanProfile[] } }
  assert.equal(json.out, out)
  assert.equal(json.images, 24)
  assert.equal(json.workers, 1)
  assert.equal(json.executor, (await readManifest(out)).executor)
  assert.match(json.executor, /^(onnxruntime-cpu|tfjs-cpu)$/)
  assert.equal(json.profile.processes, 1)
  assert.deepEqual(Object.keys(json.profile.total).sort(), PROFILE_FIELDS)
  ScanProfile.parse(json.profile.total)
  assert.equal(json.profile.total.images, 24)
  assert.deepEqual(json.profile.perProcess, [json.profile.total])
  // Without --profile the JSON has no profile field.
  const plain = JSON.parse((await runCli(scanCommand, scanArgs(out, '--json'))).out) as Record<string, unknown>
  assert.equal('profile' in plain, false)
})

test('no --workers where an unfinished 2-worker scan is: it is resumed with 2 workers (not refused), profiles summed', async () => {
  const out = join(root, 'resume')
  // What a killed `--workers 2` run leaves before its first checkpoint: the two worker folders.
  for (const w of [0, 1]) await mkdir(workerDir(out, w, 2), { recursive: true })
  const r = await runCli(scanCommand, scanArgs(out, '--json', '--profile'))
  assert.equal(r.code, 0, r.err)
  assert.match(r.err, /convscope scan: 24 images, layers [^\n]*, top 4, 2 workers on backend cpu \((onnxruntime-cpu|tfjs-cpu), one thread each\)/)
  const json = JSON.parse(r.out) as { workers: number; profile: { processes: number; total: ScanProfile; perProcess: ScanProfile[] } }
  assert.equal(json.workers, 2)
  assert.equal(json.profile.processes, 2)
  assert.equal(json.profile.total.images, 24, 'the workers scanned 12 images each')
  assert.deepEqual(json.profile.total, sumProfiles(json.profile.perProcess))
  assert.equal((await readdir(out)).includes(WORKERS_DIR), false)
  // The same result as one process.
  const single = join(root, 'json')
  for (const f of (await readdir(single)).filter((n) => n.endsWith('.npy'))) {
    assert.ok((await readFile(join(out, f))).equals(await readFile(join(single, f))), `${f} differs`)
  }
  assert.deepEqual((await readManifest(out)).images, (await readManifest(single)).images)
})

test('an unfinished one-process scan: no --workers resumes it in one process; --workers 2 is refused with how to resume', async () => {
  const out = join(root, 'one-process')
  // The checkpoint a one-process scan cancelled after its first batch leaves (the options the CLI passes).
  const folder = await listDataset(data, 1_000_000)
  const model = await loadModel(modelDir)
  const abort = new AbortController()
  try {
    const images = folder.images.map((i) => i.path)
    const scan = runScan({ model, images, classNames: folder.images.map((i) => i.className), root: folder.root, layers: defaultScanLayers(model.info), k: 4, batchSize: 5, out, signal: abort.signal, onProgress: (p) => p.done > 0 && abort.abort() })
    await assert.rejects(scan, /scan cancelled; run it again with the same arguments to resume/)
  } finally {
    model.dispose()
  }
  await assert.rejects(runCli(scanCommand, scanArgs(out, '--workers', '2')), /holds an unfinished scan made in one process; run it again with --workers 1 \(or without --workers\) to resume it/)
  const r = await runCli(scanCommand, scanArgs(out))
  assert.equal(r.code, 0, r.err)
  assert.match(r.err, /, 1 process on /)
  assert.match(r.out, /\(resumed\)/)
})

test('formatProfile: a row per step with its share of the wall time and ms per image', () => {
  const p: ScanProfile = { images: 10, wallSeconds: 2, decodingSeconds: 0.5, waitForImagesSeconds: 0.2, forwardSeconds: 1.5, topKSeconds: 0.1, maximaWritesSeconds: 0.1, checkpointSeconds: 0, otherSeconds: 0.1 }
  const lines = formatProfile(p, 'profile')
  assert.equal(lines[0], 'profile: 10 images in 2.00 s')
  assert.match(lines.find((l) => l.includes('forward'))!, /forward \+ per-unit max\s+1\.50 s\s+75 %\s+150\.00 ms\/image/)
  assert.match(lines.at(-1)!, /decoding \(overlapped\)\s+0\.50 s\s+50\.00 ms\/image/)
  assert.deepEqual(sumProfiles([p, p]), Object.fromEntries(Object.entries(p).map(([k, v]) => [k, 2 * v])))
})
