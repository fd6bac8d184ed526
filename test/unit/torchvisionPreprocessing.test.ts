/**
 * convscope's model input equals torchvision's, with the sidecar that names the same recipe
 * (`resize: "shorter-side"`, resizeSize, cropSize, interpolation): the weights' own transforms() of
 * resnet18 (256), resnet50 v2 (232), convnext_tiny (236), efficientnet_b0 (256, bicubic), plus nearest,
 * enlarging bicubic, a crop larger than the resized image, and the older modes asked for with an
 * interpolation. The reference is scripts/preprocessing/makeReference.py (torchvision 0.14 + PIL under
 * Debian's /usr/bin/python3, run here into a temp folder) on the committed fixtures in
 * test/fixtures/preprocessing; skipped, with the reason, where that Python has no torchvision.
 *
 * Each case is compared in pixel units ([0, 1], before normalisation: x · std + mean undoes it), mean and
 * max |Δ|; sharp's own kernels on the same geometry are printed beside them (the "before").
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { ConvscopeError, Preprocessing } from '../../src/shared/api'
import { readNpy } from '../../src/main/engine/store/npy'
import { readImage, readModelInput } from '../../src/main/engine/images/readImage'
import { atInputSize, inputToImage, planResize, toModelInput, withResizePlan } from '../../src/main/engine/images/preprocess'
import { pilResize, type Interpolation } from '../../src/main/engine/images/pilResample'
import { readSidecar } from '../../src/main/engine/models/sidecar'
import { describeResize } from '../../src/shared/resizePolicy'

const PYTHON = '/usr/bin/python3'
const SCRIPT = join(import.meta.dirname, '../../scripts/preprocessing/makeReference.py')
const FIXTURES = join(import.meta.dirname, '../fixtures/preprocessing')

const probe = spawnSync(PYTHON, ['-c', 'import torchvision, PIL, numpy'], { encoding: 'utf8' })
const skip = probe.status === 0 ? false : `${PYTHON} cannot import torchvision and PIL (apt-get install python3-torchvision python3-pil): ${(probe.stderr || String(probe.error)).trim().split('\n').pop()}`

interface Case {
  image: string
  case: string
  file: string
  sidecar: Record<string, unknown>
  normalized: boolean
  shape: [number, number, number]
}

let root: string
let reference: string

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'convscope-tvpre-'))
  if (skip) return
  reference = join(root, 'reference')
  execFileSync(PYTHON, [SCRIPT, '--out', reference], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } })
})
after(async () => {
  if (root) await rm(root, { recursive: true, force: true })
})

/** The sidecar as convscope reads it: written as convscope.json and read by readSidecar. */
async function sidecarPreprocessing(sidecar: Record<string, unknown>, name: string): Promise<Preprocessing> {
  const dir = join(root, 'models', name)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'convscope.json'), JSON.stringify(sidecar))
  return (await readSidecar(dir, [null, null])).preprocessing
}

/** The first index where two byte arrays differ (or their lengths do), else -1: cheaper than deepEqual on long arrays. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return i
  return a.length === b.length ? -1 : Math.min(a.length, b.length)
}

/** Mean and max |a − b| in levels of 255: a HWC model input, b torchvision's CHW tensor, both in [0, 1] units. */
function difference(hwc: ArrayLike<number>, chw: Float32Array, [, h, w]: [number, number, number], pre: Preprocessing, normalized: boolean) {
  let sum = 0
  let max = 0
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        const ours = hwc[(y * w + x) * 3 + c]! * pre.std[c]! + pre.mean[c]!
        const theirs = normalized ? chw[c * h * w + y * w + x]! * pre.std[c]! + pre.mean[c]! : chw[c * h * w + y * w + x]!
        const d = Math.abs(ours - theirs) * 255
        sum += d
        if (d > max) max = d
      }
    }
  }
  return { mean: sum / (h * w * 3), max }
}

test('PIL Image.resize, to the byte: bilinear, bicubic and nearest, shrinking and enlarging, each axis alone, any window', { skip }, async () => {
  const cases = JSON.parse(await readFile(join(reference, 'resample.json'), 'utf8')) as {
    width: number
    height: number
    outWidth: number
    outHeight: number
    interpolation: Interpolation
    source: number[]
    expected: number[]
  }[]
  assert.equal(cases.length, 72)
  for (const c of cases) {
    const image = { rgb: Uint8Array.from(c.source), width: c.width, height: c.height }
    const label = `${c.width}×${c.height} → ${c.outWidth}×${c.outHeight} ${c.interpolation}`
    assert.equal(firstDifference(pilResize(image, c.outWidth, c.outHeight, c.interpolation), c.expected), -1, label)
    // A window is that part of the whole resize.
    const win = { x: Math.floor(c.outWidth / 3), y: Math.floor(c.outHeight / 4), width: Math.ceil(c.outWidth / 2), height: Math.ceil(c.outHeight / 2) }
    const part = pilResize(image, c.outWidth, c.outHeight, c.interpolation, win)
    const want: number[] = []
    for (let y = win.y; y < win.y + win.height; y++) want.push(...c.expected.slice((y * c.outWidth + win.x) * 3, (y * c.outWidth + win.x + win.width) * 3))
    assert.equal(firstDifference(part, want), -1, `${label}, window ${JSON.stringify(win)}`)
  }
})

test('model input = torchvision transforms to ≤ 1/255 mean |Δ| on every fixture and recipe (sharp kernels: the before)', { skip }, async (t) => {
  const manifest = JSON.parse(await readFile(join(reference, 'manifest.json'), 'utf8')) as { cases: Case[] }
  // Every fixture × 7 torchvision recipes + the 3 older modes.
  assert.equal(manifest.cases.length, 5 * 10)
  const rows: string[] = []
  for (const c of manifest.cases) {
    // The older modes opt into PIL's resampling by naming an interpolation.
    const older = c.sidecar.resize !== 'shorter-side'
    const pre = await sidecarPreprocessing(older ? { ...c.sidecar, interpolation: 'bilinear' } : c.sidecar, `${c.image}.${c.case}`)
    const ref = (await readNpy(join(reference, c.file))).data as Float32Array
    assert.deepEqual([3, ...pre.inputSize], c.shape, `${c.case}: the sidecar's input size`)
    const path = join(FIXTURES, c.image)
    const { input } = await readModelInput(path, pre)
    const ours = difference(input.data, ref, c.shape, pre, c.normalized)
    assert.ok(ours.mean <= 1, `${c.image} ${c.case}: mean |Δ| ${ours.mean.toFixed(3)} / 255 > 1 / 255`)

    // The methods' path (readImage, then toModelInput) gives the same numbers.
    const again = await toModelInput(await readImage(path), pre)
    assert.equal(firstDifference(again.data, input.data), -1, `${c.image} ${c.case}: toModelInput(readImage) = readModelInput`)

    // Before: sharp's linear / cubic on the same resize and crop.
    const decoded = await readImage(path)
    const before = { linear: '', cubic: '' }
    for (const kernel of ['linear', 'cubic'] as const) {
      const plan = planResize(decoded.width, decoded.height, pre)
      const raw = await withResizePlan(sharp(decoded.rgb, { raw: { width: decoded.width, height: decoded.height, channels: 3 } }), plan, kernel).raw().toBuffer()
      const asInput = Float32Array.from(raw, (v, i) => (v / 255 - pre.mean[i % 3]!) / pre.std[i % 3]!)
      const d = difference(asInput, ref, c.shape, pre, c.normalized)
      before[kernel] = `${d.mean.toFixed(2)} / ${d.max.toFixed(0)}`
    }
    rows.push(`${c.image.padEnd(18)} ${c.case.padEnd(21)} ${(pre.interpolation ?? '').padEnd(8)} ours ${ours.mean.toFixed(3)} / ${ours.max.toFixed(3)}   sharp linear ${before.linear}   cubic ${before.cubic}`)
  }
  t.diagnostic(`mean / max |Δ| in levels of 255:\n${rows.join('\n')}`)
})

test('shorter-side plan: torchvision 0.14 sizes, round-half-even crop offsets, zero padding where the crop is larger', () => {
  const plan = (w: number, h: number, resizeSize: number, inputSize: [number, number]) => planResize(w, h, { inputSize, resize: 'shorter-side', resizeSize })
  // 451×300: short side 300 → 256, long int(256 · 451 / 300) = int(384.85) = 384; crop at (384 − 224) / 2 = 80, (256 − 224) / 2 = 16.
  const wide = plan(451, 300, 256, [224, 224])
  assert.deepEqual([wide.resizeWidth, wide.resizeHeight, wide.crop, wide.pad], [384, 256, { x: 80, y: 16, width: 224, height: 224 }, null])
  // A tie (square) and the tall orientation.
  assert.deepEqual([plan(300, 451, 256, [224, 224]).resizeWidth, plan(300, 451, 256, [224, 224]).resizeHeight], [256, 384])
  assert.deepEqual([plan(10, 10, 7, [7, 7]).resizeWidth, plan(10, 10, 7, [7, 7]).resizeHeight], [7, 7])
  // Python's round: (385 − 224) / 2 = 80.5 → 80, (387 − 224) / 2 = 81.5 → 82 (half to even).
  assert.equal(plan(385, 256, 256, [224, 224]).crop!.x, 80)
  assert.equal(plan(387, 256, 256, [224, 224]).crop!.x, 82)
  // Resize(200) of 451×300 is 300×200; CenterCrop([224, 300]) pads rows 12 above and 12 below, keeps all columns.
  const padded = plan(451, 300, 200, [224, 300])
  assert.deepEqual([padded.resizeWidth, padded.resizeHeight], [300, 200])
  assert.deepEqual(padded.crop, { x: 0, y: 0, width: 300, height: 200 })
  assert.deepEqual(padded.pad, { top: 12, bottom: 12, left: 0, right: 0 })
  assert.deepEqual(padded.geometry.content, { x: 0, y: 12, width: 300, height: 200 })
  // Odd padding: (225 − 200) // 2 = 12 before, 13 after.
  assert.deepEqual(plan(451, 300, 200, [225, 300]).pad, { top: 12, bottom: 13, left: 0, right: 0 })
  // Without resizeSize: Resize(min(inputSize)).
  assert.deepEqual([plan(451, 300, undefined as unknown as number, [224, 224]).resizeHeight], [224])
})

test('atInputSize: shorter-side keeps its resize-to-crop ratio at a larger input (fully-convolutional maps), other modes change the size only', () => {
  const resnet = Preprocessing.parse({ inputSize: [224, 224], resize: 'shorter-side', resizeSize: 256 })
  assert.deepEqual([atInputSize(resnet, [448, 448]).inputSize, atInputSize(resnet, [448, 448]).resizeSize], [[448, 448], 512])
  assert.equal(atInputSize(resnet, [448, 672]).resizeSize, 512)
  const old = Preprocessing.parse({ inputSize: [224, 224], resize: 'center-crop' })
  assert.deepEqual(atInputSize(old, [448, 448]), { ...old, inputSize: [448, 448] })
  // As `info` and the model facts say it.
  assert.equal(describeResize(resnet), 'shorter side → 256, center crop')
  assert.equal(describeResize({ ...resnet, interpolation: 'bicubic' }), 'shorter side → 256, center crop, bicubic')
  assert.equal(describeResize(old), 'center-crop')
})

test('shorter-side geometry: a red square lands where inputToImage says, also with padding and enlarging', async () => {
  const width = 451
  const height = 300
  const rgb = new Uint8Array(width * height * 3).fill(128)
  for (let y = 100; y < 140; y++) for (let x = 200; x < 240; x++) rgb.set([255, 0, 0], (y * width + x) * 3)
  for (const [resizeSize, inputSize] of [[256, [224, 224]], [200, [224, 300]], [480, [299, 299]]] as const) {
    const pre = Preprocessing.parse({ inputSize, resize: 'shorter-side', resizeSize, range: [0, 255] })
    const input = await toModelInput({ rgb, width, height }, pre)
    const [H, W] = inputSize
    let sx = 0
    let sy = 0
    let n = 0
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = (y * W + x) * 3
        if (input.data[i]! > 200 && input.data[i + 1]! < 60) (sx += x + 0.5), (sy += y + 0.5), n++
      }
    }
    assert.ok(n > 0, `${resizeSize}: red square visible`)
    const centre = inputToImage(input.geometry, { x: sx / n, y: sy / n, width: 0, height: 0 })
    assert.ok(Math.abs(centre.x - 220) < 1 && Math.abs(centre.y - 120) < 1, `${resizeSize}: centre maps to (${centre.x}, ${centre.y}), want (220, 120)`)
  }
})

test('sidecar: cropSize sets inputSize, must agree with it; resizeSize only with shorter-side; the allowed keys are named', async () => {
  const pre = await sidecarPreprocessing({ resize: 'shorter-side', resizeSize: 232, cropSize: 224, interpolation: 'bicubic' }, 'crop-number')
  assert.deepEqual([pre.inputSize, pre.resize, pre.resizeSize, pre.interpolation], [[224, 224], 'shorter-side', 232, 'bicubic'])
  assert.equal('cropSize' in pre, false)
  assert.deepEqual((await sidecarPreprocessing({ resize: 'shorter-side', cropSize: [224, 300], inputSize: [224, 300] }, 'crop-pair')).inputSize, [224, 300])
  const bad = async (sidecar: Record<string, unknown>, message: RegExp) => {
    await assert.rejects(sidecarPreprocessing(sidecar, `bad-${Object.keys(sidecar).join('-')}`), (e: unknown) => e instanceof ConvscopeError && e.code === 'BAD_MODEL' && message.test(e.message))
  }
  await bad({ resize: 'shorter-side', cropSize: 224, inputSize: [256, 256] }, /cropSize \[224, 224\] and inputSize \[256, 256\] disagree/)
  await bad({ resize: 'center-crop', resizeSize: 256, cropSize: 224 }, /resizeSize .*"resize": "center-crop"/)
  await bad({ resize: 'shorter-side', interpolation: 'lanczos', cropSize: 224 }, /interpolation/)
  await bad({ resize: 'shorter-side', cropsize: 224 }, /unknown key "cropsize" \(allowed: .*resizeSize, interpolation, .*cropSize\)/)
})
