/**
 * getCodeUnitValues (issue 13, "colour the map by a unit's activation"): a unit's maximum over space per image
 * of a codes folder, read from the maxima file of a finished scan in <workspace>/scans of the same model and the
 * same dataset identity (same images, sizes, dates) that kept the maxima of that layer. Read in blocks of rows:
 * memory is the column plus one block, whatever the dataset's size.
 */
import { open, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ConvscopeError, type ParsedParams, type Result } from '../../../../shared/api'
import { readCodesManifest } from '../../codes/codesFolder'
import { float16BitsToFloat32, readNpyHead, readNpyRows } from '../../store/npy'
import { maximaFile, readManifest, type ScanManifest } from '../../scan/manifest'
import { SCANS_DIR } from '../../scan/scanJobs'

const BLOCK_ROWS = 4096

/** A finished, whole scan in the workspace of `modelId` over `datasetId` with maxima of `layer`, if any. */
async function findScan(workspace: string, modelId: string, datasetId: string, layer: string): Promise<{ dir: string; manifest: ScanManifest } | null> {
  const root = join(workspace, SCANS_DIR)
  const names = (await readdir(root).catch(() => [] as string[])).sort()
  for (const name of names) {
    const dir = join(root, name)
    const m = await readManifest(dir).catch(() => null)
    if (!m || m.model.id !== modelId || m.dataset.id !== datasetId || m.shard.count !== 1 || !m.keepMaxima) continue
    if (m.layers.some((l) => l.name === layer)) return { dir, manifest: m }
  }
  return null
}

/** Column `unit` of a float16 [rows, units] maxima file, widened. */
async function readColumn(path: string, rows: number, units: number, unit: number): Promise<Float32Array<ArrayBuffer>> {
  const fh = await open(path)
  try {
    const head = await readNpyHead(fh)
    if (head.dtype !== 'float16' || head.shape.join(',') !== `${rows},${units}`) {
      throw new ConvscopeError('BAD_REQUEST', `${path} is ${head.dtype} [${head.shape.join(', ')}], expected float16 [${rows}, ${units}]`)
    }
    const out = new Float32Array(rows)
    const block = new Uint8Array(Math.min(rows, BLOCK_ROWS) * units * 2)
    for (let r0 = 0; r0 < rows; r0 += BLOCK_ROWS) {
      const n = Math.min(BLOCK_ROWS, rows - r0)
      const bytes = await readNpyRows(fh, head.dataOffset, units * 2, r0, n, block.subarray(0, n * units * 2))
      const bits = new Uint16Array(bytes.buffer, bytes.byteOffset, n * units)
      for (let r = 0; r < n; r++) out[r0 + r] = float16BitsToFloat32(bits[r * units + unit]!)
    }
    return out
  } finally {
    await fh.close()
  }
}

export async function getCodeUnitValues(workspace: string, p: ParsedParams<'getCodeUnitValues'>): Promise<Result<'getCodeUnitValues'>> {
  const codes = await readCodesManifest(p.codesDir)
  const found = await findScan(workspace, codes.model.id, codes.dataset.id, p.layer)
  if (!found) {
    throw new ConvscopeError(
      'NOT_FOUND',
      `no finished scan of model ${codes.model.name} over ${codes.dataset.root} keeps the maxima of layer ${p.layer}; scan that folder with that layer first (the Units view, or convscope scan --model ${codes.model.dir} --data ${codes.dataset.root} --layers ${p.layer} --out <workspace>/scans/…)`,
    )
  }
  const layer = found.manifest.layers.find((l) => l.name === p.layer)!
  if (p.unit >= layer.units) throw new ConvscopeError('BAD_REQUEST', `layer ${p.layer} has ${layer.units} units; unit ${p.unit} is not one of them`)
  const values = await readColumn(join(found.dir, maximaFile(layer.file)), found.manifest.dataset.count, layer.units, p.unit)
  return { codesDir: p.codesDir, layer: p.layer, unit: p.unit, values, scanDir: found.dir }
}
