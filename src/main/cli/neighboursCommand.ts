/**
 * `convscope neighbours`: an image's nearest neighbours in code space beside those in pixel space (issue 13; the
 * lecture's figure), from a codes folder (`convscope codes`). An image outside the folder gets its code from the
 * folder's model (read from where the codes manifest says it was, or --model).
 */
import { parseArgs } from 'node:util'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { ConvscopeError, Metric, type Neighbours } from '../../shared/api'
import { readCodesManifest } from '../engine/codes/codesFolder'
import { neighboursPng } from '../engine/embeddings/neighboursPng'
import { findNeighbours } from '../engine/methods/embeddings/neighbours'
import type { LoadedModel } from '../engine/model'
import { loadModel } from '../engine/models/loadModel'
import { initCliBackend } from './engineSession'
import type { Command } from './index'
import { wholeNumberOption } from './options'

const usage = `usage: convscope neighbours CODES_DIR IMAGE [--k 10] [--metric cosine|l2] [--model DIR|FILE.onnx] [--png OUT] [--json]

The k nearest images to IMAGE among a codes folder's (\`convscope codes\`), in code space (the layer's codes, cosine
or Euclidean distance) and in pixel space (Euclidean distance of 32×32 thumbnails): the lecture's comparison, where
code neighbours share the class and pixel neighbours share colour and layout. Exact (every image is compared).
IMAGE in the folder is left out of its own neighbours; any other image file gets its code computed with the
folder's model (from the directory the codes were made with, or --model).
  --k K          neighbours per row (default 10, at most 200)
  --metric M     cosine (default) or l2, for the codes
  --png OUT      the figure: query | its k code neighbours, query | its k pixel neighbours, with classes and distances
  --json         the result as JSON on stdout`

export const neighboursCommand: Command = {
  summary: 'nearest neighbours of an image in code space beside pixel space (the lecture figure)',
  usage,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        k: { type: 'string' },
        metric: { type: 'string', default: 'cosine' },
        model: { type: 'string' },
        png: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    })
    if (positionals.length !== 2) {
      console.error(usage)
      return 2
    }
    const [codesDir, image] = positionals.map((p) => resolve(p)) as [string, string]
    const k = wholeNumberOption(values.k, '--k') ?? 10
    if (k > 200) throw new ConvscopeError('BAD_REQUEST', `--k is at most 200, not ${k}`)
    const metric = Metric.safeParse(values.metric)
    if (!metric.success) throw new ConvscopeError('BAD_REQUEST', `--metric must be cosine or l2, not "${values.metric}"`)

    // Loaded only when the query is not in the folder.
    let model: LoadedModel | null = null
    const modelOf = async (id: string): Promise<LoadedModel> => {
      if (model) return model
      const manifest = await readCodesManifest(codesDir)
      const dir = values.model ? resolve(values.model) : manifest.model.dir
      await initCliBackend(undefined, values.json)
      model = await loadModel(dir)
      if (model.info.id !== id) throw new ConvscopeError('BAD_REQUEST', `the model in ${dir} (${model.info.id}) is not the one the codes were made with (${manifest.model.name}, ${id})`)
      return model
    }
    try {
      const result = await findNeighbours(codesDir, image, k, metric.data, modelOf)
      if (values.png) {
        const out = resolve(values.png)
        await mkdir(dirname(out), { recursive: true })
        const queryClass = result.index === null ? null : ((await readCodesManifest(codesDir)).images[result.index]?.className ?? null)
        await writeFile(out, await neighboursPng(result, { queryClass }))
      }
      console.log(values.json ? JSON.stringify({ ...result, png: values.png ? resolve(values.png) : null }, null, 2) : formatNeighbours(result, values.png ? resolve(values.png) : null))
    } finally {
      ;(model as LoadedModel | null)?.dispose()
    }
    return 0
  },
}

export function formatNeighbours(r: Neighbours, png: string | null): string {
  const lines = [`${r.image}${r.index === null ? ' (not in the folder: its code computed now)' : ` (row ${r.index})`}, ${r.code.length} neighbours in ${r.milliseconds.toFixed(0)} ms`]
  const table = (title: string, list: Neighbours['code']) => {
    lines.push('', title, 'rank  distance   class                 image')
    list.forEach((n, i) => lines.push(`${String(i + 1).padStart(4)}  ${n.distance.toPrecision(4).padEnd(9)}  ${(n.className ?? '').padEnd(20)}  ${n.path}`))
  }
  table(`code space (${r.metric})`, r.code)
  table('pixel space (l2 of 32×32 thumbnails)', r.pixel)
  if (png) lines.push('', `wrote ${png}`)
  return lines.join('\n')
}
