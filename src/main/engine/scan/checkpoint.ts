/**
 * A scan's checkpoint (issue 4): the whole state of an unfinished scan in one file, written atomically
 * (at most every `checkpointMs`, default env CONVSCOPE_CHECKPOINT_MS or 30 s, and on cancel), so a scan
 * killed at any moment resumes from it and ends with exactly the result of an uninterrupted run.
 *
 * Layout: "CSCK", uint32 LE length of the JSON state, the JSON, then per layer its top-K arrays
 * (values, images, yx) as raw little-endian bytes.
 */
import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { ConvscopeError } from '../../../shared/api'
import { temporaryFileOwner, writeFileAtomic } from '../store/writeFileAtomic'
import type { TopK } from './topK'
import type { ScanManifest, Shard, SkippedImage } from './manifest'

/** What a result or checkpoint must agree on to be resumed or reused. */
export interface ScanKey {
  format: number
  modelId: string
  datasetId: string
  layers: string[]
  k: number
  keepMaxima: boolean
  shard: Shard
  /** What runs the forward passes ('onnxruntime-cpu' | 'tfjs-<backend>'); absent in older results and checkpoints. */
  executor?: string
  /** A codes run's layer and dtype (absent: no codes). */
  codes?: { layer: string; dtype: string }
}

export function keyOfManifest(m: ScanManifest): ScanKey {
  return {
    format: m.format,
    modelId: m.model.id,
    datasetId: m.dataset.id,
    layers: m.layers.map((l) => l.name),
    k: m.k,
    keepMaxima: m.keepMaxima,
    shard: m.shard,
    executor: m.executor,
    ...(m.codes && { codes: { layer: m.codes.layer, dtype: m.codes.dtype } }),
  }
}

/** A key's codes settings in words. */
const codesText = (c: ScanKey['codes']) => (c ? `codes of ${c.layer} as ${c.dtype}` : 'no codes')

/**
 * Executors give results equal to ~1e-6, not bit for bit, so a top-K is not continued on another one. An
 * older result or checkpoint without one was made by tfjs (its backend not recorded).
 */
export function sameExecutor(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return !(a ?? b ?? '').startsWith('onnxruntime')
  return a === b
}

/** How `b` differs from `a`, in words; null when the same. */
export function keyDifference(a: ScanKey, b: ScanKey): string | null {
  if (a.format !== b.format) return `format ${b.format}, not ${a.format}`
  if (a.modelId !== b.modelId) return `another model (${b.modelId})`
  if (a.datasetId !== b.datasetId) return 'another dataset (image paths, sizes or dates differ)'
  if (a.layers.join('\n') !== b.layers.join('\n')) return `other layers (${b.layers.join(', ')})`
  if (a.k !== b.k) return `top ${b.k}, not ${a.k}`
  if (a.keepMaxima !== b.keepMaxima) return b.keepMaxima ? 'maxima kept' : 'no maxima'
  if (a.shard.index !== b.shard.index || a.shard.count !== b.shard.count) return `shard ${b.shard.index}/${b.shard.count}`
  if (codesText(a.codes) !== codesText(b.codes)) return codesText(b.codes)
  if (!sameExecutor(a.executor, b.executor)) return `the executor ${b.executor ?? 'tfjs'}, not ${a.executor ?? 'tfjs'} (CONVSCOPE_EXECUTOR=tfjs|onnxruntime chooses)`
  return null
}

export interface CheckpointState {
  key: ScanKey
  /** Images of the shard done, in shard order. */
  position: number
  skipped: SkippedImage[]
  /** [width, height] per shard image done, null for skipped ones. */
  sizes: ([number, number] | null)[]
  startedAt: string
  elapsedSeconds: number
}

const MAGIC = Buffer.from('CSCK')

function encodeCheckpoint(state: CheckpointState, tops: readonly TopK[]): Buffer {
  const json = Buffer.from(JSON.stringify(state))
  const head = Buffer.alloc(8)
  MAGIC.copy(head, 0)
  head.writeUInt32LE(json.length, 4)
  const parts: Buffer[] = [head, json]
  for (const t of tops) {
    parts.push(Buffer.from(t.values.buffer, t.values.byteOffset, t.values.byteLength))
    parts.push(Buffer.from(t.images.buffer, t.images.byteOffset, t.images.byteLength))
    parts.push(Buffer.from(t.yx.buffer, t.yx.byteOffset, t.yx.byteLength))
  }
  return Buffer.concat(parts)
}

export function writeCheckpoint(path: string, state: CheckpointState, tops: readonly TopK[]): Promise<void> {
  return writeFileAtomic(path, encodeCheckpoint(state, tops))
}

/**
 * The checkpoint at `path`, if any, into `tops` (sized for `key`); its state, or null when there is none.
 * A checkpoint of another scan (another key) is refused before anything is restored.
 */
export async function readCheckpoint(path: string, key: ScanKey, tops: readonly TopK[], out: string): Promise<CheckpointState | null> {
  const buf = await readFile(path).catch(() => null)
  if (!buf) return null
  if (buf.length < 8 || !buf.subarray(0, 4).equals(MAGIC)) throw new ConvscopeError('BAD_REQUEST', 'the scan checkpoint is damaged')
  const len = buf.readUInt32LE(4)
  const state = JSON.parse(buf.subarray(8, 8 + len).toString('utf8')) as CheckpointState
  const diff = keyDifference(key, state.key)
  if (diff) throw new ConvscopeError('BAD_REQUEST', `${out} holds an unfinished scan made with ${diff}; refusing to resume into it (choose another --out folder)`)
  let off = 8 + len
  for (const t of tops) {
    for (const target of [t.values, t.images, t.yx]) {
      const bytes = target.byteLength
      if (off + bytes > buf.length) throw new ConvscopeError('BAD_REQUEST', 'the scan checkpoint is truncated')
      new Uint8Array(target.buffer, target.byteOffset, bytes).set(buf.subarray(off, off + bytes))
      off += bytes
    }
  }
  return { ...state, key }
}

/** The checkpoint interval: the option, else env CONVSCOPE_CHECKPOINT_MS, else 30 s. */
export function checkpointInterval(option: number | undefined): number {
  if (option !== undefined) return option
  const env = Number(process.env.CONVSCOPE_CHECKPOINT_MS)
  return Number.isFinite(env) && env >= 0 && process.env.CONVSCOPE_CHECKPOINT_MS !== '' ? env : 30_000
}

/** Temp files of atomic writes cut short by a kill (writeFileAtomic's; writeNpy's `.NAME.PID.TIME.tmp` of older versions). */
export async function removeStaleTempFiles(out: string): Promise<void> {
  const names = await readdir(out).catch(() => [] as string[])
  for (const name of names) {
    if (temporaryFileOwner(name) !== null || /^\..+\.npy\.\d+\.\d+\.tmp$/.test(name)) await rm(join(out, name), { force: true })
  }
}
