/**
 * Dataset scans as workspace jobs (issue 4, the UI side): where a scan of (model, dataset, settings) lives,
 * starting or resuming one with progress and cancellation, listing them, and reading one unit back.
 *
 *   <workspace>/scans/<model>-<dataset>-<settings>/   the runScan result folder (manifest.ts), plus
 *     scan-request.json                              what was asked for, written first: lets listScans show
 *                                                    a cancelled or killed scan, which resumes when started again
 * The folder name holds the model's and the dataset's content identities, so a scan is never shown for another
 * model or for changed images; the settings part (layers, K) keeps scans with other settings apart.
 */
import { createHash } from 'node:crypto'
import { mkdir, readFile, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ConvscopeError, type ScanSummary, type TopPatchEntry, type UnitsOverview, type UnitTopPatches } from '../../../shared/api'
import { defaultScanLayers } from '../../../shared/scanLayers'
import type { JobContext } from '../context'
import { listImageFolder } from '../images/imageFolder'
import type { LoadedModel } from '../model'
import { writeFileAtomic } from '../store/writeFileAtomic'
import { float16BitsToFloat32, readNpy } from '../store/npy'
import { MANIFEST_FILE, datasetIdentity, maximaFile, readManifest, type ScanManifest } from './manifest'
import { runScan } from './runScan'
import { describeScanLayer } from './scanLayer'
import { readLayerTopK, topPatches, unitPatches, type TopPatch } from './topPatches'

export const SCANS_DIR = 'scans'
export const REQUEST_FILE = 'scan-request.json'
/** Scans read every image of the folder (the UI's folder listing stops at 5 000). */
const MAX_IMAGES = 1_000_000

interface ScanRequest {
  modelId: string
  dataDir: string
  layers: ScanSummary['layers']
  k: number
  images: number
  requestedAt: string
}

/** First 12 hex digits of an identity such as "sha256:ab12…". */
export const short = (id: string): string => id.replace(/^[a-z0-9]+:/i, '').replace(/[^A-Za-z0-9]/g, '').slice(0, 12)

export function scanFolderName(modelId: string, datasetId: string, layers: readonly string[], k: number): string {
  const settings = createHash('sha256').update(JSON.stringify({ layers, k })).digest('hex').slice(0, 8)
  return `${short(modelId)}-${short(datasetId)}-${settings}`
}

function fromManifest(dir: string, m: ScanManifest): ScanSummary {
  return {
    dir,
    status: 'complete',
    modelId: m.model.id,
    dataDir: m.dataset.root,
    layers: m.layers.map((l) => ({ name: l.name, units: l.units, height: l.height, width: l.width })),
    k: m.k,
    images: m.dataset.count,
    skipped: m.skipped.map((s) => ({ path: s.path, reason: s.reason })),
    seconds: m.timing.seconds,
    imagesPerSecond: m.timing.imagesPerSecond,
    finishedAt: m.timing.finishedAt,
    resumed: m.timing.resumed,
  }
}

/** Start, resume or reuse the scan of `dataDir` by `model`; progress and cancellation through ctx. */
export async function startScan(
  workspace: string,
  model: LoadedModel,
  params: { dataDir: string; layers?: string[]; k: number },
  ctx: JobContext,
): Promise<ScanSummary> {
  ctx.progress({ done: 0, total: null, message: 'listing images' })
  const folder = await listImageFolder(params.dataDir, MAX_IMAGES)
  if (folder.images.length === 0) throw new ConvscopeError('NOT_FOUND', `${params.dataDir} holds no images to scan`)
  const layers = params.layers ?? defaultScanLayers(model.info)
  if (layers.length === 0) throw new ConvscopeError('BAD_REQUEST', `model ${model.info.name} has no spatial activation, conv or pool layer to scan by default; name the layers to scan`)
  const layerInfo = layers.map((name) => {
    const { units, height, width } = describeScanLayer(model, name)
    return { name, units, height, width }
  })
  const images = folder.images.map((i) => i.path)
  const datasetId = await datasetIdentity(folder.root, images)
  const dir = join(workspace, SCANS_DIR, scanFolderName(model.info.id, datasetId, layers, params.k))
  await mkdir(dir, { recursive: true })
  const request: ScanRequest = { modelId: model.info.id, dataDir: folder.root, layers: layerInfo, k: params.k, images: images.length, requestedAt: new Date().toISOString() }
  if (!(await exists(join(dir, REQUEST_FILE)))) await writeFileAtomic(join(dir, REQUEST_FILE), JSON.stringify(request, null, 1) + '\n')

  let resumedAt: number | null = null
  const manifest = await runScan({
    model,
    images,
    classNames: folder.images.map((i) => i.className),
    root: folder.root,
    layers,
    k: params.k,
    out: dir,
    signal: ctx.signal,
    onProgress: (p) => {
      resumedAt ??= p.done // a resumed scan starts at its checkpoint
      const parts = [p.rate !== undefined ? `${p.rate.toFixed(1)} images/s` : resumedAt > 0 ? `resumed at ${resumedAt}` : 'starting', `${p.skipped} skipped`]
      ctx.progress({ ...p, message: parts.join(' · ') })
    },
  })
  return fromManifest(dir, manifest)
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

/** The scans of `modelId` in the workspace: finished ones from their manifest, unfinished ones from their request. */
export async function listScans(workspace: string, modelId: string): Promise<ScanSummary[]> {
  const root = join(workspace, SCANS_DIR)
  const names = await readdir(root).catch(() => [] as string[])
  const out: { summary: ScanSummary; at: string }[] = []
  for (const name of names) {
    const dir = join(root, name)
    if (await exists(join(dir, MANIFEST_FILE))) {
      const m = await readManifest(dir).catch(() => null)
      if (m && m.model.id === modelId) out.push({ summary: fromManifest(dir, m), at: m.timing.finishedAt })
      continue
    }
    const text = await readFile(join(dir, REQUEST_FILE), 'utf8').catch(() => null)
    if (!text) continue
    const r = JSON.parse(text) as ScanRequest
    if (r.modelId !== modelId) continue
    out.push({
      summary: {
        dir,
        status: 'incomplete',
        modelId: r.modelId,
        dataDir: r.dataDir,
        layers: r.layers,
        k: r.k,
        images: r.images,
        skipped: [],
        seconds: null,
        imagesPerSecond: null,
        finishedAt: null,
        resumed: false,
      },
      at: r.requestedAt,
    })
  }
  return out.sort((a, b) => b.at.localeCompare(a.at)).map((e) => e.summary)
}

/** The first `count` patches (default all) as the API shows them, with their image's size. */
function patchEntries(manifest: ScanManifest, patches: TopPatch[], count = patches.length): TopPatchEntry[] {
  return patches.slice(0, count).map((p) => {
    const img = manifest.images[p.image]!
    return { rank: p.rank, path: p.path, className: p.className, value: p.value, y: p.y, x: p.x, box: p.box, imageWidth: img.width, imageHeight: img.height }
  })
}

/** Several units' top patches from one read of the layer's top-K arrays (the Units overview). */
export async function getUnitsOverview(scanDir: string, params: { layer: string; units: number[]; count?: number }): Promise<UnitsOverview> {
  const scan = await readLayerTopK(scanDir, params.layer)
  const rows = params.units.map((unit) => ({ unit, patches: patchEntries(scan.manifest, unitPatches(scan, unit), params.count) }))
  return { scanDir, layer: params.layer, units: scan.layer.units, rows }
}

/** One unit of a finished scan: its top patches (boxes in image pixels), its maxima column, its top-N classes. */
export async function getTopPatches(
  scanDir: string,
  params: { layer: string; unit: number; count?: number; topN: number; withMaxima: boolean },
): Promise<UnitTopPatches> {
  const { manifest, patches } = await topPatches(scanDir, params.layer, params.unit)
  const layer = manifest.layers.find((l) => l.name === params.layer)!
  const shown = patchEntries(manifest, patches, params.count)

  let column: Float32Array<ArrayBuffer> | null = null
  if (manifest.keepMaxima) {
    const npy = await readNpy(join(scanDir, maximaFile(layer.file)))
    const [rows, units] = npy.shape as [number, number]
    const bits = npy.data as Uint16Array
    column = new Float32Array(rows)
    for (let r = 0; r < rows; r++) column[r] = float16BitsToFloat32(bits[r * units + params.unit]!)
  }

  // Class selectivity: the classes of the unit's N most activating images (by maxima; else the top-K list).
  let top: (string | null)[]
  if (column) {
    const order = Array.from(column.keys())
      .filter((i) => Number.isFinite(column![i]))
      .sort((a, b) => column![b]! - column![a]! || a - b)
    top = order.slice(0, params.topN).map((r) => manifest.images[manifest.shard.index + r * manifest.shard.count]?.className ?? null)
  } else {
    top = patches.slice(0, params.topN).map((p) => p.className)
  }
  const counts = new Map<string, number>()
  for (const c of top) counts.set(c ?? '(no class)', (counts.get(c ?? '(no class)') ?? 0) + 1)
  const classHistogram = [...counts].map(([className, count]) => ({ className, count })).sort((a, b) => b.count - a.count || a.className.localeCompare(b.className))

  return {
    scanDir,
    layer: params.layer,
    unit: params.unit,
    units: layer.units,
    patches: shown,
    maxima: params.withMaxima ? column : null,
    classHistogram,
    topN: top.length,
  }
}
