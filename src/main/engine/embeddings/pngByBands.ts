/**
 * An 8-bit RGB PNG written band by band (rows filtered, one zlib stream through IDAT chunks, written atomically),
 * so a figure larger than memory allows raw (an image grid of 200 × 200 cells) costs one band of rows.
 * Hand-written because neither sharp nor the npm encoders stream their input: libvips joining PNG bands of a
 * 7 680² grid (177 MB raw) grew the process by 225 MB (measured, sharp 0.35.5), and pngjs / fast-png take the
 * whole raster. Row filters as libpng's default heuristic: per row, the filter with the least sum of |bytes|.
 */
import { once } from 'node:events'
import { crc32, createDeflate } from 'node:zlib'
import { ConvscopeError } from '../../../shared/api'
import { openAtomicFile } from '../store/writeFileAtomic'

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  out.write(type, 4, 'latin1')
  out.set(data, 8)
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length)
  return out
}

const paeth = (a: number, b: number, c: number): number => {
  const p = a + b - c
  const pa = Math.abs(p - a)
  const pb = Math.abs(p - b)
  const pc = Math.abs(p - c)
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c
}

/** One scanline, filtered (filter byte first) with whichever of None / Sub / Up / Average / Paeth sums smallest as signed bytes. */
export function filterRow(row: Uint8Array, previous: Uint8Array, bpp: number): Buffer {
  const n = row.length
  let best: Buffer | null = null
  let bestSum = Infinity
  for (let type = 0; type <= 4; type++) {
    const out = Buffer.allocUnsafe(n + 1)
    out[0] = type
    let sum = 0
    for (let i = 0; i < n; i++) {
      const a = i >= bpp ? row[i - bpp]! : 0
      const b = previous[i]!
      const c = i >= bpp ? previous[i - bpp]! : 0
      const predicted = type === 0 ? 0 : type === 1 ? a : type === 2 ? b : type === 3 ? (a + b) >> 1 : paeth(a, b, c)
      const v = (row[i]! - predicted) & 255
      out[i + 1] = v
      sum += v < 128 ? v : 256 - v
    }
    if (sum < bestSum) {
      bestSum = sum
      best = out
    }
  }
  return best!
}

/** Write `height` rows of `width` RGB pixels, given as bands of whole rows (row-major, 3 bytes a pixel), to `path`. */
export async function writePngByBands(path: string, width: number, height: number, bands: AsyncIterable<Uint8Array>): Promise<void> {
  const stride = width * 3
  const file = await openAtomicFile(path)
  let position = 0
  const put = async (bytes: Buffer): Promise<void> => {
    await file.handle.write(bytes, 0, bytes.length, position)
    position += bytes.length
  }
  const deflate = createDeflate({ level: 6 })
  const written = (async () => {
    for await (const data of deflate) await put(pngChunk('IDAT', data as Buffer))
  })()
  try {
    const header = Buffer.alloc(13)
    header.writeUInt32BE(width, 0)
    header.writeUInt32BE(height, 4)
    header.set([8, 2, 0, 0, 0], 8) // 8 bits, truecolour, deflate, adaptive filtering, no interlace
    await put(Buffer.concat([SIGNATURE, pngChunk('IHDR', header)]))
    let previous = new Uint8Array(stride)
    let rows = 0
    for await (const band of bands) {
      if (band.length % stride !== 0) throw new ConvscopeError('INTERNAL', `a PNG band of ${band.length} bytes is not whole rows of ${stride}`)
      for (let o = 0; o < band.length; o += stride) {
        const row = band.subarray(o, o + stride)
        if (!deflate.write(filterRow(row, previous, 3))) await Promise.race([once(deflate, 'drain'), written])
        previous = row.slice()
        rows++
      }
    }
    if (rows !== height) throw new ConvscopeError('INTERNAL', `a PNG of ${height} rows was given ${rows}`)
    deflate.end()
    await written
    await put(pngChunk('IEND', new Uint8Array(0)))
    await file.commit()
  } catch (e) {
    deflate.destroy()
    await written.catch(() => {})
    await file.abort()
    throw e
  }
}
