/**
 * NumPy .npy files (format version 1.0), so Python users can `numpy.load` convscope's results.
 *
 * Layout: magic "\x93NUMPY", version 1.0, a little-endian uint16 header length, then a Python dict
 * literal padded with spaces and ended by "\n" so that the data starts at a multiple of 64 bytes, then the
 * data: little-endian, C (row-major) order. The files are byte-identical to numpy.save's.
 * float16 has no JS typed array in Node 20: its data travels as the raw IEEE half bits in a Uint16Array
 * (see float32ToFloat16 / float16ToFloat32).
 * Large arrays need not be in memory: npyHeader then the rows at their offsets make the same file
 * (the scan's maxima), createNpyWriter writes one block by block, and readNpyHead / readNpyRows read
 * the header and a range of rows of an open file.
 */
import { readFile, type FileHandle } from 'node:fs/promises'
import { endianness } from 'node:os'
import { npyPreamble } from '../../../shared/npyPreamble'
import { openAtomicFile, writeFileAtomic } from './writeFileAtomic'

export type NpyArray =
  | { dtype: 'float32'; shape: number[]; data: Float32Array }
  | { dtype: 'float16'; shape: number[]; data: Uint16Array }
  | { dtype: 'int32'; shape: number[]; data: Int32Array }
  | { dtype: 'uint8'; shape: number[]; data: Uint8Array }

export type NpyDtype = NpyArray['dtype']

const DESCR: Record<NpyDtype, string> = { float32: '<f4', float16: '<f2', int32: '<i4', uint8: '|u1' }
const BYTES: Record<NpyDtype, number> = { float32: 4, float16: 2, int32: 4, uint8: 1 }
const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]) // \x93NUMPY
const LITTLE_ENDIAN_HOST = endianness() === 'LE'

/** The 64-byte-aligned preamble + header of an array of this dtype and shape (shared/npyPreamble.ts: the window writes .npy too). */
export function npyHeader(dtype: NpyDtype, shape: readonly number[]): Buffer {
  const bytes = npyPreamble(DESCR[dtype], shape)
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function checkShape(array: NpyArray): void {
  if (!array.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`npy: bad shape [${array.shape}]`)
  const n = array.shape.reduce((a, b) => a * b, 1)
  if (n !== array.data.length) throw new Error(`npy: shape [${array.shape}] holds ${n} values, data has ${array.data.length}`)
}

/** The data bytes, little-endian (a view without copying on little-endian hosts). */
function dataBytes(array: NpyArray): Uint8Array {
  const view = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength)
  const size = BYTES[array.dtype]
  if (LITTLE_ENDIAN_HOST || size === 1) return view
  const swapped = Buffer.from(view)
  if (size === 2) swapped.swap16()
  else swapped.swap32()
  return swapped
}

/** An NpyArray whose dtype follows the typed array. */
export function npyArray(data: Float32Array | Int32Array | Uint8Array, shape: readonly number[]): NpyArray {
  if (data instanceof Float32Array) return { dtype: 'float32', shape: [...shape], data }
  if (data instanceof Int32Array) return { dtype: 'int32', shape: [...shape], data }
  return { dtype: 'uint8', shape: [...shape], data }
}

/** A whole .npy file in memory. */
export function encodeNpy(array: NpyArray): Buffer {
  checkShape(array)
  return Buffer.concat([npyHeader(array.dtype, array.shape), dataBytes(array)])
}

/**
 * Write a .npy file atomically: a temporary file beside it, fsync, then rename over the target,
 * so a reader (or a resumed scan) never sees half a file.
 */
export async function writeNpy(path: string, array: NpyArray): Promise<void>
/** Shorthand: the dtype follows the typed array (float16 needs the NpyArray form). */
export async function writeNpy(path: string, data: Float32Array | Int32Array | Uint8Array, shape: readonly number[]): Promise<void>
export async function writeNpy(path: string, arrayOrData: NpyArray | Float32Array | Int32Array | Uint8Array, shape?: readonly number[]): Promise<void> {
  const array = ArrayBuffer.isView(arrayOrData) ? npyArray(arrayOrData, shape ?? [arrayOrData.length]) : arrayOrData
  checkShape(array)
  await writeFileAtomic(path, [npyHeader(array.dtype, array.shape), dataBytes(array)], { makeDir: false })
}

/** A .npy file written block by block (header first), atomically: nothing is at `path` until commit(). */
export interface NpyWriter {
  /** Append data bytes (little-endian, in C order). */
  write(bytes: Uint8Array): Promise<void>
  /** Check the size, fsync and rename into place. */
  commit(): Promise<void>
  /** Drop the temporary file (after an error). */
  abort(): Promise<void>
}

export async function createNpyWriter(path: string, dtype: NpyDtype, shape: readonly number[]): Promise<NpyWriter> {
  const expected = shape.reduce((a, b) => a * b, 1) * BYTES[dtype]
  const file = await openAtomicFile(path, { makeDir: false })
  let written = 0
  try {
    await file.handle.write(npyHeader(dtype, shape))
  } catch (e) {
    await file.abort()
    throw e
  }
  return {
    async write(bytes) {
      if (!LITTLE_ENDIAN_HOST && BYTES[dtype] > 1) throw new Error('npy: streamed writes need a little-endian host')
      await file.handle.write(bytes)
      written += bytes.length
    },
    async commit() {
      if (written !== expected) throw new Error(`npy: ${path} got ${written} data bytes, shape [${shape.join(', ')}] needs ${expected}`)
      await file.commit()
    },
    abort: () => file.abort(),
  }
}

/** Dtype, shape and data offset of an open .npy file (read from its first bytes only). */
export async function readNpyHead(fh: FileHandle): Promise<{ dtype: NpyDtype; shape: number[]; dataOffset: number }> {
  const pre = Buffer.alloc(12)
  await fh.read(pre, 0, 12, 0)
  if (!pre.subarray(0, 6).equals(MAGIC)) throw new Error('not a .npy file (bad magic)')
  const major = pre[6]!
  const headerLen = major === 1 ? pre.readUInt16LE(8) : pre.readUInt32LE(8)
  const start = major === 1 ? 10 : 12
  const head = Buffer.alloc(start + headerLen)
  const { bytesRead } = await fh.read(head, 0, head.length, 0)
  if (bytesRead < head.length) throw new Error('.npy header is truncated')
  const { dtype, shape } = parseHeader(head, major, start, headerLen)
  return { dtype, shape, dataOffset: start + headerLen }
}

/** The raw bytes of rows [from, from + count) of an open .npy file (data at `dataOffset`, `rowBytes` per row). */
export async function readNpyRows(fh: FileHandle, dataOffset: number, rowBytes: number, from: number, count: number, into?: Uint8Array): Promise<Uint8Array> {
  const bytes = into ?? new Uint8Array(count * rowBytes)
  const want = count * rowBytes
  let got = 0
  while (got < want) {
    const { bytesRead } = await fh.read(bytes, got, want - got, dataOffset + from * rowBytes + got)
    if (bytesRead === 0) throw new Error(`.npy file is short: rows ${from}…${from + count - 1} are not all there`)
    got += bytesRead
  }
  return bytes
}

function parseHeader(buf: Buffer, major: number, start: number, headerLen: number): { dtype: NpyDtype; shape: number[] } {
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', start, start + headerLen)
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1]
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1]
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1]
  if (!descr || !fortran || shapeText === undefined) throw new Error(`bad .npy header: ${header.trim()}`)
  if (fortran === 'True') throw new Error('Fortran-order .npy files are not supported')
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number)
  const dtype = (Object.keys(DESCR) as NpyDtype[]).find((d) => DESCR[d] === descr || (BYTES[d] === 1 && descr === '<u1'))
  if (!dtype) throw new Error(`unsupported .npy dtype ${descr} (supported: ${Object.values(DESCR).join(', ')})`)
  return { dtype, shape }
}

/** Parse a .npy file (versions 1.0–3.0, little-endian or byte-sized dtypes, C order). */
export function decodeNpy(buf: Buffer): NpyArray {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new Error('not a .npy file (bad magic)')
  const major = buf[6]!
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8)
  const start = major === 1 ? 10 : 12
  const { dtype, shape } = parseHeader(buf, major, start, headerLen)
  const n = shape.reduce((a, b) => a * b, 1)
  const offset = start + headerLen
  const byteLength = n * BYTES[dtype]
  if (buf.length < offset + byteLength) throw new Error(`.npy file is short: ${buf.length - offset} data bytes, expected ${byteLength}`)
  // Copy into a fresh, aligned buffer (Buffer views may start at any byte offset).
  const bytes = Buffer.from(buf.subarray(offset, offset + byteLength))
  if (!LITTLE_ENDIAN_HOST) {
    if (BYTES[dtype] === 2) bytes.swap16()
    else if (BYTES[dtype] === 4) bytes.swap32()
  }
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + byteLength)
  switch (dtype) {
    case 'float32':
      return { dtype, shape, data: new Float32Array(ab) }
    case 'float16':
      return { dtype, shape, data: new Uint16Array(ab) }
    case 'int32':
      return { dtype, shape, data: new Int32Array(ab) }
    case 'uint8':
      return { dtype, shape, data: new Uint8Array(ab) }
  }
}

export async function readNpy(path: string): Promise<NpyArray> {
  return decodeNpy(await readFile(path))
}

// --- float16 <-> float32 (IEEE 754 binary16, round to nearest even) ---------------------------------

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

export function float32ToFloat16Bits(value: number): number {
  f32[0] = value
  const x = u32[0]!
  const sign = (x >>> 16) & 0x8000
  const exp = (x >>> 23) & 0xff
  let mant = x & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0) // Inf / NaN
  let e = exp - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00 // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign // underflow → ±0
    mant |= 0x800000 // subnormal half: shift the implicit bit in
    const shift = 14 - e
    const half = 1 << (shift - 1)
    let m = mant >>> shift
    const rest = mant & ((1 << shift) - 1)
    if (rest > half || (rest === half && m & 1)) m++
    return sign | m
  }
  let m = mant >>> 13
  const rest = mant & 0x1fff
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++
    if (m === 0x400) {
      m = 0
      e++
      if (e >= 0x1f) return sign | 0x7c00
    }
  }
  return sign | (e << 10) | m
}

export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exp = (bits >>> 10) & 0x1f
  const mant = bits & 0x3ff
  if (exp === 0) return sign * mant * 2 ** -24
  if (exp === 0x1f) return mant ? NaN : sign * Infinity
  return sign * (1 + mant / 1024) * 2 ** (exp - 15)
}

export function float32ToFloat16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length)
  for (let i = 0; i < values.length; i++) out[i] = float32ToFloat16Bits(values[i]!)
  return out
}

export function float16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length)
  for (let i = 0; i < bits.length; i++) out[i] = float16BitsToFloat32(bits[i]!)
  return out
}
