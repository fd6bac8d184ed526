import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConvscopeError } from '../../src/shared/api'
import sharp from 'sharp'
import { readImage, readModelInput, maxPixelsFrom, formatMegapixels, type DecodedImage } from '../../src/main/engine/images/readImage'
import { toModelInput } from '../../src/main/engine/images/preprocess'
import type { Preprocessing } from '../../src/shared/api'
import { makeOddImages, type Corner, type OddImage, type OddImageName } from '../fixtures/images'

let dir: string
let odd: Record<OddImageName, OddImage>

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'convscope-images-'))
  odd = await makeOddImages(dir)
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

const pixel = (img: DecodedImage, x: number, y: number) => [...img.rgb.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)]

function cornerXY(img: DecodedImage, corner: Corner): [number, number] {
  // 2 px inside the corner, away from JPEG ringing at the very edge.
  const x = corner.endsWith('left') ? 2 : img.width - 3
  const y = corner.startsWith('top') ? 2 : img.height - 3
  return [x, y]
}

/** The block is red (or bright, for grayscale) against a blue (or dark) background. */
function isBlock(p: number[], gray: boolean): boolean {
  return gray ? p[0]! > 180 : p[0]! > 150 && p[2]! < 100
}

test('each good odd image decodes to the right size, orientation and notes', async () => {
  for (const [name, { path, expect }] of Object.entries(odd)) {
    if (!expect.ok) continue
    const img = await readImage(path)
    assert.equal(img.width, expect.width, `${name} width`)
    assert.equal(img.height, expect.height, `${name} height`)
    assert.equal(img.rgb.length, expect.width * expect.height * 3, `${name} is 3-channel 8-bit`)
    assert.deepEqual([img.facts.width, img.facts.height], [img.width, img.height])
    const gray = name.startsWith('gray')
    const corners: Corner[] = ['top-left', 'top-right', 'bottom-left', 'bottom-right']
    for (const corner of corners) {
      const [x, y] = cornerXY(img, corner)
      assert.equal(isBlock(pixel(img, x, y), gray), corner === expect.blockCorner, `${name}: block ${corner === expect.blockCorner ? 'expected' : 'not expected'} at ${corner} (${pixel(img, x, y)})`)
    }
    if (expect.note) assert.ok(img.facts.notes.some((n) => expect.note!.test(n)), `${name} notes ${JSON.stringify(img.facts.notes)} lack ${expect.note}`)
    if (gray) {
      const p = pixel(img, 2, 2)
      assert.ok(p[0] === p[1] && p[1] === p[2], `${name} stays gray`)
    }
  }
})

test('plain RGB images carry no conversion notes; formats are named', async () => {
  const jpeg = await readImage(odd.rgbJpeg.path)
  assert.deepEqual(jpeg.facts.notes, [])
  assert.equal(jpeg.facts.format, 'jpeg')
  assert.equal((await readImage(odd.webp.path)).facts.format, 'webp')
})

test('alpha is flattened on white', async () => {
  const img = await readImage(odd.alphaPng.path)
  assert.deepEqual(pixel(img, img.width - 2, img.height - 2), [255, 255, 255], 'transparent right half becomes white')
  assert.deepEqual(pixel(img, 10, img.height - 2), [0, 0, 255], 'opaque left half keeps its colour')
})

test('EXIF orientation 6 swaps width and height and moves the top-left block to the top right', async () => {
  const img = await readImage(odd.exif6Jpeg.path)
  assert.deepEqual([img.width, img.height], [32, 48])
  assert.ok(img.facts.notes.includes('EXIF orientation 6 applied: rotated 90° clockwise'))
})

/** Larger photos-like files: JPEGs that shrink 2×, 3× and 5× (where JPEG shrink-on-load would change pixels), ICC profiles, rotation. */
async function makePhotos(): Promise<Record<string, { path: string; single: boolean }>> {
  const out: Record<string, { path: string; single: boolean }> = {}
  for (const [w, h] of [[128, 128], [640, 480], [1000, 700]] as const) {
    const px = Buffer.alloc(w * h * 3).map((_, i) => Math.floor(128 + 100 * Math.sin(i * 0.013) + ((i * 7919) % 23)))
    const raw = { raw: { width: w, height: h, channels: 3 as const } }
    const at = (n: string) => join(dir, `photo${w}${n}`)
    await sharp(px, raw).jpeg({ quality: 90 }).toFile(at('.jpg'))
    await sharp(px, raw).withIccProfile('p3').jpeg({ quality: 90 }).toFile(at('-p3.jpg'))
    await sharp(px, raw).withMetadata({ orientation: 8 }).jpeg({ quality: 90 }).toFile(at('-o8.jpg'))
    await sharp(px, raw).png().toFile(at('.png'))
    Object.assign(out, {
      [`${w} jpeg`]: { path: at('.jpg'), single: true },
      [`${w} jpeg, P3 profile`]: { path: at('-p3.jpg'), single: true },
      [`${w} jpeg, EXIF 8`]: { path: at('-o8.jpg'), single: false },
      [`${w} png`]: { path: at('.png'), single: true },
    })
  }
  return out
}

test('readModelInput gives toModelInput(readImage) to the byte, in one pipeline where that is exact', async () => {
  const single = new Set(['rgbJpeg', 'grayPng', 'gray16Png', 'rgb16Png', 'palettePng', 'webp', 'tiff'])
  const cases: Record<string, { path: string; single: boolean }> = { ...(await makePhotos()) }
  for (const [name, { path, expect }] of Object.entries(odd)) if (expect.ok) cases[name] = { path, single: single.has(name) }
  const base: Preprocessing = { inputSize: [64, 64], resize: 'stretch', channelOrder: 'RGB', range: [0, 255], mean: [0, 0, 0], std: [1, 1, 1], labels: null }
  const pres: Preprocessing[] = [
    base,
    { ...base, inputSize: [224, 224], resize: 'center-crop', channelOrder: 'BGR', range: [-1, 1] },
    { ...base, inputSize: [30, 20], resize: 'pad' },
    { ...base, inputSize: [60, 100], resize: 'stretch' },
    { ...base, inputSize: [32, 48], resize: 'stretch' }, // the odd images' own size: no resize at all
    // 128² → 64² then a crop or a pad: the resize in JS (vipsReduce.ts), crop and pad after it
    { ...base, inputSize: [40, 64], resize: 'center-crop' },
    { ...base, inputSize: [64, 80], resize: 'pad', channelOrder: 'BGR' },
  ]
  for (const [name, c] of Object.entries(cases)) {
    for (const pre of pres) {
      const image = await readImage(c.path)
      const want = await toModelInput(image, pre)
      const got = await readModelInput(c.path, pre)
      const what = `${name}, ${pre.resize} ${pre.inputSize.join('×')}`
      assert.equal(got.singlePipeline, c.single, `${what}: one pipeline`)
      assert.ok(Buffer.from(got.input.data.buffer).equals(Buffer.from(want.data.buffer)), `${what}: model input differs`)
      assert.ok(Buffer.from(got.input.rgb).equals(Buffer.from(want.rgb)), `${what}: the input's 8-bit pixels differ`)
      assert.deepEqual(got.input.geometry, want.geometry, what)
      assert.deepEqual([got.width, got.height, got.facts], [image.width, image.height, image.facts], what)
    }
  }
})

test('each bad odd image fails with the right code and a message naming the file', async () => {
  const pre: Preprocessing = { inputSize: [16, 16], resize: 'stretch', channelOrder: 'RGB', range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1], labels: null }
  for (const [name, { path, expect }] of Object.entries(odd)) {
    if (expect.ok) continue
    for (const read of [readImage, (p: string, o: { maxPixels?: number }) => readModelInput(p, pre, o)]) await assert.rejects(
      read(path, expect.maxPixels ? { maxPixels: expect.maxPixels } : {}),
      (e: unknown) => {
        assert.ok(e instanceof ConvscopeError, `${name}: ${e}`)
        assert.equal(e.code, expect.code, `${name}: ${e.message}`)
        assert.match(e.message, expect.message, name)
        assert.ok(e.message.includes(path), `${name}: message names the file`)
        return true
      },
    )
  }
})

test('a folder is not an image', async () => {
  await assert.rejects(readImage(dir), (e: ConvscopeError) => e.code === 'BAD_IMAGE' && /is a folder/.test(e.message))
})

test('unreadable file: permission denied', async (t) => {
  if (process.getuid?.() === 0) return t.skip('running as root: file permissions do not apply')
  const path = join(dir, 'locked.jpg')
  await writeFile(path, 'x')
  await chmod(path, 0o000)
  await assert.rejects(readImage(path), (e: ConvscopeError) => e.code === 'BAD_IMAGE' && e.message.includes('locked.jpg cannot be read: permission denied'))
})

test('the pixel limit comes from the option, then CONVSCOPE_MAX_PIXELS, then 100 MP', () => {
  assert.equal(maxPixelsFrom({}, {}), 100_000_000)
  assert.equal(maxPixelsFrom({ maxPixels: 5 }, { CONVSCOPE_MAX_PIXELS: '7' }), 5)
  assert.equal(maxPixelsFrom({}, { CONVSCOPE_MAX_PIXELS: '200000000' }), 200_000_000)
  assert.equal(maxPixelsFrom({}, { CONVSCOPE_MAX_PIXELS: '250MP' }), 250_000_000)
  assert.throws(() => maxPixelsFrom({}, { CONVSCOPE_MAX_PIXELS: 'lots' }), /CONVSCOPE_MAX_PIXELS="lots"/)
  assert.equal(formatMegapixels(400_000_000), '400')
  assert.equal(formatMegapixels(12_582_912), '12.6')
})

test('CONVSCOPE_MAX_PIXELS raises the limit for the huge header (which then fails to decode, not hang)', async () => {
  process.env.CONVSCOPE_MAX_PIXELS = '500MP'
  try {
    await assert.rejects(readImage(odd.hugeHeaderPng.path), (e: ConvscopeError) => e.code === 'BAD_IMAGE' && !/over the/.test(e.message))
  } finally {
    delete process.env.CONVSCOPE_MAX_PIXELS
  }
})
