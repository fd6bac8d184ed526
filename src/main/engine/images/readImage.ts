/**
 * Reading an image file safely into 8-bit sRGB pixels (HWC, 3 channels) with sharp.
 *
 * The header is read first and images over the pixel limit are refused before any pixel is decoded
 * (a 1 kB PNG can claim 20000×20000 pixels): in JS for plain JPEGs and PNGs (imageHeader.ts; saves a sharp
 * call per image), else by sharp's metadata(). Every conversion made on the way (EXIF rotation, CMYK,
 * 16-bit, grayscale, alpha, palette, ICC profile, animation) leaves a short note in `facts.notes`.
 *
 * Transparent pixels are flattened on WHITE: that is how the image looks on a web page or in a viewer,
 * so the network sees what the user sees.
 *
 * readModelInput goes on to the network's input. Decoding, then resizing the decoded pixels, takes two
 * sharp calls; for most images (opaque, upright, RGB or gray, 8 or 16 bits without an ICC profile, 8 bits
 * with any) one pipeline gives the same bytes (see singlePipelineExact) and saves the copy between them,
 * and where the resize is a shrink vipsReduce.ts reproduces to the byte (under 4×, dyadic factors: 128² →
 * 64²), sharp only decodes and the resize, crop and pad run in JS, cheaper than inside sharp.
 * With PIL's resampling (torchvision sidecars, preprocess.ts usesPilResample) sharp only decodes.
 * Plain JPEGs up to 512² are decoded in WebAssembly instead (jpegDecode.ts: sharp's bytes at ≈ 1/4 of a sharp
 * call's cost); on any message or doubt that decoder gives up and sharp decodes the file as before.
 */
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import sharp, { type OutputInfo } from 'sharp'
import { ConvscopeError, type ImageFacts, type Preprocessing } from '../../../shared/api'
import { plainHeader, type ImageHeader } from './imageHeader'
import { decodePlainJpeg } from './jpegDecode'
import { checkResized, modelInputOf, planResize, resizeForModel, usesPilResample, withResizePlan, type ModelInput, type ResizePlan } from './preprocess'
import { vipsReducible } from './vipsReduce'

export interface ReadImageOptions {
  /** Refuse images with more pixels than this. Default: env CONVSCOPE_MAX_PIXELS, else 100 megapixels. */
  maxPixels?: number
}

export interface DecodedImage {
  facts: ImageFacts
  /** 8-bit sRGB, row-major HWC, 3 channels: width * height * 3 bytes. */
  rgb: Buffer
  width: number
  height: number
}

export const DEFAULT_MAX_PIXELS = 100_000_000
/** The background transparent pixels are flattened on (sRGB, 0–255). */
export const ALPHA_BACKGROUND = { r: 255, g: 255, b: 255 } as const

// Raster formats only: sharp also renders SVG and PDF, which are documents, not photographs.
const READABLE = 'JPEG, PNG, WebP, GIF, TIFF, AVIF'
const ACCEPTED_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif'])

const ORIENTATIONS: Record<number, string> = {
  2: 'mirrored left-right',
  3: 'rotated 180°',
  4: 'mirrored top-bottom',
  5: 'mirrored and rotated 90° clockwise',
  6: 'rotated 90° clockwise',
  7: 'mirrored and rotated 90° counter-clockwise',
  8: 'rotated 90° counter-clockwise',
}

/** The pixel limit: the option, else CONVSCOPE_MAX_PIXELS (a count, or megapixels with an "MP" suffix), else 100 MP. */
export function maxPixelsFrom(options: ReadImageOptions = {}, env: NodeJS.ProcessEnv = process.env): number {
  if (options.maxPixels !== undefined) return options.maxPixels
  const raw = env.CONVSCOPE_MAX_PIXELS
  if (raw === undefined || raw.trim() === '') return DEFAULT_MAX_PIXELS
  const m = /^\s*(\d+(?:\.\d+)?)\s*(mp)?\s*$/i.exec(raw)
  const value = m ? Number(m[1]) * (m[2] ? 1e6 : 1) : NaN
  if (!(value > 0)) {
    throw new ConvscopeError('BAD_REQUEST', `CONVSCOPE_MAX_PIXELS="${raw}" is not a pixel count (e.g. 200000000 or 200MP)`)
  }
  return value
}

/** "400", "12.6", "0.0041": megapixels with three significant digits. */
export function formatMegapixels(pixels: number): string {
  return String(Number((pixels / 1e6).toPrecision(3)))
}

/** A file whose header was read and checked (format, pixel limit); its pixels are not decoded yet. */
interface OpenedImage {
  file: string
  bytes: Buffer
  meta: ImageHeader
  maxPixels: number
}

async function openImage(path: string, options: ReadImageOptions): Promise<OpenedImage> {
  const file = resolve(path)
  const maxPixels = maxPixelsFrom(options)
  const bytes = await readBytes(file)

  let meta: ImageHeader | null = plainHeader(bytes)
  try {
    meta ??= await sharp(bytes, { failOn: 'error', limitInputPixels: false }).metadata()
  } catch (e) {
    throw headerError(file, e)
  }
  if (!ACCEPTED_FORMATS.has(meta.format)) {
    const name = meta.format.toUpperCase()
    throw new ConvscopeError('BAD_IMAGE', `${file} is ${/^[AEFHILMNORSX]/.test(name) ? 'an' : 'a'} ${name} file, not an image sharp can read (${READABLE})`)
  }
  const pixels = meta.width * meta.height
  if (pixels > maxPixels) {
    throw new ConvscopeError(
      'BAD_IMAGE',
      `${file} is ${meta.width}×${meta.height} = ${formatMegapixels(pixels)} MP, over the ${formatMegapixels(maxPixels)} MP limit; set CONVSCOPE_MAX_PIXELS to raise it`,
    )
  }
  return { file, bytes, meta, maxPixels }
}

const decoderOptions = (opened: OpenedImage) =>
  // failOn 'error': truncated files fail instead of decoding to grey, yet harmless warnings
  // ("extraneous bytes before marker", common in scraped datasets) are tolerated.
  ({ failOn: 'error' as const, limitInputPixels: Math.max(1, Math.floor(opened.maxPixels)), autoOrient: true })

const formatName = (meta: ImageHeader) => (meta.format === 'heif' && meta.compression === 'av1' ? 'avif' : meta.format)

/** An image's facts from its header alone (no pixels decoded): whether it is an image convscope reads, and its size. */
export async function readImageFacts(path: string, options: ReadImageOptions = {}): Promise<ImageFacts> {
  const { file, meta } = await openImage(path, options)
  const turned = (meta.orientation ?? 1) >= 5 // EXIF orientations 5–8 swap width and height
  const notes = conversionNotes(meta)
  if (meta.hasAlpha) notes.push('alpha flattened on white')
  return { path: file, width: turned ? meta.height : meta.width, height: turned ? meta.width : meta.height, format: formatName(meta), notes }
}

export async function readImage(path: string, options: ReadImageOptions = {}): Promise<DecodedImage> {
  return decodeOpened(await openImage(path, options))
}

async function decodeOpened(opened: OpenedImage): Promise<DecodedImage> {
  const { file, bytes, meta } = opened
  const wasm = await decodePlainJpeg(bytes, meta)
  if (wasm) return { facts: headerFacts(opened), rgb: wasm, width: meta.width, height: meta.height }
  let decoded: { data: Buffer; info: OutputInfo }
  try {
    decoded = await sharp(bytes, decoderOptions(opened))
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true })
  } catch (e) {
    throw decodeError(file, e)
  }

  const { data, info } = decoded
  const notes = conversionNotes(meta)
  let rgb: Buffer
  if (info.channels === 3) {
    rgb = data
  } else if (info.channels === 4) {
    const flat = flattenAlpha(data, info.width * info.height)
    rgb = flat.rgb
    notes.push(flat.transparent > 0 ? 'alpha flattened on white' : 'opaque alpha channel dropped')
  } else {
    throw new ConvscopeError('BAD_IMAGE', `${file} decodes to ${info.channels} channels; expected RGB or RGBA`)
  }

  return {
    facts: { path: file, width: info.width, height: info.height, format: formatName(meta), notes },
    rgb,
    width: info.width,
    height: info.height,
  }
}

/** An image file as the network's input, with its facts (see readImage) and decoded size. */
export interface ImageModelInput {
  facts: ImageFacts
  width: number
  height: number
  input: ModelInput
  /**
   * Whether the image took the short path (singlePipelineExact: decode and resize in one sharp pipeline, or the
   * decode alone, sharp's or jpegDecode.ts's, with the resize after it) rather than decodeOpened then resizeForModel.
   */
  singlePipeline: boolean
}

/**
 * Read an image file into the network's input: the same bytes as toModelInput(await readImage(path)),
 * in one sharp pipeline (or the wasm decode and resizeForModel) where that is exact, else by exactly that.
 */
export async function readModelInput(path: string, pre: Preprocessing, options: ReadImageOptions = {}): Promise<ImageModelInput> {
  const opened = await openImage(path, options)
  const { meta } = opened
  // PIL's resampling runs in JS on decoded pixels: decode first, then resize.
  if (usesPilResample(pre) || !singlePipelineExact(meta)) {
    const image = await decodeOpened(opened)
    const { rgb, plan } = await resizeForModel(image, pre)
    return { facts: image.facts, width: image.width, height: image.height, input: modelInputOf(rgb, plan, pre), singlePipeline: false }
  }
  const plan = planResize(meta.width, meta.height, pre)
  const rgb = await decodeAndResize(opened, plan, pre)
  return {
    facts: headerFacts(opened),
    width: meta.width,
    height: meta.height,
    input: modelInputOf(rgb, plan, pre),
    singlePipeline: true,
  }
}

/** The facts of an image whose header says all (singlePipelineExact: upright, opaque): its size and conversions. */
const headerFacts = ({ file, meta }: OpenedImage): ImageFacts => ({ path: file, width: meta.width, height: meta.height, format: formatName(meta), notes: conversionNotes(meta) })

/**
 * readModelInput's short path: the file decoded alone (jpegDecode.ts, or sharp where the resize is vipsReduce's)
 * then resizeForModel, or decoded and resized in one sharp pipeline.
 */
async function decodeAndResize(opened: OpenedImage, plan: ResizePlan, pre: Preprocessing): Promise<Uint8Array> {
  const { file, meta } = opened
  const wasm = await decodePlainJpeg(opened.bytes, meta)
  if (wasm) return (await resizeForModel({ rgb: wasm, width: meta.width, height: meta.height }, pre)).rgb
  const resizeInJs = vipsReducible(meta.width, meta.height, plan.resizeWidth, plan.resizeHeight)
  let resized: { data: Buffer; info: OutputInfo }
  try {
    // pipelineColourspace('srgb'): the input becomes 8-bit sRGB first, as the two-call path decodes it; it
    // also turns off JPEG shrink-on-load (DCT scaling), which would change the pixels.
    const decoder = sharp(opened.bytes, decoderOptions(opened)).pipelineColourspace('srgb')
    resized = await (resizeInJs ? decoder : withResizePlan(decoder, plan))
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true })
  } catch (e) {
    throw decodeError(file, e)
  }
  if (!resizeInJs) {
    checkResized(resized.info, pre)
    return resized.data
  }
  const { width, height, channels } = resized.info
  if (width !== meta.width || height !== meta.height || channels !== 3) {
    throw new Error(`${file} decoded to ${width}×${height}×${channels}, its header says ${meta.width}×${meta.height}×3`)
  }
  return (await resizeForModel({ rgb: resized.data, width, height }, pre)).rgb
}

/**
 * Whether one pipeline (decode to 8-bit sRGB, ICC, resize, crop, pad) gives the bytes of decoding then
 * resizing, i.e. whether every step sees the same pixels in the same order. Not for: alpha (flattened in JS
 * after decoding; sharp would premultiply while resizing), EXIF rotation (sharp may rotate after resizing),
 * CMYK and other colour spaces (converted after resizing in one pipeline), ICC profiles on 16-bit or gray
 * images (applied before the reduction to 8 bits, or to the gray band, when decoding), animations.
 * test/unit/readImage.test.ts checks the bytes on every kind of image.
 */
export function singlePipelineExact(meta: ImageHeader): boolean {
  if (meta.hasAlpha || (meta.orientation ?? 1) !== 1 || (meta.pages ?? 1) > 1) return false
  if (!['jpeg', 'png', 'webp', 'tiff'].includes(meta.format)) return false
  if (meta.space === 'srgb') return meta.depth === 'uchar' || !meta.hasProfile
  if (meta.space === 'b-w' || meta.space === 'rgb16' || meta.space === 'grey16') return !meta.hasProfile
  return false
}

/** The file's bytes in one fs call (no stat first: a folder answers EISDIR). */
async function readBytes(file: string): Promise<Buffer> {
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'EISDIR') throw new ConvscopeError('BAD_IMAGE', `${file} is a folder, not an image`)
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ConvscopeError('NOT_FOUND', `${file} does not exist`)
    if (code === 'EACCES' || code === 'EPERM') throw new ConvscopeError('BAD_IMAGE', `${file} cannot be read: permission denied`)
    throw new ConvscopeError('BAD_IMAGE', `${file} cannot be read: ${(e as Error).message}`)
  }
  if (bytes.length === 0) throw new ConvscopeError('BAD_IMAGE', `${file} is empty (0 bytes)`)
  return bytes
}

/** The notes for what sharp's pipeline (autoOrient + toColourspace('srgb') + 8-bit) will do to this image. */
function conversionNotes(meta: ImageHeader): string[] {
  const notes: string[] = []
  const orientation = meta.orientation ?? 1
  if (ORIENTATIONS[orientation]) notes.push(`EXIF orientation ${orientation} applied: ${ORIENTATIONS[orientation]}`)
  if (meta.space === 'cmyk') notes.push('CMYK converted to sRGB')
  else if (meta.space === 'b-w' || meta.space === 'grey16') notes.push('grayscale expanded to 3 channels')
  else if (meta.space !== 'srgb' && meta.space !== 'rgb16') notes.push(`${meta.space} colour space converted to sRGB`)
  if (meta.hasProfile && !(meta.icc && isSrgbProfile(meta.icc))) notes.push('embedded ICC profile converted to sRGB')
  if (meta.depth !== 'uchar' && meta.depth !== 'char') {
    notes.push(meta.depth === 'ushort' ? '16-bit samples reduced to 8-bit' : `${meta.depth} samples reduced to 8-bit`)
  }
  if (meta.isPalette) notes.push('palette (indexed colour) expanded to RGB')
  if ((meta.pages ?? 1) > 1) notes.push(`first of ${meta.pages} frames used`)
  return notes
}

/** Whether an ICC profile describes sRGB (its description names it, in ASCII for v2 or UTF-16 for v4 profiles). */
function isSrgbProfile(icc: Buffer): boolean {
  return icc.includes('sRGB', 0, 'latin1') || icc.includes(Buffer.from('\0s\0R\0G\0B', 'latin1'))
}

/** RGBA → RGB over ALPHA_BACKGROUND; also counts pixels that were not fully opaque. */
function flattenAlpha(rgba: Buffer, pixels: number): { rgb: Buffer; transparent: number } {
  const rgb = Buffer.allocUnsafe(pixels * 3)
  const bg = [ALPHA_BACKGROUND.r, ALPHA_BACKGROUND.g, ALPHA_BACKGROUND.b]
  let transparent = 0
  for (let p = 0; p < pixels; p++) {
    const a = rgba[p * 4 + 3]!
    if (a !== 255) transparent++
    for (let c = 0; c < 3; c++) {
      rgb[p * 3 + c] = Math.round((rgba[p * 4 + c]! * a + bg[c]! * (255 - a)) / 255)
    }
  }
  return { rgb, transparent }
}

const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split('\n')[0]!.trim()

function headerError(file: string, e: unknown): ConvscopeError {
  const msg = firstLine(e)
  if (/unsupported image format/i.test(msg)) {
    return new ConvscopeError('BAD_IMAGE', `${file} is not an image sharp can read (${READABLE})`)
  }
  return new ConvscopeError('BAD_IMAGE', `${file} has a corrupt header: ${msg.replace(/^Input buffer has corrupt header:\s*/i, '')}`)
}

function decodeError(file: string, e: unknown): ConvscopeError {
  const msg = firstLine(e)
  if (/pixel limit/i.test(msg)) return new ConvscopeError('BAD_IMAGE', `${file} is over the pixel limit; set CONVSCOPE_MAX_PIXELS to raise it`)
  if (/premature end|truncated|unexpected end|read error|end of (file|stream|data)/i.test(msg)) {
    return new ConvscopeError('BAD_IMAGE', `${file} is truncated or corrupt (${msg})`)
  }
  return new ConvscopeError('BAD_IMAGE', `${file} could not be decoded: ${msg}`)
}
