/**
 * The header of a plain JPEG or PNG read in JS, so that readModelInput skips sharp's metadata() call for the
 * files datasets are made of (a whole sharp call: ≈ 0.2–0.3 ms of CPU per image, a tenth of a 128² image's
 * decoding; bench/decode.ts).
 *
 * "Plain" is what readImage.ts's one-pipeline path takes without a note to write: 8-bit, 3 colour components
 * (or 1, gray), no alpha, no ICC profile, no EXIF orientation other than 1, one frame. Anything else, and any
 * header this parser is not sure of, answers null and the caller asks sharp (libvips) as before; the fields
 * answered are the ones sharp's metadata() gives for the same file (test/unit/imageHeader.test.ts).
 */
import type { Metadata } from 'sharp'

/** The metadata fields readImage.ts uses (sharp's metadata() gives them all; plainHeader those of a plain image). */
export interface ImageHeader
  extends Pick<
    Metadata,
    'format' | 'width' | 'height' | 'space' | 'depth' | 'hasAlpha' | 'hasProfile' | 'isPalette' | 'pages' | 'orientation' | 'icc' | 'compression'
  > {
  /** Plain JPEGs read here only (sharp names no such field): each component's sampling factors, e.g. "2x2 1x1 1x1" for 4:2:0. */
  jpegSampling?: string
}

/** A plain JPEG or PNG's header (see the module comment), else null. */
export function plainHeader(bytes: Uint8Array): ImageHeader | null {
  if (bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return jpegHeader(bytes)
  if (bytes.length > 33 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return pngHeader(bytes)
  return null
}

const u16 = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!
const u32 = (b: Uint8Array, i: number) => ((b[i]! << 24) >>> 0) + (b[i + 1]! << 16) + (b[i + 2]! << 8) + b[i + 3]!
const ascii = (b: Uint8Array, i: number, n: number) => String.fromCharCode(...b.subarray(i, i + n))

const plain = (format: 'jpeg' | 'png', width: number, height: number, gray: boolean): ImageHeader => ({
  format,
  width,
  height,
  space: gray ? 'b-w' : 'srgb',
  depth: 'uchar',
  hasAlpha: false,
  hasProfile: false,
  isPalette: false,
})

// SOF0 (baseline), SOF1 (extended sequential), SOF2 (progressive), Huffman-coded: what libjpeg decodes to 8 bits.
const JPEG_FRAMES = new Set([0xc0, 0xc1, 0xc2])

/** The markers before the first scan (libjpeg's jpeg_read_header reads no further). */
function jpegHeader(b: Uint8Array): ImageHeader | null {
  let i = 2
  let exif = false
  let orientation: 1 | undefined
  let frame: ImageHeader | null = null
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return null
    const marker = b[i + 1]!
    if (marker === 0xff) {
      i++ // fill byte
      continue
    }
    if (marker === 0xda) {
      // start of scan: the header is complete
      if (frame && orientation) frame.orientation = orientation
      return frame
    }
    if (marker === 0xd8 || marker === 0xd9 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) return null
    const length = u16(b, i + 2)
    const body = i + 4
    const end = i + 2 + length
    if (length < 2 || end > b.length) return null
    if (marker === 0xe1 && length >= 8 && ascii(b, body, 6) === 'Exif\0\0') {
      if (exif) return null // a second EXIF block: let libvips decide which one counts
      exif = true
      const o = exifOrientation(b.subarray(body + 6, end))
      if (o === null) return null
      if (o !== undefined) orientation = 1
    } else if (marker === 0xe2 && length >= 14 && ascii(b, body, 12) === 'ICC_PROFILE\0') {
      return null // a profile: sharp reads and names it
    } else if (marker === 0xee && length >= 7 && ascii(b, body, 5) === 'Adobe') {
      return null // Adobe colour transforms (RGB, YCCK, CMYK): sharp decides
    } else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (frame || !JPEG_FRAMES.has(marker) || length < 8) return null
      const precision = b[body]!
      const height = u16(b, body + 1)
      const width = u16(b, body + 3)
      const components = b[body + 5]!
      if (precision !== 8 || width === 0 || height === 0 || (components !== 1 && components !== 3) || length !== 8 + 3 * components) return null
      frame = plain('jpeg', width, height, components === 1)
      // each component's 3 bytes: id, H << 4 | V, quantization table
      frame.jpegSampling = Array.from({ length: components }, (_, k) => `${b[body + 7 + 3 * k]! >> 4}x${b[body + 7 + 3 * k]! & 15}`).join(' ')
    }
    i = end
  }
  return null // no scan: truncated header, sharp says what is wrong
}

/**
 * The EXIF block's IFD0 orientation: undefined without one, 1 for 1, null for any other value or anything
 * unexpected (the caller then asks sharp).
 */
function exifOrientation(tiff: Uint8Array): 1 | undefined | null {
  if (tiff.length < 8) return null
  const order = ascii(tiff, 0, 2)
  if (order !== 'II' && order !== 'MM') return null
  const le = order === 'II'
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength)
  if (view.getUint16(2, le) !== 42) return null
  const ifd = view.getUint32(4, le)
  if (ifd + 2 > tiff.length) return null
  const count = view.getUint16(ifd, le)
  if (ifd + 2 + count * 12 > tiff.length) return null
  for (let k = 0; k < count; k++) {
    const entry = ifd + 2 + k * 12
    if (view.getUint16(entry, le) !== 0x0112) continue
    // SHORT, one value, stored in the entry itself
    if (view.getUint16(entry + 2, le) !== 3 || view.getUint32(entry + 4, le) !== 1) return null
    return view.getUint16(entry + 8, le) === 1 ? 1 : null
  }
  return undefined
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
// Chunks before the image data that change nothing sharp decodes or reports (text, time, resolution,
// significant bits, background); any other (tRNS alpha, iCCP profile, acTL animation, eXIf, sRGB, gAMA,
// cHRM, PLTE, …) sends the file to sharp.
const PNG_HARMLESS = new Set(['tEXt', 'zTXt', 'iTXt', 'tIME', 'pHYs', 'sBIT', 'bKGD'])

function pngHeader(b: Uint8Array): ImageHeader | null {
  if (u32(b, 8) !== 13 || ascii(b, 12, 4) !== 'IHDR') return null
  const width = u32(b, 16)
  const height = u32(b, 20)
  const depth = b[24]!
  const colour = b[25]! // 0 gray, 2 RGB; 3 palette, 4 gray + alpha, 6 RGBA are not plain
  if (width === 0 || height === 0 || depth !== 8 || (colour !== 0 && colour !== 2)) return null
  let i = 33
  while (i + 8 <= b.length) {
    const length = u32(b, i)
    const type = ascii(b, i + 4, 4)
    if (type === 'IDAT') return plain('png', width, height, colour === 0)
    if (!PNG_HARMLESS.has(type)) return null
    i += 12 + length
  }
  return null
}
