/**
 * A scan's per-image row files, one .npy each, written as the scan goes: the per-unit maxima of each layer
 * (float16) and, in a codes run, the codes (float16 | float32), thumbnails (uint8) and top-1 classes (int32).
 * Each is a partial file laid out as the final .npy (header first, since the row count is known; row r at its
 * offset), fsynced before each checkpoint and renamed into place at the end. Memory holds one batch of rows,
 * whatever the dataset's size; a resumed scan truncates each file to its checkpoint's rows. merge.ts
 * interleaves shards' row files by the same specs.
 */
import { open, rename, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { ConvscopeError } from '../../../shared/api'
import { float32ToFloat16Bits, npyHeader } from '../store/npy'
import { THUMBNAIL_BYTES } from '../codes/codeBatch'
import { CODES_FILE, PIXELS_FILE, PREDICTED_FILE, maximaFile, partialFileOf, type ScanCodes, type ScanLayer } from './manifest'

export type RowDtype = 'float16' | 'float32' | 'uint8' | 'int32'

/** One row file: its final name, dtype, values per row, and what a skipped image's row holds. */
export interface RowFileSpec {
  file: string
  dtype: RowDtype
  width: number
  /** The value of every entry of a skipped image's row (NaN for floats). */
  fill: number
  /** Shape [rows] instead of [rows, 1] (width 1 only). */
  vector?: boolean
}

export const BYTES_PER_VALUE: Record<RowDtype, number> = { float16: 2, float32: 4, uint8: 1, int32: 4 }

export const rowShape = (spec: RowFileSpec, rows: number): number[] => (spec.vector ? [rows] : [rows, spec.width])

/** The row files of a scan: each layer's maxima, then a codes run's codes, thumbnails and classes (merge.ts reads the same). */
export function rowFileSpecs(maximaLayers: readonly ScanLayer[], codes: ScanCodes | null | undefined): RowFileSpec[] {
  const specs: RowFileSpec[] = maximaLayers.map((l) => ({ file: maximaFile(l.file), dtype: 'float16', width: l.units, fill: NaN }))
  if (codes) {
    specs.push({ file: CODES_FILE, dtype: codes.dtype, width: codes.dim, fill: NaN })
    specs.push({ file: PIXELS_FILE, dtype: 'uint8', width: THUMBNAIL_BYTES, fill: 0 })
    specs.push({ file: PREDICTED_FILE, dtype: 'int32', width: 1, fill: -1, vector: true })
  }
  return specs
}

/** float16 NaN: the row of a skipped image. */
const NAN16 = 0x7e00

const exists = (p: string) => stat(p).then(() => true, () => false)

/** A batch of rows of one file, in the file's own bytes. */
function batchBuffer(spec: RowFileSpec, rows: number): Uint16Array | Float32Array | Uint8Array | Int32Array {
  const n = rows * spec.width
  return spec.dtype === 'float16' ? new Uint16Array(n) : spec.dtype === 'float32' ? new Float32Array(n) : spec.dtype === 'uint8' ? new Uint8Array(n) : new Int32Array(n)
}

export class RowFiles {
  private constructor(
    private readonly out: string,
    private readonly specs: readonly RowFileSpec[],
    private readonly handles: FileHandle[],
    private readonly headers: Buffer[],
    /** One buffer per file for the whole scan: a batch of rows. */
    private readonly rows: ReturnType<typeof batchBuffer>[],
  ) {}

  /**
   * Open (or, resuming, reopen) the partial files of `specs` for `count` rows, `position` of them done;
   * each file keeps exactly those rows.
   */
  static async open(out: string, specs: readonly RowFileSpec[], count: number, batchSize: number, resumed: boolean, position: number): Promise<RowFiles> {
    const files = new RowFiles(out, specs, [], specs.map((s) => npyHeader(s.dtype, rowShape(s, count))), specs.map((s) => batchBuffer(s, batchSize)))
    try {
      for (const [i, s] of specs.entries()) {
        const path = join(out, partialFileOf(s.file))
        // A run killed while finishing may have renamed the partial file already: take it back.
        if (resumed && !(await exists(path)) && (await exists(join(out, s.file)))) await rename(join(out, s.file), path)
        const reuse = resumed && (await exists(path))
        const fh = await open(path, reuse ? 'r+' : 'w+')
        files.handles.push(fh)
        const header = files.headers[i]!
        if (reuse) {
          const head = Buffer.alloc(header.length)
          await fh.read(head, 0, head.length, 0)
          if (!head.equals(header)) throw new ConvscopeError('BAD_REQUEST', `${path} is not the ${s.file} this scan writes (made by an older convscope?); delete ${out} or choose another --out folder`)
        } else {
          await fh.write(header, 0, header.length, 0)
        }
        const end = header.length + position * s.width * BYTES_PER_VALUE[s.dtype]
        if ((await fh.stat()).size < end) throw new ConvscopeError('INTERNAL', `${path} is shorter than its checkpoint says`)
        await fh.truncate(end)
      }
    } catch (e) {
      await files.close()
      throw e
    }
    return files
  }

  /**
   * Rows `position` … of one batch: `values[f]` holds file f's rows of the read images, in order (float16 files
   * take float32 values); `read[row]` says whether the batch's row-th image was read (else its row is the fill).
   */
  async writeRows(position: number, read: readonly boolean[], values: readonly (Float32Array | Uint8Array | Int32Array)[]): Promise<void> {
    for (const [f, s] of this.specs.entries()) {
      const w = s.width
      const rows = this.rows[f]!.subarray(0, read.length * w)
      const from = values[f]!
      const half = s.dtype === 'float16'
      rows.fill(half ? NAN16 : s.fill)
      let g = 0
      read.forEach((ok, row) => {
        if (!ok) return
        if (half) for (let u = 0; u < w; u++) rows[row * w + u] = float32ToFloat16Bits(from[g * w + u]!)
        else rows.set(from.subarray(g * w, (g + 1) * w), row * w)
        g++
      })
      const size = BYTES_PER_VALUE[s.dtype]
      await this.handles[f]!.write(new Uint8Array(rows.buffer, 0, rows.byteLength), 0, rows.byteLength, this.headers[f]!.length + position * w * size)
    }
  }

  /** Make the rows written so far durable (before a checkpoint says they are there). */
  async sync(): Promise<void> {
    for (const fh of this.handles) await fh.sync()
  }

  async close(): Promise<void> {
    for (const fh of this.handles.splice(0)) await fh.close().catch(() => {})
  }

  /** Every partial file, complete and fsynced by the last checkpoint: renaming it is its final write. */
  async finish(): Promise<void> {
    for (const s of this.specs) await rename(join(this.out, partialFileOf(s.file)), join(this.out, s.file))
  }
}
