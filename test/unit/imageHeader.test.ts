import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import sharp from 'sharp'
import { plainHeader, type ImageHeader } from '../../src/main/engine/images/imageHeader'
import { makeOddImages, type OddImage, type OddImageName } from '../fixtures/images'

let dir: string
let odd: Record<OddImageName, OddImage>

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'convscope-header-'))
  odd = await makeOddImages(dir)
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

const FIELDS = ['format', 'width', 'height', 'space', 'depth', 'hasAlpha', 'hasProfile', 'isPalette', 'pages', 'orientation'] as const
const fields = (m: ImageHeader) => Object.fromEntries(FIELDS.map((k) => [k, m[k] ?? null]))

/** The JPEG with its EXIF orientation entry (tag 0x0112, SHORT, count 1) set to `value`. */
function withOrientation(jpeg: Buffer, value: number): Buffer {
  const out = Buffer.from(jpeg)
  const le = out.indexOf(Buffer.from([0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00]))
  const be = out.indexOf(Buffer.from([0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01]))
  assert.ok(le >= 0 || be >= 0, 'an orientation entry to change')
  if (le >= 0) out.writeUInt16LE(value, le + 8)
  else out.writeUInt16BE(value, be + 8)
  return out
}

/** The PNG with a tEXt chunk after its header. */
function withTextChunk(png: Buffer): Buffer {
  const data = Buffer.from('Comment\0made by convscope', 'latin1')
  const chunk = Buffer.alloc(12 + data.length)
  chunk.writeUInt32BE(data.length, 0)
  chunk.write('tEXt', 4, 'latin1')
  data.copy(chunk, 8)
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + data.length)), 8 + data.length)
  return Buffer.concat([png.subarray(0, 33), chunk, png.subarray(33)])
}

/** Files made here beside the odd images: kinds datasets hold, plain or not. */
async function variants(): Promise<Record<string, { bytes: Buffer; plain: boolean }>> {
  const [w, h] = [40, 24]
  const px = Buffer.alloc(w * h * 3).map((_, i) => (i * 37) % 251)
  const gray = Buffer.alloc(w * h).map((_, i) => (i * 11) % 253)
  const rgb = () => sharp(px, { raw: { width: w, height: h, channels: 3 } })
  const g = () => sharp(gray, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w')
  // libvips writes Orientation 1 into any EXIF block it saves
  const exif1 = await rgb().withExif({ IFD0: { Copyright: 'convscope' } }).jpeg().toBuffer()
  return {
    'baseline JPEG': { bytes: await rgb().jpeg().toBuffer(), plain: true },
    'progressive JPEG': { bytes: await rgb().jpeg({ progressive: true }).toBuffer(), plain: true },
    '4:4:4 JPEG with restart-free quality 100': { bytes: await rgb().jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer(), plain: true },
    'gray JPEG': { bytes: await g().jpeg().toBuffer(), plain: true },
    'JPEG, EXIF orientation 1': { bytes: exif1, plain: true },
    'JPEG, EXIF orientation 3': { bytes: withOrientation(exif1, 3), plain: false },
    'JPEG, sRGB ICC profile': { bytes: await rgb().withIccProfile('srgb').jpeg().toBuffer(), plain: false },
    'CMYK JPEG': { bytes: await rgb().toColourspace('cmyk').jpeg().toBuffer(), plain: false },
    'RGB PNG': { bytes: await rgb().png().toBuffer(), plain: true },
    'interlaced RGB PNG': { bytes: await rgb().png({ progressive: true }).toBuffer(), plain: true },
    'gray PNG': { bytes: await g().png().toBuffer(), plain: true },
    'PNG with a text chunk': { bytes: withTextChunk(await rgb().png().toBuffer()), plain: true },
    'PNG with an EXIF chunk': { bytes: await rgb().withExif({ IFD0: { Copyright: 'convscope' } }).png().toBuffer(), plain: false },
    'RGBA PNG': { bytes: await rgb().ensureAlpha().png().toBuffer(), plain: false },
    'palette PNG': { bytes: await rgb().png({ palette: true }).toBuffer(), plain: false },
    '16-bit PNG': { bytes: await rgb().toColourspace('rgb16').png().toBuffer(), plain: false },
    'PNG, ICC profile': { bytes: await rgb().withIccProfile('p3').png().toBuffer(), plain: false },
    WebP: { bytes: await rgb().webp().toBuffer(), plain: false },
  }
}

test('a plain header reads as sharp metadata() does; anything else answers null', async () => {
  const cases: Record<string, { bytes: Buffer; plain?: boolean }> = await variants()
  for (const [name, { path, expect }] of Object.entries(odd)) {
    if (name === 'missing' || name === 'empty') continue
    cases[`odd ${name}`] = { bytes: await readFile(path), plain: name === 'rgbJpeg' || name === 'grayPng' || name === 'hugeHeaderPng' ? true : expect.ok ? false : undefined }
  }
  for (const [name, { bytes, plain }] of Object.entries(cases)) {
    const header = plainHeader(bytes)
    if (plain !== undefined) assert.equal(header !== null, plain, `${name}: plain`)
    if (!header) continue
    const meta = await sharp(bytes, { limitInputPixels: false }).metadata()
    assert.deepEqual(fields(header), fields(meta), name)
  }
})

test('cut or damaged headers answer null (sharp then says what is wrong)', async () => {
  const jpeg = await sharp(Buffer.alloc(16 * 16 * 3, 90), { raw: { width: 16, height: 16, channels: 3 } }).jpeg().toBuffer()
  const png = await sharp(Buffer.alloc(16 * 16 * 3, 90), { raw: { width: 16, height: 16, channels: 3 } }).png().toBuffer()
  assert.ok(plainHeader(jpeg) && plainHeader(png), 'the whole files are plain')
  const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]))
  const idat = png.indexOf(Buffer.from('IDAT'))
  for (let n = 0; n < sos; n++) assert.equal(plainHeader(jpeg.subarray(0, n)), null, `JPEG cut at ${n}`)
  for (let n = 0; n < idat; n++) assert.equal(plainHeader(png.subarray(0, n)), null, `PNG cut at ${n}`)
  const badMarker = Buffer.from(jpeg)
  badMarker[2] = 0x00
  assert.equal(plainHeader(badMarker), null, 'not a marker after SOI')
  assert.equal(plainHeader(Buffer.from('hello, not an image')), null)
})
