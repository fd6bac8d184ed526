/**
 * Guided backprop on a unit's top patches (methods/neurons/guidedPatches.ts) over a small scan of the demo gap
 * network's conv_last: each map is the method's full map of the unit at the scan's position (read again here), cropped
 * to the receptive field there, and the full map is exactly zero outside it; the scan folder's cache gives the same
 * maps back and counts its hits, and is dropped when the scan is run again; progress and cancel between patches;
 * `top --guided --png` writes the grid of the expected size.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { initBackend } from '../../src/main/engine/backend'
import { noopContext, type JobContext } from '../../src/main/engine/context'
import { generateDemoDataset } from '../../src/main/engine/demo'
import { listImageFolder } from '../../src/main/engine/images/imageFolder'
import { toInputTensor } from '../../src/main/engine/images/preprocess'
import { readModelInput } from '../../src/main/engine/images/readImage'
import { getGuidedPatches, unitPatchMaps } from '../../src/main/engine/methods/neurons/guidedPatches'
import type { LoadedModel } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { pixelMethod } from '../../src/main/engine/pixels'
import { MANIFEST_FILE } from '../../src/main/engine/scan/manifest'
import { runScan } from '../../src/main/engine/scan/runScan'
import { topPatches } from '../../src/main/engine/scan/topPatches'
import { planTarget, receptiveFieldBox } from '../../src/main/engine/targets'
import { topCommand } from '../../src/main/cli/topCommand'
import { parseParams } from '../../src/shared/api'
import { runCli } from '../fixtures/cli'

const ROOT = join(import.meta.dirname, '../..')
const GAP = join(ROOT, 'resources/demo-models/gap')
const LAYER = 'conv_last'
const K = 3
let scratch: string
let scanDir: string
let model: LoadedModel
/** Units whose top patches all have a positive value (a map of a unit at 0 after its ReLU would be all zero). */
let units: number[]

before(async () => {
  await initBackend({ forced: 'wasm' })
  scratch = await mkdtemp(join(tmpdir(), 'convscope-guided-'))
  await generateDemoDataset({ out: join(scratch, 'demo'), count: { train: 0, val: 2 }, size: 64, seed: 3, classes: 3 })
  const folder = await listImageFolder(join(scratch, 'demo', 'val'))
  model = await loadModel(GAP)
  scanDir = join(scratch, 'scan')
  await runScan({ model, images: folder.images.map((i) => i.path), root: folder.root, layers: [LAYER], k: K, out: scanDir, checkpointMs: 1e9, executor: 'tfjs' })
  units = []
  for (let u = 0; units.length < 3; u++) if ((await topPatches(scanDir, LAYER, u)).patches.every((p) => p.value > 0)) units.push(u)
})
after(async () => {
  model?.dispose()
  await rm(scratch, { recursive: true, force: true })
})

const request = (unit: number, count?: number, method = 'guided') => parseParams('getGuidedPatches', { modelId: model.info.id, scanDir, layer: LAYER, unit, count, method })

test("each map is the full map of the unit at the scan's position cropped to its receptive field, and zero outside it", async () => {
  const unit = units[0]!
  const { patches } = await topPatches(scanDir, LAYER, unit)
  const result = await getGuidedPatches(model, request(unit), noopContext())
  assert.equal(result.patches.length, K)
  assert.equal(result.cached, 0)
  const [H, W] = model.info.preprocessing.inputSize
  for (const [i, got] of result.patches.entries()) {
    const patch = patches[i]!
    assert.equal(got.rank, patch.rank)
    assert.equal(got.path, patch.path)
    const box = receptiveFieldBox(model, LAYER, patch, H, W)!
    assert.deepEqual(got.box, box)
    assert.ok(box.width < W || box.height < H, 'a conv_last field smaller than the input, so "outside" is not empty')

    const x = toInputTensor((await readModelInput(patch.path, model.info.preprocessing)).input)
    const full = await pixelMethod('guided').compute(model, x, planTarget(model, { kind: 'unit', layer: LAYER, channel: unit, at: { y: patch.y, x: patch.x } }))
    x.dispose()
    assert.equal(full.resolved.position?.y, patch.y)
    assert.equal(full.resolved.position?.x, patch.x)
    assert.ok(Math.abs(full.resolved.value - patch.value) <= 1e-4 * Math.max(1, patch.value), `${full.resolved.value} vs the scan's ${patch.value}`)
    let inside = 0
    for (let y = 0; y < H; y++) {
      for (let xx = 0; xx < W; xx++) {
        for (let c = 0; c < 3; c++) {
          const v = full.values[(y * W + xx) * 3 + c]!
          const within = y >= box.y && y < box.y + box.height && xx >= box.x && xx < box.x + box.width
          if (within) {
            assert.equal(got.values[((y - box.y) * box.width + (xx - box.x)) * 3 + c], v, `crop value at (${y}, ${xx}, ${c})`)
            if (v !== 0) inside++
          } else {
            assert.equal(v, 0, `outside the receptive field at (${y}, ${xx}, ${c})`)
          }
        }
      }
    }
    assert.equal(got.values.length, box.width * box.height * 3)
    assert.ok(inside > 0, 'the map is not all zero inside the field')
  }
})

test('the scan folder caches the maps: hits are counted, equal to a fresh compute; a scan run again drops them', async () => {
  const unit = units[1]!
  const first = await unitPatchMaps(model, scanDir, request(unit, 2), noopContext())
  assert.equal(first.cached, 0)
  const more = await unitPatchMaps(model, scanDir, request(unit), noopContext())
  assert.equal(more.cached, 2, 'ranks 1 and 2 from the cache, rank 3 computed')
  const again = await getGuidedPatches(model, request(unit), noopContext())
  assert.equal(again.cached, K)
  again.patches.forEach((p, i) => {
    assert.deepEqual(p.box, more.maps[i]!.box)
    assert.deepEqual(p.values, more.maps[i]!.values)
  })
  // Another method has its own cache.
  assert.equal((await unitPatchMaps(model, scanDir, request(unit, 1, 'backprop'), noopContext())).cached, 0)
  assert.equal((await unitPatchMaps(model, scanDir, request(unit, 1, 'backprop'), noopContext())).cached, 1)

  // The same scan finished at another time (run again into the folder): the cached maps are not taken.
  const manifestPath = join(scanDir, MANIFEST_FILE)
  const original = await readFile(manifestPath, 'utf8')
  const manifest = JSON.parse(original)
  manifest.timing.finishedAt = new Date(Date.parse(manifest.timing.finishedAt) + 1000).toISOString()
  await writeFile(manifestPath, JSON.stringify(manifest))
  try {
    const rerun = await getGuidedPatches(model, request(unit), noopContext())
    assert.equal(rerun.cached, 0)
    rerun.patches.forEach((p, i) => assert.deepEqual(p.values, again.patches[i]!.values))
  } finally {
    await writeFile(manifestPath, original)
  }
})

test('progress after each patch; a cancel stops between patches and keeps what was computed; another model is refused', async () => {
  const unit = units[2]!
  const abort = new AbortController()
  const seen: number[] = []
  const ctx: JobContext = {
    signal: abort.signal,
    progress: (p) => {
      seen.push(p.done)
      assert.equal(p.total, K)
      abort.abort()
    },
  }
  await assert.rejects(unitPatchMaps(model, scanDir, request(unit), ctx), (e: Error & { code?: string }) => e.code === 'CANCELLED')
  assert.deepEqual(seen, [1])
  assert.equal((await unitPatchMaps(model, scanDir, request(unit), noopContext())).cached, 1)

  const other = await loadModel(join(ROOT, 'resources/demo-models/gmp'))
  try {
    await assert.rejects(unitPatchMaps(other, scanDir, request(unit), noopContext()), /made with model gap .*not with gmp/)
  } finally {
    other.dispose()
  }
  await assert.rejects(unitPatchMaps(model, scanDir, request(unit, 1, 'nope'), noopContext()), /Unknown pixel method "nope"/)
})

test('top --guided --png writes the grid: a row per unit, each patch beside its map', async () => {
  const png = join(scratch, 'grid.png')
  const { code, out, err } = await runCli(topCommand, ['--scan', scanDir, '--layer', LAYER, '--unit', units.slice(0, 2).join(','), '--count', '2', '--guided', '--png', png, '--scale', '2', '--json'])
  assert.equal(code, 0, err)
  const json = JSON.parse(out)
  assert.equal(json.units.length, 2)
  const boxes = json.units.flatMap((u: { patches: { guided: { box: { width: number; height: number } } }[] }) => u.patches.map((p) => p.guided.box))
  assert.equal(boxes.length, 4)
  const side = 2 * Math.max(...boxes.map((b: { width: number; height: number }) => Math.max(b.width, b.height)))
  // 8 px margins and gaps, 2 px between a patch and its map: 2 columns of (patch, map), 2 rows.
  const expected = { width: 8 + 2 * side + 2 + 8 + 2 * side + 2 + 8, height: 8 + side + 8 + side + 8 }
  const meta = await sharp(png).metadata()
  assert.deepEqual({ width: meta.width, height: meta.height }, expected)
  assert.deepEqual({ width: json.width, height: json.height }, expected)
  assert.equal(meta.format, 'png')
  await assert.rejects(runCli(topCommand, ['--scan', scanDir, '--layer', LAYER, '--unit', '0', '--png', png]), /go with --guided/)
})
