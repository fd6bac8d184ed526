import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { ConvscopeError } from '../../shared/api'
import { listImageFolder } from '../engine/images/imageFolder'
import { defaultScanLayers, runScan } from '../engine/scan/runScan'
import { parseShard } from '../engine/scan/manifest'
import { withModel } from './engineSession'
import { progressBar } from './progressBar'
import type { Command } from './index'

const usage = `usage: convscope scan --model DIR --data DIR --out DIR [--layers a,b] [--top K] [--shard i/n] [--batch N] [--no-maxima] [--limit N] [--backend NAME]

For each unit of the chosen layers, the dataset images (and the receptive-field patch at the max) that
activate it most: top-K per unit, plus every image's per-unit maxima (float16 .npy) unless --no-maxima.
  --layers     comma-separated layer names (default: every spatial conv/pool layer after the first)
  --top K      entries kept per unit (default 16)
  --shard i/n  scan only images whose index ≡ i (mod n); merge the n folders with \`convscope merge\`
  --batch N    images per forward pass (default 16)
  --limit N    list at most N images of the folder (default 1000000)
A killed scan resumes from its last checkpoint (every 30 s; env CONVSCOPE_CHECKPOINT_MS) when run again
with the same arguments.`

export const scanCommand: Command = {
  summary: 'top-K dataset patches per unit of chosen layers (resumable, shardable)',
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        model: { type: 'string' },
        data: { type: 'string' },
        out: { type: 'string' },
        layers: { type: 'string' },
        top: { type: 'string' },
        shard: { type: 'string' },
        batch: { type: 'string' },
        'no-maxima': { type: 'boolean', default: false },
        limit: { type: 'string' },
        backend: { type: 'string' },
      },
    })
    if (!values.model || !values.data || !values.out) {
      console.error(usage)
      return 2
    }
    const positive = (text: string | undefined, name: string, fallback: number) => {
      if (text === undefined) return fallback
      const n = Number(text)
      if (!Number.isInteger(n) || n < 1) throw new ConvscopeError('BAD_REQUEST', `${name} must be a whole number ≥ 1, got "${text}"`)
      return n
    }
    const k = positive(values.top, '--top', 16)
    const batchSize = positive(values.batch, '--batch', 16)
    const limit = positive(values.limit, '--limit', 1_000_000)
    let shard
    try {
      shard = values.shard ? parseShard(values.shard) : undefined
    } catch (e) {
      throw new ConvscopeError('BAD_REQUEST', (e as Error).message)
    }
    const folder = await listImageFolder(resolve(values.data), limit)
    if (folder.truncated) console.error(`convscope scan: warning: only the first ${limit} images are scanned (--limit)`)
    const out = resolve(values.out)
    await withModel(values.model, { backend: values.backend }, async (model) => {
      const layers = values.layers ? values.layers.split(',').map((s) => s.trim()).filter(Boolean) : defaultScanLayers(model.info)
      if (layers.length === 0) throw new ConvscopeError('BAD_REQUEST', 'the model has no spatial conv/pool layer after the first; name layers with --layers')
      console.error(`convscope scan: ${folder.images.length} images, layers ${layers.join(', ')}, top ${k}${shard ? `, shard ${shard.index}/${shard.count}` : ''}`)
      const bar = progressBar(process.stderr)
      let skipped = 0
      const abort = new AbortController()
      const onSignal = () => abort.abort()
      process.once('SIGINT', onSignal)
      try {
        const manifest = await runScan({
          model,
          images: folder.images.map((i) => i.path),
          classNames: folder.images.map((i) => i.className),
          root: folder.root,
          layers,
          k,
          batchSize,
          keepMaxima: !values['no-maxima'],
          out,
          shard,
          signal: abort.signal,
          onProgress: (p) => {
            if (p.skipped > skipped) process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}skipped ${p.skipped} unreadable file(s) so far\n`)
            skipped = p.skipped
            bar.update(p.done, p.total)
          },
        })
        bar.end()
        skipped = manifest.skipped.length
        console.log(`wrote ${out}: ${manifest.layers.length} layer(s), top ${manifest.k}, ${manifest.timing.seconds.toFixed(1)} s${manifest.timing.resumed ? ' (resumed)' : ''}`)
        if (skipped) {
          console.log(`skipped ${skipped} file(s):`)
          for (const s of manifest.skipped.slice(0, 20)) console.log(`  ${s.path}: ${s.reason}`)
          if (skipped > 20) console.log(`  … and ${skipped - 20} more (manifest.json lists them all)`)
        }
      } finally {
        bar.end()
        process.off('SIGINT', onSignal)
      }
    })
    return 0
  },
}
