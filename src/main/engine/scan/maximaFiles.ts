/**
 * The scan's per-image × per-unit maxima, one float16 .npy per layer, written as the scan goes: each file
 * is a partial file laid out as the final .npy (header first, since the row count is known; row r at its
 * offset), fsynced before each checkpoint and renamed into place at the end. Memory holds one batch of
 * rows, whatever the dataset's size; a resumed scan truncates the file to its checkpoint's rows.
 */
import { open, rename, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { ConvscopeError } from '../../../shared/api'
import { float32ToFloat16Bits, npyHeader } from '../store/npy'
import { maximaFile, maximaPartialFile, type ScanLayer } from './manifest'

/** float16 NaN: the row of a skipped image. */
const NAN16 = 0x7e00

const exists = (p: string) => stat(p).then(() => true, () => false)

export class MaximaFiles {
  private constructor(
    private readonly out: string,
    private readonly layers: readonly ScanLayer[],
    private readonly handles: FileHandle[],
    private readonly headers: Buffer[],
    /** One buffer per layer for the whole scan: a batch of rows. */
    private readonly rows: Uint16Array[],
  ) {}

  /**
   * Open (or, resuming, reopen) the partial files of `layers` for `count` rows, `position` of them done;
   * each file keeps exactly those rows.
   */
  static async open(out: string, layers: readonly ScanLayer[], count: number, batchSize: number, resumed: boolean, position: number): Promise<MaximaFiles> {
    const files = new MaximaFiles(out, layers, [], layers.map((l) => npyHeader('float16', [count, l.units])), layers.map((l) => new Uint16Array(batchSize * l.units)))
    try {
      for (const [i, l] of layers.entries()) {
        const path = join(out, maximaPartialFile(l.file))
        // A run killed while finishing may have renamed the partial file already: take it back.
        if (resumed && !(await exists(path)) && (await exists(join(out, maximaFile(l.file))))) await rename(join(out, maximaFile(l.file)), path)
        const reuse = resumed && (await exists(path))
        const fh = await open(path, reuse ? 'r+' : 'w+')
        files.handles.push(fh)
        const header = files.headers[i]!
        if (reuse) {
          const head = Buffer.alloc(header.length)
          await fh.read(head, 0, head.length, 0)
          if (!head.equals(header)) throw new ConvscopeError('BAD_REQUEST', `${path} is not the maxima file this scan writes (made by an older convscope?); delete ${out} or choose another --out folder`)
        } else {
          await fh.write(header, 0, header.length, 0)
        }
        const end = header.length + position * l.units * 2
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
   * Rows `position` … of one batch: `maxima[li]` holds the per-unit maxima of the read images, in order;
   * `read[row]` says whether the batch's row-th image was read (else its row is NaN).
   */
  async writeRows(position: number, read: readonly boolean[], maxima: readonly Float32Array[]): Promise<void> {
    for (const [li, l] of this.layers.entries()) {
      const rows = this.rows[li]!.subarray(0, read.length * l.units).fill(NAN16)
      const max = maxima[li]
      let g = 0
      read.forEach((ok, row) => {
        if (!ok) return
        for (let u = 0; u < l.units; u++) rows[row * l.units + u] = float32ToFloat16Bits(max![g * l.units + u]!)
        g++
      })
      await this.handles[li]!.write(new Uint8Array(rows.buffer, 0, rows.byteLength), 0, rows.byteLength, this.headers[li]!.length + position * l.units * 2)
    }
  }

  /** Make the rows written so far durable (before a checkpoint says they are there). */
  async sync(): Promise<void> {
    for (const fh of this.handles) await fh.sync()
  }

  async close(): Promise<void> {
    for (const fh of this.handles.splice(0)) await fh.close().catch(() => {})
  }

  /** The partial file of `layer`, complete and fsynced by the last checkpoint: renaming it is its final write. */
  async finish(layer: ScanLayer): Promise<void> {
    await rename(join(this.out, maximaPartialFile(layer.file)), join(this.out, maximaFile(layer.file)))
  }
}
