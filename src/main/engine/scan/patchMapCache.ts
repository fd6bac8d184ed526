/**
 * Pixel maps of a unit's top patches (methods/neurons/guidedPatches.ts), cached in the scan's folder:
 *
 *   <scanDir>/guided/<method>/<layer stem>/<unit>.npy    float32 [n]: the crops of ranks 1 … m, one after another
 *                                                        (crop r: box.height × box.width × 3, HWC, signed, raw)
 *   <scanDir>/guided/<method>/<layer stem>/<unit>.json   { format, scan, model, method, layer, unit, total,
 *                                                          patches: [{ rank, image, y, x, box, offset }] }
 *
 * In Python: `a = np.load(npy); p = index['patches'][i]; b = p['box']`,
 * `a[p['offset']:p['offset'] + b['height'] * b['width'] * 3].reshape(b['height'], b['width'], 3)`.
 *
 * Both files are written atomically, the .npy first; a reader takes an entry only when the index's scan key
 * (scanKey: the scan's model, dataset, k and finishing time, so a scan run again into the folder invalidates it),
 * model and method match, the .npy holds exactly `total` values, and the entry's image, position and box are the
 * patch's now. Anything else is a miss, recomputed and written again (two writers of one unit at once: the last
 * one wins, the other's maps are recomputed on a later call).
 */
import { createHash } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { z } from 'zod'
import { ImageBox } from '../../../shared/api'
import { readNpy, writeNpy } from '../store/npy'
import { writeFileAtomic } from '../store/writeFileAtomic'
import { layerFileStem, type ScanManifest } from './manifest'

export const PATCH_MAP_CACHE_DIR = 'guided'
const FORMAT = 1

/** One cached crop: which patch it is (rank, image, position in the layer's map) and where it lies in the input. */
export interface CachedPatchMap {
  rank: number
  image: number
  y: number
  x: number
  /** The crop, in network-input pixels (edges). */
  box: ImageBox
  /** box.height × box.width × 3 */
  values: Float32Array<ArrayBuffer>
}

const Index = z.object({
  format: z.literal(FORMAT),
  scan: z.string(),
  model: z.string(),
  method: z.string(),
  layer: z.string(),
  unit: z.number().int(),
  total: z.number().int(),
  patches: z.array(z.object({ rank: z.number().int(), image: z.number().int(), y: z.number().int(), x: z.number().int(), box: ImageBox, offset: z.number().int() })),
})

/** What identifies one run of a scan: a scan run again into the same folder gets another key. */
export function scanKey(m: ScanManifest): string {
  const identity = JSON.stringify([m.model.id, m.dataset.id, m.k, m.shard, m.timing.startedAt, m.timing.finishedAt, m.layers.map((l) => [l.name, l.units])])
  return `sha256:${createHash('sha256').update(identity).digest('hex')}`
}

/** The cache of one (scan, model, method, layer, unit). */
export class PatchMapCache {
  readonly npyPath: string
  readonly indexPath: string
  private readonly key: string

  constructor(
    scanDir: string,
    manifest: ScanManifest,
    private readonly modelId: string,
    private readonly method: string,
    private readonly layer: string,
    private readonly unit: number,
  ) {
    const dir = join(scanDir, PATCH_MAP_CACHE_DIR, method, layerFileStem(layer))
    this.npyPath = join(dir, `${unit}.npy`)
    this.indexPath = join(dir, `${unit}.json`)
    this.key = scanKey(manifest)
  }

  /** The valid cached crops by rank (empty when there is no cache, or it belongs to another scan, model or method). */
  async read(): Promise<Map<number, CachedPatchMap>> {
    const found = new Map<number, CachedPatchMap>()
    const index = await readFile(this.indexPath, 'utf8')
      .then((text) => Index.safeParse(JSON.parse(text)))
      .catch(() => null)
    if (!index?.success) return found
    const ix = index.data
    if (ix.scan !== this.key || ix.model !== this.modelId || ix.method !== this.method || ix.layer !== this.layer || ix.unit !== this.unit) return found
    const npy = await readNpy(this.npyPath).catch(() => null)
    // A .npy of another write than the index (a writer between our two reads) is a miss, not a wrong map.
    if (!npy || npy.dtype !== 'float32' || npy.data.length !== ix.total) return found
    for (const p of ix.patches) {
      const length = p.box.height * p.box.width * 3
      if (p.offset < 0 || p.offset + length > ix.total) continue
      found.set(p.rank, { rank: p.rank, image: p.image, y: p.y, x: p.x, box: p.box, values: (npy.data as Float32Array).slice(p.offset, p.offset + length) })
    }
    return found
  }

  /** Replace the cache with `maps` (ranks in order). */
  async write(maps: CachedPatchMap[]): Promise<void> {
    const sorted = [...maps].sort((a, b) => a.rank - b.rank)
    const total = sorted.reduce((n, m) => n + m.values.length, 0)
    const data = new Float32Array(total)
    let offset = 0
    const patches = sorted.map(({ rank, image, y, x, box, values }) => {
      data.set(values, offset)
      offset += values.length
      return { rank, image, y, x, box, offset: offset - values.length }
    })
    await mkdir(dirname(this.npyPath), { recursive: true })
    await writeNpy(this.npyPath, data, [total])
    const index: z.infer<typeof Index> = { format: FORMAT, scan: this.key, model: this.modelId, method: this.method, layer: this.layer, unit: this.unit, total, patches }
    await writeFileAtomic(this.indexPath, JSON.stringify(index) + '\n')
  }
}

/** Whether a cached crop is the one of this patch (same image, position and crop). */
export function sameCrop(c: CachedPatchMap, p: { image: number; y: number; x: number; box: ImageBox }): boolean {
  return c.image === p.image && c.y === p.y && c.x === p.x && c.box.x === p.box.x && c.box.y === p.box.y && c.box.width === p.box.width && c.box.height === p.box.height
}
