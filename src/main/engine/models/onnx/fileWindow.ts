/**
 * Positional reads of a file through a small cache, for walking protobuf wire data without reading the parts
 * that are skipped (the weights): `bytesRead` counts what was actually read from the disk.
 */
import * as fs from 'node:fs'

const CHUNK = 64 * 1024

export class FileWindow {
  readonly size: number
  bytesRead = 0
  private readonly fd: number
  private chunk = Buffer.alloc(0)
  private chunkStart = 0

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'r')
    this.size = fs.fstatSync(this.fd).size
  }

  close(): void {
    fs.closeSync(this.fd)
  }

  /** The byte at `pos`, or -1 past the end. */
  byte(pos: number): number {
    if (pos >= this.size) return -1
    if (pos < this.chunkStart || pos >= this.chunkStart + this.chunk.length) this.load(pos)
    return this.chunk[pos - this.chunkStart]
  }

  /** `length` bytes from `pos` (a copy); the caller checked that they are inside the file. */
  bytes(pos: number, length: number): Buffer {
    if (pos >= this.chunkStart && pos + length <= this.chunkStart + this.chunk.length) {
      return Buffer.from(this.chunk.subarray(pos - this.chunkStart, pos - this.chunkStart + length))
    }
    if (length <= CHUNK) {
      this.load(pos)
      return Buffer.from(this.chunk.subarray(0, length))
    }
    const out = Buffer.allocUnsafe(length)
    const n = fs.readSync(this.fd, out, 0, length, pos)
    this.bytesRead += n
    return out.subarray(0, n)
  }

  private load(pos: number): void {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, this.size - pos))
    const n = fs.readSync(this.fd, buf, 0, buf.length, pos)
    this.bytesRead += n
    this.chunk = buf.subarray(0, n)
    this.chunkStart = pos
  }
}
