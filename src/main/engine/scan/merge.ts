/**
 * Merge the result folders of the shards of one scan (`--shard i/n`, e.g. SLURM array jobs) into one
 * folder identical, array for array, to the result of a single run (top-K merge is exact: topK.ts).
 *
 * The shards j/c merged may also be the parts of one coarser shard i/n (n divides c, every j ≡ i mod n):
 * that is how `scan --workers` joins its workers, and the result is then exactly what one run of shard
 * i/n writes, so SLURM shards scanned with workers still merge as usual.
 *
 * The per-image row files (maxima; a codes run's codes, thumbnails and classes: rowFiles.ts) are merged in
 * blocks of rows (about MAXIMA_BLOCK_BYTES each): memory does not grow with the dataset.
 *
 * Shards scanned by different executors (onnxruntime vs tfjs, two devices, two tfjs backends) are not merged:
 * their values agree to float32 rounding (≈1e-6 relative), not bit for bit, so the merged top-K would be neither
 * executor's. Shards without a recorded executor (scans made before it was recorded) were made by tfjs and merge
 * with each other and with tfjs shards, as for resuming (checkpoint.ts sameExecutor).
 */
import { mkdir, open, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { ConvscopeError } from '../../../shared/api'
import { createNpyWriter, readNpy, readNpyHead, readNpyRows, writeNpy } from '../store/npy'
import { writeFileAtomic } from '../store/writeFileAtomic'
import { emptyTopK, mergeInto, topKFromArrays } from './topK'
import { MANIFEST_FILE, checkShard, readManifest, shardIndices, topkFiles, type ScanManifest, type Shard } from './manifest'
import { sameExecutor } from './checkpoint'
import { BYTES_PER_VALUE, rowFileSpecs, rowShape, type RowFileSpec } from './rowFiles'

async function readTyped<T extends 'float32' | 'int32' | 'float16'>(path: string, dtype: T, shape: number[]) {
  const a = await readNpy(path)
  if (a.dtype !== dtype || a.shape.join(',') !== shape.join(',')) {
    throw new ConvscopeError('BAD_REQUEST', `${path} is ${a.dtype} [${a.shape.join(', ')}], expected ${dtype} [${shape.join(', ')}]`)
  }
  return a.data as T extends 'float32' ? Float32Array : T extends 'int32' ? Int32Array : Uint16Array
}

/** Bytes of merged maxima rows held at once (a block's parts are read into one buffer as large). */
const MAXIMA_BLOCK_BYTES = 4 << 20

/**
 * Write the merged rows of one row file: target row t is image target.index + t·target.count; part m holds
 * images m.shard.index + r·count in its row r, so each block of target rows takes a contiguous run of rows
 * from every part.
 */
async function mergeRows(dirs: string[], manifests: ScanManifest[], spec: RowFileSpec, target: Shard, path: string, blockBytes: number): Promise<void> {
  const total = manifests[0]!.dataset.count
  const count = manifests[0]!.shard.count
  const targetRows = shardIndices(total, target).length
  const rowBytes = spec.width * BYTES_PER_VALUE[spec.dtype]
  const parts: { fh: FileHandle; dataOffset: number; shard: Shard }[] = []
  const writer = await createNpyWriter(path, spec.dtype, rowShape(spec, targetRows))
  try {
    for (const [i, m] of manifests.entries()) {
      const file = join(dirs[i]!, spec.file)
      const fh = await open(file)
      parts.push({ fh, dataOffset: 0, shard: m.shard })
      const head = await readNpyHead(fh)
      const shape = rowShape(spec, shardIndices(total, m.shard).length)
      if (head.dtype !== spec.dtype || head.shape.join(',') !== shape.join(',')) {
        throw new ConvscopeError('BAD_REQUEST', `${file} is ${head.dtype} [${head.shape.join(', ')}], expected ${spec.dtype} [${shape.join(', ')}]`)
      }
      parts.at(-1)!.dataOffset = head.dataOffset
    }
    const perBlock = Math.max(1, Math.floor(blockBytes / rowBytes))
    const block = new Uint8Array(perBlock * rowBytes)
    const scratch = new Uint8Array(perBlock * rowBytes)
    for (let t0 = 0; t0 < targetRows; t0 += perBlock) {
      const t1 = Math.min(targetRows, t0 + perBlock)
      const first = target.index + t0 * target.count // images first … last of this block
      const last = target.index + (t1 - 1) * target.count
      for (const p of parts) {
        // Rows r of this part with first ≤ image ≤ last.
        const r0 = Math.max(0, Math.ceil((first - p.shard.index) / count))
        const r1 = Math.floor((last - p.shard.index) / count)
        if (r1 < r0) continue
        const rows = await readNpyRows(p.fh, p.dataOffset, rowBytes, r0, r1 - r0 + 1, scratch.subarray(0, (r1 - r0 + 1) * rowBytes))
        for (let r = r0; r <= r1; r++) {
          const t = (p.shard.index + r * count - target.index) / target.count - t0 // row of the image in this block
          block.set(rows.subarray((r - r0) * rowBytes, (r - r0 + 1) * rowBytes), t * rowBytes)
        }
      }
      await writer.write(block.subarray(0, (t1 - t0) * rowBytes))
    }
    await writer.commit()
  } catch (e) {
    await writer.abort()
    throw e
  } finally {
    for (const p of parts) await p.fh.close().catch(() => {})
  }
}

export interface MergeOptions {
  /** The shard the merged parts make up; default 0/1 (the whole dataset). */
  as?: Shard
  /**
   * How the parts' times add up: 'sum' (default: compute time over separate runs, e.g. SLURM tasks) or
   * 'parallel' (the parts ran side by side: the slowest part's time).
   */
  timing?: 'sum' | 'parallel'
  /** Bytes of merged maxima rows held at once; default MAXIMA_BLOCK_BYTES (tests use small blocks). */
  maximaBlockBytes?: number
}

/** Merge shard folders `dirs` into `out`; returns the merged manifest. */
export async function mergeScans(dirs: string[], out: string, options: MergeOptions = {}): Promise<ScanManifest> {
  const target = options.as ?? { index: 0, count: 1 }
  checkShard(target)
  if (dirs.length === 0) throw new ConvscopeError('BAD_REQUEST', 'nothing to merge: name the shard folders')
  if (await stat(join(out, MANIFEST_FILE)).then(() => true, () => false)) {
    throw new ConvscopeError('BAD_REQUEST', `${out} already holds a scan; merge into a new folder`)
  }
  const manifests = await Promise.all(dirs.map((d) => readManifest(d)))
  const first = manifests[0]!
  const count = first.shard.count
  if (count % target.count !== 0) {
    throw new ConvscopeError('BAD_REQUEST', `shards of ${count} cannot make up shard ${target.index}/${target.count} (${target.count} does not divide ${count})`)
  }
  // The executor the shards record (any one: they must agree); undefined when none records one.
  const recorded = manifests.findIndex((m) => m.executor !== undefined)
  const executor = manifests[recorded]?.executor
  const seen = new Map<number, string>()
  manifests.forEach((m, i) => {
    const where = dirs[i]!
    if (m.model.id !== first.model.id) throw new ConvscopeError('BAD_REQUEST', `${where} scanned another model (${m.model.id}) than ${dirs[0]} (${first.model.id})`)
    if (m.dataset.id !== first.dataset.id) throw new ConvscopeError('BAD_REQUEST', `${where} scanned another dataset than ${dirs[0]}`)
    if (m.layers.map((l) => l.name).join('\n') !== first.layers.map((l) => l.name).join('\n')) throw new ConvscopeError('BAD_REQUEST', `${where} scanned other layers than ${dirs[0]}`)
    if (m.k !== first.k) throw new ConvscopeError('BAD_REQUEST', `${where} kept the top ${m.k}, ${dirs[0]} the top ${first.k}`)
    if (m.keepMaxima !== first.keepMaxima) throw new ConvscopeError('BAD_REQUEST', `${where} and ${dirs[0]} differ in keeping maxima`)
    const codesOf = (x: ScanManifest) => (x.codes ? `codes of ${x.codes.layer} as ${x.codes.dtype}` : 'no codes')
    if (codesOf(m) !== codesOf(first)) throw new ConvscopeError('BAD_REQUEST', `${where} has ${codesOf(m)}, ${dirs[0]} ${codesOf(first)}`)
    if (!sameExecutor(m.executor, executor)) {
      throw new ConvscopeError(
        'BAD_REQUEST',
        `${where} was scanned on ${m.executor ?? 'tfjs (not recorded)'}, ${dirs[recorded]} on ${executor}: executors agree to float32 rounding, not bit for bit, so their top-K are not merged; scan every shard with the same executor (--executor or CONVSCOPE_EXECUTOR, and --device)`,
      )
    }
    if (m.shard.count !== count) throw new ConvscopeError('BAD_REQUEST', `${where} is shard ${m.shard.index}/${m.shard.count}, ${dirs[0]} is one of ${count}`)
    if (m.shard.index % target.count !== target.index) {
      throw new ConvscopeError('BAD_REQUEST', `${where} is shard ${m.shard.index}/${count}, which is not part of shard ${target.index}/${target.count}`)
    }
    const other = seen.get(m.shard.index)
    if (other !== undefined) throw new ConvscopeError('BAD_REQUEST', `${where} and ${other} are both shard ${m.shard.index}/${count}`)
    seen.set(m.shard.index, where)
  })
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => i % target.count === target.index && !seen.has(i))
  if (missing.length) throw new ConvscopeError('BAD_REQUEST', `shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')} missing`)

  await mkdir(out, { recursive: true })
  const total = first.dataset.count
  const k = first.k
  const targetRows = shardIndices(total, target).length
  for (const layer of first.layers) {
    const merged = emptyTopK(layer.units, k)
    for (const dir of dirs) {
      const f = topkFiles(layer.file)
      const values = await readTyped(join(dir, f.values), 'float32', [layer.units, k])
      const images = await readTyped(join(dir, f.images), 'int32', [layer.units, k])
      const yx = await readTyped(join(dir, f.yx), 'int32', [layer.units, k, 2])
      mergeInto(merged, topKFromArrays(layer.units, k, values, images, yx))
    }
    const f = topkFiles(layer.file)
    await writeNpy(join(out, f.values), merged.values, [layer.units, k])
    await writeNpy(join(out, f.images), merged.images, [layer.units, k])
    await writeNpy(join(out, f.yx), merged.yx, [layer.units, k, 2])
  }
  for (const spec of rowFileSpecs(first.keepMaxima ? first.layers : [], first.codes)) {
    await mergeRows(dirs, manifests, spec, target, join(out, spec.file), options.maximaBlockBytes ?? MAXIMA_BLOCK_BYTES)
  }

  const startedAt = manifests.map((m) => m.timing.startedAt).sort()[0]!
  const finishedAt = manifests.map((m) => m.timing.finishedAt).sort().at(-1)!
  const times = manifests.map((m) => m.timing.seconds)
  // 'sum': compute time over the shards, not wall time; 'parallel': the slowest part.
  const seconds = options.timing === 'parallel' ? Math.max(...times) : times.reduce((s, t) => s + t, 0)
  const byShard = new Map(manifests.map((m) => [m.shard.index, m]))
  const manifest: ScanManifest = {
    ...first,
    ...(executor !== undefined && { executor }),
    shard: { ...target },
    images: first.images.map((img, i) => {
      // Sizes are known for the target's images only, as in a run of that shard.
      const from = i % target.count === target.index ? byShard.get(i % count)!.images[i]! : { width: null, height: null }
      return { ...img, width: from.width, height: from.height }
    }),
    skipped: manifests.flatMap((m) => m.skipped).sort((a, b) => a.index - b.index),
    timing: { startedAt, finishedAt, seconds, imagesPerSecond: seconds > 0 ? targetRows / seconds : 0, resumed: manifests.some((m) => m.timing.resumed) },
  }
  await writeFileAtomic(join(out, MANIFEST_FILE), JSON.stringify(manifest, null, 1) + '\n')
  return manifest
}
