/**
 * Plain JPEGs (imageHeader.ts plainHeader: 8-bit RGB or grey, no alpha, ICC profile, Adobe marker or EXIF
 * rotation) decoded in WebAssembly with @jsquash/jpeg (Squoosh's build of mozjpeg's libjpeg, Apache-2.0), to the
 * bytes sharp gives for them (sharp's libvips decodes with mozjpeg too: same integer IDCT, same fancy
 * upsampling; test/unit/jpegDecode.test.ts compares the bytes on a matrix of encoders and settings).
 *
 * Why: a sharp call costs ≈ 1.2 ms per 128² JPEG, most of it the call itself; the wasm decoder takes ≈ 0.3 ms
 * (bench/decode.ts). It has no SIMD, so it loses from ≈ 512² up (4000×3000: 724 vs 201 ms, measured): larger
 * images stay with sharp, which also decodes them off this thread.
 *
 * Anything unusual answers null and the caller decodes with sharp as before, so odd files keep today's
 * results, messages and skips: any libjpeg message (a warning such as "Premature end of JPEG file" or
 * "extraneous bytes before marker", which sharp tolerates or refuses as it sees fit), any error, a size other
 * than the header's, sampling factors other than 4:4:4 / 4:2:2 / 4:2:0 (the tested ones; 4:4:0 differs, this
 * libjpeg predating h1v2 fancy upsampling), more than JPEG_WASM_MAX_PIXELS pixels.
 * One known difference: scan data so corrupt that its coefficients overflow, yet libjpeg decodes it without a
 * word, comes out as libjpeg-turbo's C IDCT makes it (values wrap), where sharp's SIMD IDCT on x86-64 saturates:
 * a few dozen garbage pixels differ in a file that is garbage there anyway (sharp's own bytes for it already
 * depend on the CPU; the test checks the wasm bytes against sharp run with JSIMD_FORCENONE).
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import mozjpegFactory from '@jsquash/jpeg/codec/dec/mozjpeg_dec.js'
import type { ImageHeader } from './imageHeader'

/** Above this many pixels sharp (SIMD libjpeg-turbo, off the main thread) is as fast or faster (bench/decode.ts). */
export const JPEG_WASM_MAX_PIXELS = 512 * 512

// Per component "HxV": Y then Cb, Cr at 1x1; grey (one component) has no upsampling whatever it says.
const TESTED_SAMPLING = new Set(['1x1 1x1 1x1', '2x1 1x1 1x1', '2x2 1x1 1x1'])

interface MozJpegDecoder {
  /** RGBA pixels; preserveOrientation false: the stored pixel order, EXIF ignored (plainHeader has ruled rotation out). */
  decode(data: Uint8Array, preserveOrientation: boolean): { data: Uint8ClampedArray; width: number; height: number } | null
}
// The part of the WebAssembly JS API used here (the node libs' types lack it; lib.dom is not in this build).
interface WasmInstance {
  exports: object
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => WasmInstance
}
type DecoderFactory = (options: {
  noInitialRun: boolean
  instantiateWasm: (imports: object, done: (instance: WasmInstance) => void) => object
  print: (line: string) => void
  printErr: (line: string) => void
}) => Promise<MozJpegDecoder>

let compiled: object | undefined
let decoder: Promise<MozJpegDecoder> | undefined
let unavailable = false
/** What libjpeg wrote during the current decode (its warnings and errors go to stderr, i.e. printErr). */
const messages: string[] = []

/** This thread's decoder, made on first use (one compile of the wasm per thread, one instance until it fails). */
function wasmDecoder(): Promise<MozJpegDecoder> {
  if (!compiled) {
    const file = createRequire(import.meta.url).resolve('@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm')
    compiled = new WebAssembly.Module(readFileSync(file))
  }
  const module = compiled
  decoder ??= (mozjpegFactory as unknown as DecoderFactory)({
    noInitialRun: true,
    instantiateWasm: (imports, done) => {
      const instance = new WebAssembly.Instance(module, imports)
      done(instance)
      return instance.exports
    },
    print: (line) => messages.push(line),
    printErr: (line) => messages.push(line),
  })
  return decoder
}

/** Whether decodePlainJpeg may take this file (header from plainHeader; sharp's metadata() has no jpegSampling). */
export function wasmDecodable(meta: ImageHeader): boolean {
  if (meta.format !== 'jpeg' || meta.jpegSampling === undefined || meta.width * meta.height > JPEG_WASM_MAX_PIXELS) return false
  return meta.space === 'b-w' ? !meta.jpegSampling.includes(' ') : meta.space === 'srgb' && TESTED_SAMPLING.has(meta.jpegSampling)
}

/**
 * A plain JPEG's pixels as 8-bit RGB (width × height × 3; grey repeated in the three channels, as sharp's
 * toColourspace('srgb') gives them), or null where sharp should decode it (see the module comment).
 */
export async function decodePlainJpeg(bytes: Uint8Array, meta: ImageHeader): Promise<Buffer | null> {
  if (unavailable || !wasmDecodable(meta)) return null
  let wasm: MozJpegDecoder
  try {
    wasm = await wasmDecoder()
  } catch {
    unavailable = true // not loadable here (e.g. the .wasm left out of a package): sharp decodes, only slower
    return null
  }
  messages.length = 0
  let rgba: ReturnType<MozJpegDecoder['decode']>
  try {
    rgba = wasm.decode(bytes, false) // synchronous: no other decode can write to `messages` meanwhile
  } catch {
    // libjpeg's error_exit ends in exit(1), which leaves the decode's buffers allocated: start a fresh instance
    decoder = undefined
    return null
  }
  if (!rgba || messages.length > 0 || rgba.width !== meta.width || rgba.height !== meta.height) return null
  return rgbOf(rgba.data, rgba.width * rgba.height)
}

/** RGBA → RGB (the decoder's alpha is always 255). */
function rgbOf(rgba: Uint8ClampedArray, pixels: number): Buffer {
  const rgb = Buffer.allocUnsafe(pixels * 3)
  for (let p = 0, q = 0; p < pixels * 4; p += 4, q += 3) {
    rgb[q] = rgba[p]!
    rgb[q + 1] = rgba[p + 1]!
    rgb[q + 2] = rgba[p + 2]!
  }
  return rgb
}
