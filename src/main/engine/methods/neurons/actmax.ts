/**
 * startActmax (issue 12): activation maximization of a target (engine/optimizers/actmax.ts), cached per
 * (model, target, settings) in `<workspace>/actmax/<key>/`: `result.json` (the result without pixels) and
 * `image-<i>.png` (the images, 8-bit: what the UI shows and the cache returns). Progress counts steps and carries
 * a preview (the images side by side, PNG data URL) every `previewEvery` steps; cancel stops between steps.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { ActmaxResult, type ActmaxSettings, type ParsedParams, type Result, type Target } from '../../../../shared/api'
import type { JobContext } from '../../context'
import type { LoadedModel } from '../../model'
import { maximize, type OptimizedImages } from '../../optimizers/actmax'
import { pngDataUrl, rgbPng, sideBySide } from '../../optimizers/png'
import { writeFileAtomic } from '../../store/writeFileAtomic'
import { planTarget } from '../../targets'

/** What result.json holds: the result less its pixels (they are the PNG files beside it). */
const CachedRun = ActmaxResult.omit({ cached: true, images: true }).extend({
  images: z.array(z.object({ file: z.string(), width: z.number().int(), height: z.number().int(), value: z.number() })),
})

/** The cache folder's name: a hash of the model's id, the target and every setting (defaults filled in). */
export function actmaxKey(modelId: string, target: Target, settings: ActmaxSettings): string {
  return createHash('sha256').update(stableJson({ modelId, target, settings })).digest('hex').slice(0, 24)
}

/** JSON with object keys sorted, so equal values give equal text whatever the order they were written in. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

export async function startActmax(workspace: string, model: LoadedModel, p: ParsedParams<'startActmax'>, ctx: JobContext): Promise<Result<'startActmax'>> {
  const plan = planTarget(model, p.target)
  const dir = join(workspace, 'actmax', actmaxKey(model.info.id, p.target, p.settings))
  const cached = await readCached(dir)
  if (cached) return cached
  const started = performance.now()
  const run = await maximize(model, plan, p.settings, {
    signal: ctx.signal,
    onStep: async (done, total, preview) => {
      ctx.progress({ done, total, unit: 'steps', ...(preview ? { image: await stripDataUrl(preview.images, preview.size) } : {}) })
    },
  })
  const seconds = (performance.now() - started) / 1000
  return save(dir, plan.description, p.settings, run, seconds)
}

async function stripDataUrl(images: Float32Array[], size: number): Promise<string> {
  const strip = sideBySide(images, size, images.length > 1 ? 2 : 0)
  return pngDataUrl(await rgbPng(strip.values, strip.width, strip.height))
}

/** Write the PNGs, then result.json last (its presence marks a complete run). */
async function save(dir: string, description: string, settings: ActmaxSettings, run: OptimizedImages, seconds: number): Promise<ActmaxResult> {
  const pngs = await Promise.all(run.images.map((image) => rgbPng(image.rgb, run.size, run.size)))
  const files = pngs.map((_, i) => `image-${i}.png`)
  for (const [i, png] of pngs.entries()) await writeFileAtomic(join(dir, files[i]!), png)
  const base = { target: { description }, settings, objective: run.objective, seconds, stepMilliseconds: run.stepMilliseconds }
  const images = run.images.map((image, i) => ({ width: run.size, height: run.size, value: image.value }))
  await writeFileAtomic(join(dir, 'result.json'), JSON.stringify(CachedRun.parse({ ...base, images: images.map((m, i) => ({ ...m, file: files[i]! })) })))
  return { ...base, images: images.map((m, i) => ({ ...m, png: pngDataUrl(pngs[i]!) })), cached: false }
}

/** The cached result in `dir`, or null when there is none (or it does not read: it is then computed again). */
async function readCached(dir: string): Promise<ActmaxResult | null> {
  try {
    const run = CachedRun.parse(JSON.parse(await readFile(join(dir, 'result.json'), 'utf8')))
    const images = await Promise.all(
      run.images.map(async ({ file, ...image }) => ({ ...image, png: pngDataUrl(await readFile(join(dir, file))) })),
    )
    return { ...run, images, cached: true }
  } catch {
    return null
  }
}
