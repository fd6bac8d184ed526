import { test, before, after } from 'node:test'
import { execFileSync } from 'node:child_process'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import sharp, { type Sharp } from 'sharp'
import type { Preprocessing } from '../../src/shared/api'
import { generateDemoDataset } from '../../src/main/engine/demo'
import { listImageFolder } from '../../src/main/engine/images/imageFolder'
import { plainHeader } from '../../src/main/engine/images/imageHeader'
import { decodePlainJpeg, JPEG_WASM_MAX_PIXELS, wasmDecodable } from '../../src/main/engine/images/jpegDecode'
import { readImage, readModelInput } from '../../src/main/engine/images/readImage'
import { modelInputOf, planResize, toModelInput, usesPilResample, withResizePlan, type ModelInput } from '../../src/main/engine/images/preprocess'

const FIXTURES = resolve(import.meta.dirname, '../fixtures')
let dir: string

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'convscope-jpeg-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** sharp's decode as readImage made it before the wasm decoder: 8-bit sRGB, 3 channels (grey repeated). */
async function sharpRgb(bytes: Buffer): Promise<{ rgb: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(bytes, { failOn: 'error' }).toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true })
  assert.equal(info.channels, 3)
  return { rgb: data, width: info.width, height: info.height }
}

/** A busy test picture: edges, gradients, saturated colours (what upsampling and the IDCT's rounding show). */
function picture(width: number, height: number, channels: 1 | 3 = 3): Sharp {
  const px = Buffer.alloc(width * height * channels).map((_, i) => Math.floor(128 + 100 * Math.sin(i * 0.37) + ((i * 7919) % 29)))
  const img = sharp(px, { raw: { width, height, channels } })
  return channels === 1 ? img.toColourspace('b-w') : img
}

/** JPEGs written by sharp (mozjpeg) here; Pillow's and cjpeg's are committed (test/fixtures/jpeg/make.py). */
async function sharpMatrix(): Promise<Record<string, Buffer>> {
  const out: Record<string, Buffer> = {}
  for (const [w, h] of [[1, 1], [17, 9], [513, 3], [128, 128], [224, 224]] as const) {
    for (const chromaSubsampling of ['4:2:0', '4:4:4'] as const) {
      out[`${w}×${h} ${chromaSubsampling} baseline`] = await picture(w, h).jpeg({ chromaSubsampling }).toBuffer()
      out[`${w}×${h} ${chromaSubsampling} progressive`] = await picture(w, h).jpeg({ chromaSubsampling, progressive: true }).toBuffer()
    }
  }
  out['64×48 quality 5'] = await picture(64, 48).jpeg({ quality: 5 }).toBuffer()
  out['64×48 quality 100 4:4:4'] = await picture(64, 48).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer()
  out['64×48 Huffman tables not optimised'] = await picture(64, 48).jpeg({ optimiseCoding: false }).toBuffer()
  out['64×48 mozjpeg preset (trellis, progressive)'] = await picture(64, 48).jpeg({ mozjpeg: true }).toBuffer()
  out['64×48 grey'] = await picture(64, 48, 1).jpeg().toBuffer()
  out['33×21 grey progressive'] = await picture(33, 21, 1).jpeg({ progressive: true }).toBuffer()
  return out
}

async function filesIn(folder: string): Promise<Record<string, Buffer>> {
  const names = (await readdir(folder)).filter((n) => n.endsWith('.jpg'))
  return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await readFile(join(folder, n))] as const)))
}

async function demoJpegs(): Promise<Record<string, Buffer>> {
  const out: Record<string, Buffer> = {}
  for (const size of [128, 224]) {
    const root = join(dir, `demo${size}`)
    await generateDemoDataset({ out: root, count: { train: 0, val: 1 }, classes: 5, size, seed: 0 })
    for (const { path } of (await listImageFolder(join(root, 'val'), 100)).images) out[`demo ${size}² ${path.slice(root.length)}`] = await readFile(path)
  }
  return out
}

test('the wasm decoder gives sharp\'s bytes on JPEGs from sharp, Pillow, cjpeg and the demo generator', async (t) => {
  const cases = { ...(await sharpMatrix()), ...(await filesIn(join(FIXTURES, 'jpeg'))), ...(await filesIn(join(FIXTURES, 'preprocessing'))), ...(await demoJpegs()) }
  // what the wasm decoder leaves to sharp: 4:4:0 (its libjpeg predates h1v2 fancy upsampling: the bytes differ), 4:1:1, arithmetic coding, EXIF rotation
  const toSharp = new Set(['cjpeg-440.jpg', 'cjpeg-411.jpg', 'cjpeg-arithmetic.jpg', 'exif6-250x375.jpg'])
  let decoded = 0
  for (const [name, bytes] of Object.entries(cases)) {
    const header = plainHeader(bytes)
    const wasm = header && (await decodePlainJpeg(bytes, header))
    assert.equal(wasm === null, toSharp.has(name), `${name}: ${wasm ? 'decoded in wasm' : 'left to sharp'}`)
    if (!wasm) continue
    const want = await sharpRgb(bytes)
    assert.deepEqual([header.width, header.height], [want.width, want.height], name)
    assert.ok(wasm.equals(want.rgb), `${name}: the wasm decode differs from sharp's`)
    decoded++
  }
  assert.ok(decoded >= 50, `${decoded} decoded`)
  t.diagnostic(`${decoded} decoded in wasm, all equal to sharp's`)
})

test('sampling factors, size and header source decide what the wasm decoder takes', async () => {
  const jpeg = await picture(16, 8).jpeg().toBuffer()
  const header = plainHeader(jpeg)!
  assert.equal(header.jpegSampling, '2x2 1x1 1x1')
  assert.ok(wasmDecodable(header))
  const side = Math.sqrt(JPEG_WASM_MAX_PIXELS)
  assert.ok(wasmDecodable({ ...header, width: side, height: side }), 'up to the limit')
  assert.ok(!wasmDecodable({ ...header, width: side + 1, height: side }), 'over the limit: sharp')
  const { jpegSampling: _, ...fromSharp } = header
  assert.ok(!wasmDecodable(fromSharp), 'a header from sharp metadata() (no jpegSampling): sharp')
  assert.ok(!wasmDecodable({ ...header, jpegSampling: '1x2 1x1 1x1' }), '4:4:0: sharp')
  assert.ok(wasmDecodable({ ...header, space: 'b-w', jpegSampling: '2x2' }), 'one component: no upsampling')
})

/** The file cut short, and with bytes overwritten inside its entropy-coded data and its header. */
async function damaged(): Promise<Record<string, Buffer>> {
  const out: Record<string, Buffer> = {}
  const sources = {
    baseline: await picture(96, 64).jpeg({ quality: 90 }).toBuffer(),
    progressive: await picture(96, 64).jpeg({ quality: 90, progressive: true }).toBuffer(),
    restart: await readFile(join(FIXTURES, 'jpeg/cjpeg-420-restart-1row.jpg')),
  }
  for (const [kind, jpeg] of Object.entries(sources)) {
    const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]))
    for (const f of [0.3, 0.6, 0.9, 0.99]) out[`${kind} cut at ${f}`] = jpeg.subarray(0, sos + Math.floor((jpeg.length - sos) * f))
    out[`${kind} without its EOI`] = jpeg.subarray(0, jpeg.length - 2)
    for (const [what, at, value] of [['0xff inside the scan', 0.5, 0xff], ['zeros inside the scan', 0.4, 0], ['a marker inside the scan', 0.7, 0xd9]] as const) {
      const bad = Buffer.from(jpeg)
      const i = sos + Math.floor((jpeg.length - sos) * at)
      if (value === 0xd9) bad.set([0xff, 0xd9], i)
      else bad.fill(value, i, i + 6)
      out[`${kind}, ${what}`] = bad
    }
    out[`${kind} with trailing garbage`] = Buffer.concat([jpeg, Buffer.from('trailing bytes')])
    out[`${kind} with bytes before a marker`] = Buffer.concat([jpeg.subarray(0, sos), Buffer.from([1, 2, 3]), jpeg.subarray(sos)])
  }
  return out
}

/** sharp's decodes in a child process whose libjpeg-turbo runs its C code only (JSIMD_FORCENONE), as the wasm build does. */
function sharpRgbWithoutSimd(files: string[]): Buffer[] {
  const script = `const sharp = require('sharp');
    Promise.all(process.argv.slice(1).map((f) => sharp(f, { failOn: 'error' }).toColourspace('srgb').raw().toBuffer()))
      .then((all) => process.stdout.write(JSON.stringify(all.map((b) => b.toString('base64')))))`
  const out = execFileSync(process.execPath, ['-e', script, ...files], { env: { ...process.env, JSIMD_FORCENONE: '1' }, encoding: 'utf8' })
  return (JSON.parse(out) as string[]).map((b) => Buffer.from(b, 'base64'))
}

test('damaged JPEGs fail, warn and skip as with sharp; what the wasm decoder answers is libjpeg\'s decode', async (t) => {
  let fellBack = 0
  const decoded: { name: string; path: string; wasm: Buffer; sharp: Buffer }[] = []
  for (const [name, bytes] of Object.entries(await damaged())) {
    const path = join(dir, `damaged-${decoded.length + fellBack}.jpg`)
    await writeFile(path, bytes)
    const header = plainHeader(bytes)
    const wasm = header && (await decodePlainJpeg(bytes, header))
    const want = await sharpRgb(bytes).then((r) => r.rgb, (e: Error) => e)
    if (wasm) {
      assert.ok(want instanceof Buffer, `${name}: the wasm decoder answered, sharp refuses it (${want})`)
      decoded.push({ name, path, wasm, sharp: want })
    } else fellBack++
    // readImage: decoded by one or the other, or refused with sharp's message
    const got = await readImage(path).then((r) => r.rgb, (e: Error) => e)
    if (want instanceof Error) assert.ok(got instanceof Error && got.message.startsWith(`${path} `), `${name}: sharp refuses it, readImage ${got instanceof Error ? got.message : 'decoded it'}`)
    else assert.ok(got instanceof Buffer && got.equals(wasm ?? want), `${name}: ${got instanceof Error ? got.message : 'other bytes'}`)
  }
  assert.ok(fellBack >= 12, `${fellBack} left to sharp: at least the cut files`)
  // Corrupt scan data that libjpeg decodes without a word can give coefficients out of range, where libjpeg-turbo's
  // SIMD IDCT (sharp on x86-64) saturates and its C IDCT (the wasm build; sharp elsewhere or with JSIMD_FORCENONE) wraps.
  const withoutSimd = sharpRgbWithoutSimd(decoded.map((d) => d.path))
  decoded.forEach((d, i) => assert.ok(d.wasm.equals(withoutSimd[i]!), `${d.name}: the wasm decode differs from libjpeg's C code`))
  const differing = decoded.filter((d) => !d.wasm.equals(d.sharp)).map((d) => d.name)
  assert.ok(differing.every((n) => /inside the scan/.test(n)), `only silently corrupt scans differ from sharp's SIMD decode: ${differing}`)
  t.diagnostic(`${fellBack} left to sharp, ${decoded.length} decoded in wasm, ${differing.length} of them unlike sharp's SIMD decode`)
  // after libjpeg's errors the decoder still decodes (a fresh instance)
  const jpeg = await picture(20, 10).jpeg().toBuffer()
  assert.ok((await decodePlainJpeg(jpeg, plainHeader(jpeg)!))?.equals((await sharpRgb(jpeg)).rgb))
})

/** The network input from sharp's decoded pixels, resized by sharp (PIL's resampling in JS: its own reference is PyTorch's). */
async function sharpModelInput(decoded: { rgb: Buffer; width: number; height: number }, pre: Preprocessing): Promise<ModelInput> {
  if (usesPilResample(pre)) return toModelInput(decoded, pre)
  const plan = planResize(decoded.width, decoded.height, pre)
  const raw = sharp(decoded.rgb, { raw: { width: decoded.width, height: decoded.height, channels: 3 } })
  return modelInputOf(await withResizePlan(raw, plan).raw().toBuffer(), plan, pre)
}

test('readModelInput, readImage and toModelInput give the inputs of sharp\'s decode and resize on the fixtures', async () => {
  const base: Preprocessing = { inputSize: [64, 64], resize: 'stretch', channelOrder: 'RGB', range: [0, 255], mean: [0, 0, 0], std: [1, 1, 1], labels: null }
  const pres: Preprocessing[] = [
    base, // 128² → 64²: the resize in JS (vipsReduce.ts)
    { ...base, inputSize: [224, 224], resize: 'center-crop', channelOrder: 'BGR', range: [-1, 1] }, // the resize in sharp
    { ...base, inputSize: [40, 50], resize: 'pad' },
    { ...base, inputSize: [40, 64], resize: 'center-crop' }, // 128² → 64² in JS, then the crop
    { ...base, inputSize: [64, 80], resize: 'pad', channelOrder: 'BGR' }, // 128² → 64² in JS, then the pad
    { ...base, inputSize: [56, 56], resize: 'shorter-side', resizeSize: 64, interpolation: 'bilinear' }, // PIL's resampling
  ]
  const files = [
    ...['pil-420-q90.jpg', 'pil-422-progressive.jpg', 'pil-gray.jpg', 'cjpeg-420-restart-1row.jpg', 'pil-513x3.jpg', 'cjpeg-440.jpg'].map((n) => join(FIXTURES, 'jpeg', n)),
    join(FIXTURES, 'preprocessing/photo-500x375.jpg'),
    join(dir, 'demo.jpg'),
  ]
  await writeFile(files.at(-1)!, await picture(128, 128).jpeg().toBuffer())
  for (const path of files) {
    const decoded = await sharpRgb(await readFile(path))
    const image = await readImage(path)
    assert.ok(image.rgb.equals(decoded.rgb), `${path}: readImage`)
    for (const pre of pres) {
      const want = await sharpModelInput(decoded, pre)
      const got = await readModelInput(path, pre)
      const what = `${path}, ${pre.resize} ${pre.inputSize.join('×')}`
      assert.ok(Buffer.from(got.input.data.buffer).equals(Buffer.from(want.data.buffer)), `${what}: model input differs`)
      assert.ok(Buffer.from((await toModelInput(image, pre)).data.buffer).equals(Buffer.from(want.data.buffer)), `${what}: toModelInput differs`)
      assert.deepEqual(got.input.geometry, want.geometry, what)
      assert.deepEqual(got.facts, image.facts, what)
    }
  }
})
