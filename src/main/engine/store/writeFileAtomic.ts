/**
 * Every file the engine writes whole goes through here (DESIGN.md, Store): a temporary file beside the
 * target, fsync, then a rename over it, so a reader (or a resumed job) sees the whole file or none, even
 * after a kill or a power loss. One temp-file name, so whoever cleans up after a kill knows what to remove.
 */
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'

export interface AtomicWriteOptions {
  /** fsync before the rename (default true): without it a power loss may leave an empty file. */
  durable?: boolean
  /** Create the parent folder first (default true). */
  makeDir?: boolean
}

// Two writes of one path by one process (e.g. two checkpoints in a millisecond) never share a temp file.
let sequence = 0

/** `<path>.tmp-<pid>-<n>`: the temp file a write of `path` by this process uses. */
export function temporaryPath(path: string): string {
  return `${path}.tmp-${process.pid}-${++sequence}`
}

/**
 * The process id in a temp-file name (ours, or `<name>.tmp-<pid>` of demo datasets written before this
 * module), else null: a file whose process is gone is what a killed write left behind.
 */
export function temporaryFileOwner(name: string): number | null {
  const pid = /\.tmp-(\d+)(?:-\d+)?$/.exec(name)?.[1]
  return pid === undefined ? null : Number(pid)
}

/** A file being written: nothing is at `path` until commit(). */
export interface AtomicFile {
  readonly handle: FileHandle
  /** fsync (unless durable is false), close and rename into place. */
  commit(): Promise<void>
  /** Close and remove the temporary file (after an error). */
  abort(): Promise<void>
}

export async function openAtomicFile(path: string, options: AtomicWriteOptions = {}): Promise<AtomicFile> {
  const { durable = true, makeDir = true } = options
  if (makeDir) await mkdir(dirname(path), { recursive: true })
  const tmp = temporaryPath(path)
  const handle = await open(tmp, 'w')
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await handle.close()
  }
  return {
    handle,
    async commit() {
      if (durable) await handle.sync()
      await close()
      await rename(tmp, path)
    },
    async abort() {
      await close().catch(() => {})
      await rm(tmp, { force: true })
    },
  }
}

/** Write `data` (or its parts, in order) to `path` atomically. */
export async function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[], options: AtomicWriteOptions = {}): Promise<void> {
  const file = await openAtomicFile(path, options)
  try {
    // FileHandle.writeFile loops over large buffers itself (one write() call moves at most ~2 GB).
    if (typeof data === 'string' || data instanceof Uint8Array) await file.handle.writeFile(data)
    else for (const part of data) await file.handle.writeFile(part)
    await file.commit()
  } catch (e) {
    await file.abort()
    throw e
  }
}
