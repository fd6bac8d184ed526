/**
 * Codes as workspace jobs (issue 13): startCodes runs (or resumes, or reuses) a codes run of the scan pipeline
 * (scan/runScan.ts with `codes`) into
 *
 *   <workspace>/codes/<model>-<dataset>-<settings>/   the codes folder (engine/codes/codesFolder.ts), plus
 *     codes-request.json                             what was asked for, written first: lets listCodes show a
 *                                                    cancelled or killed run, which resumes when started again
 * The folder name holds the model's and the dataset's content identities and a hash of (layer, dtype), so codes
 * are never shown for another model or changed images. Cancel checkpoints (the scan's), like a scan job.
 */
import { createHash } from 'node:crypto'
import { mkdir, readFile, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ConvscopeError, type CodeDtype, type CodesSummary, type ParsedParams, type Result } from '../../../../shared/api'
import { describeCodeLayer, defaultCodeLayer } from '../../codes/codeLayer'
import { codesSummary, readCodesFolder, readCodesManifest } from '../../codes/codesFolder'
import type { JobContext } from '../../context'
import { listImageFolder } from '../../images/imageFolder'
import type { LoadedModel } from '../../model'
import { MANIFEST_FILE, datasetIdentity } from '../../scan/manifest'
import { runScan } from '../../scan/runScan'
import { short } from '../../scan/scanJobs'
import { writeFileAtomic } from '../../store/writeFileAtomic'

export const CODES_DIR = 'codes'
export const CODES_REQUEST_FILE = 'codes-request.json'
/** Codes read every image of the folder (the UI's folder listing stops at 5 000). */
const MAX_IMAGES = 1_000_000

interface CodesRequest {
  modelId: string
  dataDir: string
  layer: string
  dim: number
  pooled: boolean
  dtype: CodeDtype
  images: number
  requestedAt: string
}

export function codesFolderName(modelId: string, datasetId: string, layer: string, dtype: CodeDtype): string {
  const settings = createHash('sha256').update(JSON.stringify({ layer, dtype })).digest('hex').slice(0, 8)
  return `${short(modelId)}-${short(datasetId)}-${settings}`
}

const exists = (path: string) => stat(path).then(() => true, () => false)

export async function startCodes(workspace: string, model: LoadedModel, p: ParsedParams<'startCodes'>, ctx: JobContext): Promise<Result<'startCodes'>> {
  ctx.progress({ done: 0, total: null, message: 'listing images' })
  const folder = await listImageFolder(p.dataDir, MAX_IMAGES)
  if (folder.images.length === 0) throw new ConvscopeError('NOT_FOUND', `${p.dataDir} holds no images to compute codes of`)
  const layer = describeCodeLayer(model, p.layer ?? defaultCodeLayer(model))
  const images = folder.images.map((i) => i.path)
  const datasetId = await datasetIdentity(folder.root, images)
  const dir = join(workspace, CODES_DIR, codesFolderName(model.info.id, datasetId, layer.name, p.dtype))
  await mkdir(dir, { recursive: true })
  const request: CodesRequest = { modelId: model.info.id, dataDir: folder.root, layer: layer.name, dim: layer.dim, pooled: layer.pooled, dtype: p.dtype, images: images.length, requestedAt: new Date().toISOString() }
  if (!(await exists(join(dir, CODES_REQUEST_FILE)))) await writeFileAtomic(join(dir, CODES_REQUEST_FILE), JSON.stringify(request, null, 1) + '\n')

  let resumedAt: number | null = null
  await runScan({
    model,
    images,
    classNames: folder.images.map((i) => i.className),
    root: folder.root,
    layers: [],
    codes: { layer: layer.name, dtype: p.dtype },
    out: dir,
    signal: ctx.signal,
    onProgress: (q) => {
      resumedAt ??= q.done // a resumed run starts at its checkpoint
      const parts = [q.rate !== undefined ? `${q.rate.toFixed(1)} images/s` : resumedAt > 0 ? `resumed at ${resumedAt}` : 'starting', `${q.skipped} skipped`]
      ctx.progress({ ...q, message: parts.join(' · ') })
    },
  })
  return codesSummary(dir, await readCodesManifest(dir))
}

/** The codes folders of `modelId` in the workspace, newest first: finished ones from their manifest, unfinished ones from their request. */
export async function listCodes(workspace: string, modelId: string): Promise<Result<'listCodes'>> {
  const root = join(workspace, CODES_DIR)
  const names = await readdir(root).catch(() => [] as string[])
  const out: { summary: CodesSummary; at: string }[] = []
  for (const name of names) {
    const dir = join(root, name)
    if (await exists(join(dir, MANIFEST_FILE))) {
      const m = await readCodesManifest(dir).catch(() => null)
      if (m && m.model.id === modelId) out.push({ summary: codesSummary(dir, m), at: m.timing.finishedAt })
      continue
    }
    const text = await readFile(join(dir, CODES_REQUEST_FILE), 'utf8').catch(() => null)
    if (!text) continue
    const r = JSON.parse(text) as CodesRequest
    if (r.modelId !== modelId) continue
    const summary: CodesSummary = {
      dir,
      status: 'incomplete',
      modelId: r.modelId,
      dataDir: r.dataDir,
      layer: r.layer,
      dim: r.dim,
      pooled: r.pooled,
      dtype: r.dtype,
      images: r.images,
      skipped: [],
      seconds: null,
      imagesPerSecond: null,
      finishedAt: null,
    }
    out.push({ summary, at: r.requestedAt })
  }
  return out.sort((a, b) => b.at.localeCompare(a.at)).map((e) => e.summary)
}

export async function getCodeImages(codesDir: string): Promise<Result<'getCodeImages'>> {
  const folder = await readCodesFolder(codesDir)
  return { codesDir, layer: folder.summary.layer, dim: folder.summary.dim, images: folder.images }
}
