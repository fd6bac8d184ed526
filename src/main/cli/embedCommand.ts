/**
 * `convscope embed`: a map of a codes folder by a projection of the registry (PCA, t-SNE, UMAP; issue 13), made
 * once per settings and kept in the folder (engine/embeddings/embeddingStore.ts), written out as .npy, CSV or a PNG.
 */
import { parseArgs } from 'node:util'
import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { ConvscopeError, type Embedding } from '../../shared/api'
import { readCodesFolder, type CodesFolder } from '../engine/codes/codesFolder'
import { embedCodes } from '../engine/embeddings/embeddingStore'
import { mapPng } from '../engine/embeddings/mapPng'
import { projectionInfos } from '../engine/projections/registry'
import type { Command } from './index'
import { withCliJob } from './jobProgress'
import { settingsOption, wholeNumberOption } from './options'

function methodsHelp(): string {
  return projectionInfos()
    .map((p) => {
      const settings = p.params.map((s) => `      ${s.name} (${s.kind === 'choice' ? s.choices?.join('|') : s.kind}, default ${s.default}${s.min !== undefined || s.max !== undefined ? `, ${s.min ?? '-∞'} … ${s.max ?? '∞'}` : ''}): ${s.help}`)
      return [`  ${p.name}: ${p.description} (up to ${p.maxDims}-D)`, ...settings].join('\n')
    })
    .join('\n')
}

const usage = () => `usage: convscope embed CODES_DIR --method pca|tsne|umap [--dims 2] [--set name=value]... [--npy OUT] [--csv OUT] [--png OUT] [--colour class|predicted] [--thumbnails] [--size 800] [--json]

A map of the codes of a codes folder (\`convscope codes\`): each image a point. Made once per settings and kept in
CODES_DIR/embeddings/ (asked again, it is read back at once). Images that could not be read have no point (NaN).
  --method M        the projection (below)
  --dims D          output dimensions (default 2; PCA up to 100, e.g. 50 before t-SNE)
  --set name=value  a setting of the method (repeatable)
  --npy OUT         the points as float32 [images, dims] .npy (row i: image i of the folder)
  --csv OUT         path,class,predicted,x,y(,…) per image
  --png OUT         the 2-D map as a PNG, one dot per image coloured by --colour (class folder, default; or the model's
                    predicted class), or with --thumbnails the images themselves at their points; --size: plot side
  --json            the result less its points (settings, seconds, explained variance, files) as JSON
methods:
${methodsHelp()}`

/** One CSV field, quoted when it holds a comma, quote or line break. */
const csvField = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)

export function embeddingCsv(e: Embedding, folder: CodesFolder): string {
  const axes = ['x', 'y', 'z'].slice(0, e.dims)
  for (let d = axes.length; d < e.dims; d++) axes.push(`c${d + 1}`)
  const lines = [['path', 'class', 'predicted', ...axes].join(',')]
  folder.images.forEach((img, i) => {
    const coords = Array.from(e.points.subarray(i * e.dims, (i + 1) * e.dims), (v) => (Number.isNaN(v) ? '' : String(v)))
    lines.push([csvField(img.path), csvField(img.className ?? ''), csvField(img.predictedLabel ?? (img.predicted === null ? '' : String(img.predicted))), ...coords].join(','))
  })
  return `${lines.join('\n')}\n`
}

export const embedCommand: Command = {
  summary: 'a PCA / t-SNE / UMAP map of a codes folder (.npy, CSV, PNG)',
  usage: usage(),
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        method: { type: 'string' },
        dims: { type: 'string' },
        set: { type: 'string', multiple: true },
        npy: { type: 'string' },
        csv: { type: 'string' },
        png: { type: 'string' },
        colour: { type: 'string', default: 'class' },
        thumbnails: { type: 'boolean', default: false },
        size: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    })
    if (positionals.length !== 1 || !values.method) {
      console.error(usage())
      return 2
    }
    const codesDir = resolve(positionals[0]!)
    const dims = wholeNumberOption(values.dims, '--dims') ?? 2
    const colour = values.colour
    if (colour !== 'class' && colour !== 'predicted') throw new ConvscopeError('BAD_REQUEST', `--colour must be class or predicted, not "${colour}"`)
    if (values.png && dims !== 2) throw new ConvscopeError('BAD_REQUEST', `--png draws a 2-D map; this one has --dims ${dims}`)
    const size = wholeNumberOption(values.size, '--size') ?? 800
    const params = settingsOption(values.set)

    const embedding = await withCliJob('embed', (ctx) => embedCodes(codesDir, values.method!, params, dims, ctx))
    const folder = values.csv || values.png ? await readCodesFolder(codesDir) : null
    const written: Record<string, string> = {}
    const target = async (path: string) => {
      const out = resolve(path)
      await mkdir(dirname(out), { recursive: true })
      return out
    }
    if (values.npy) await copyFile(embedding.file, (written.npy = await target(values.npy)))
    if (values.csv) await writeFile((written.csv = await target(values.csv)), embeddingCsv(embedding, folder!))
    if (values.png) {
      const labels = folder!.images.map((img) => (colour === 'class' ? img.className : (img.predictedLabel ?? (img.predicted === null ? null : String(img.predicted)))))
      const title = `${values.method} of ${folder!.summary.layer} codes, ${folder!.images.length} images${colour === 'predicted' ? ' (colour: predicted class)' : ''}`
      const png = await withCliJob('embed', (ctx) => mapPng(embedding.points, labels, { size, title, thumbnails: values.thumbnails ? folder!.images.map((img) => (img.ok ? img.path : '')) : undefined, ctx }))
      await writeFile((written.png = await target(values.png)), png)
    }
    const { points: _points, explainedVariance, ...rest } = embedding
    const summary = { ...rest, explainedVariance: explainedVariance ? Array.from(explainedVariance) : null, written }
    if (values.json) {
      console.log(JSON.stringify(summary, null, 2))
      return 0
    }
    const readable = embedding.count - countNaNRows(embedding)
    const lines = [
      `${embedding.method} (${Object.entries(embedding.params).map(([k, v]) => `${k}=${v}`).join(', ') || 'no settings'}) of ${embedding.count} codes (${readable} readable) to ${embedding.dims}-D: ${embedding.cached ? 'already made' : `${embedding.seconds.toFixed(1)} s`}, ${embedding.file}`,
    ]
    if (explainedVariance) {
      const total = Array.from(explainedVariance).reduce((a, b) => a + b, 0)
      lines.push(`explained variance: ${Array.from(explainedVariance.subarray(0, 10), (v) => `${(v * 100).toFixed(1)} %`).join(', ')}${embedding.dims > 10 ? ', …' : ''} (total ${(total * 100).toFixed(1)} %)`)
    }
    for (const [kind, file] of Object.entries(written)) lines.push(`wrote ${kind}: ${file}`)
    console.log(lines.join('\n'))
    return 0
  },
}

function countNaNRows(e: Embedding): number {
  let n = 0
  for (let i = 0; i < e.count; i++) if (Number.isNaN(e.points[i * e.dims]!)) n++
  return n
}
