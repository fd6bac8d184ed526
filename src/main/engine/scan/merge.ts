/**
 * Merge the result folders of the shards of one scan (`--shard i/n`, e.g. SLURM array jobs) into one
 * folder identical, array for array, to the result of a single run (top-K merge is exact: topK.ts).
 *
 * The shards j/c merged may also be the parts of one coarser shard i/n (n divides c, every j ≡ i mod n):
 * that is how `scan --workers` joins its workers, and the result is then exactly what one run of shard
 * i/n writes, so SLURM shards scanned with workers still merge as usual.
 */
import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ConvscopeError } from '../../../shared/api'
import { readNpy, writeNpy } from '../store/npy'
import { writeFileAtomic } from '../store/catalog'
import { emptyTopK, mergeInto, topKFromArrays } from './topK'
import { MANIFEST_FILE, checkShard, maximaFile, readManifest, shardIndices, topkFiles, type ScanManifest, type Shard } from './manifest'

async function readTyped<T extends 'float32' | 'int32' | 'float16'>(path: string, dtype: T, shape: number[]) {
  const a = await readNpy(path)
  if (a.dtype !== dtype || a.shape.join(',') !== shape.join(',')) {
    throw new ConvscopeError('BAD_REQUEST', `${path} is ${a.dtype} [${a.shape.join(', ')}], expected ${dtype} [${shape.join(', ')}]`)
  }
  return a.data as T extends 'float32' ? Float32Array : T extends 'int32' ? Int32Array : Uint16Array
}

export interface MergeOptions {
  /** The shard the merged parts make up; default 0/1 (the whole dataset). */
  as?: Shard
  /**
   * How the parts' times add up: 'sum' (default: compute time over separate runs, e.g. SLURM tasks) or
   * 'parallel' (the parts ran side by side: the slowest part's time).
   */
  timing?: 'sum' | 'parallel'
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
  const seen = new Map<number, string>()
  manifests.forEach((m, i) => {
    const where = dirs[i]!
    if (m.model.id !== first.model.id) throw new ConvscopeError('BAD_REQUEST', `${where} scanned another model (${m.model.id}) than ${dirs[0]} (${first.model.id})`)
    if (m.dataset.id !== first.dataset.id) throw new ConvscopeError('BAD_REQUEST', `${where} scanned another dataset than ${dirs[0]}`)
    if (m.layers.map((l) => l.name).join('\n') !== first.layers.map((l) => l.name).join('\n')) throw new ConvscopeError('BAD_REQUEST', `${where} scanned other layers than ${dirs[0]}`)
    if (m.k !== first.k) throw new ConvscopeError('BAD_REQUEST', `${where} kept the top ${m.k}, ${dirs[0]} the top ${first.k}`)
    if (m.keepMaxima !== first.keepMaxima) throw new ConvscopeError('BAD_REQUEST', `${where} and ${dirs[0]} differ in keeping maxima`)
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
    const maxima = first.keepMaxima ? new Uint16Array(targetRows * layer.units) : null
    for (const [i, m] of manifests.entries()) {
      const dir = dirs[i]!
      const f = topkFiles(layer.file)
      const values = await readTyped(join(dir, f.values), 'float32', [layer.units, k])
      const images = await readTyped(join(dir, f.images), 'int32', [layer.units, k])
      const yx = await readTyped(join(dir, f.yx), 'int32', [layer.units, k, 2])
      mergeInto(merged, topKFromArrays(layer.units, k, values, images, yx))
      if (maxima) {
        const rows = shardIndices(total, m.shard).length
        const part = await readTyped(join(dir, maximaFile(layer.file)), 'float16', [rows, layer.units])
        for (let r = 0; r < rows; r++) {
          const image = m.shard.index + r * count
          const row = (image - target.index) / target.count // row of `image` in the target shard
          maxima.set(part.subarray(r * layer.units, (r + 1) * layer.units), row * layer.units)
        }
      }
    }
    const f = topkFiles(layer.file)
    await writeNpy(join(out, f.values), merged.values, [layer.units, k])
    await writeNpy(join(out, f.images), merged.images, [layer.units, k])
    await writeNpy(join(out, f.yx), merged.yx, [layer.units, k, 2])
    if (maxima) await writeNpy(join(out, maximaFile(layer.file)), { dtype: 'float16', shape: [targetRows, layer.units], data: maxima })
  }

  const startedAt = manifests.map((m) => m.timing.startedAt).sort()[0]!
  const finishedAt = manifests.map((m) => m.timing.finishedAt).sort().at(-1)!
  const times = manifests.map((m) => m.timing.seconds)
  // 'sum': compute time over the shards, not wall time; 'parallel': the slowest part.
  const seconds = options.timing === 'parallel' ? Math.max(...times) : times.reduce((s, t) => s + t, 0)
  const byShard = new Map(manifests.map((m) => [m.shard.index, m]))
  const manifest: ScanManifest = {
    ...first,
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
