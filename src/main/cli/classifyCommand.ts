import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { classifyFolder, type ClassifyResult } from '../engine/methods/classify'
import { withModel } from './engineSession'
import { progressBar } from './progressBar'
import type { Command } from './index'
import { wholeNumberOption, applyExecutorOptions, EXECUTOR_USAGE, executorOptions } from './options'

const usage = `usage: convscope classify --model DIR|FILE.onnx --data DIR [--json] [--batch N] [--sorted] [--backend NAME] ${EXECUTOR_USAGE}

Top-1 and top-5 accuracy of a classifier over a labelled folder (DIR/<class>/*.jpg), overall and per class.
Class folders are matched to the model's classes by WordNet id, by label, or through the dataset's
classes.json; --sorted takes the i-th folder in name order as class i instead. Unreadable files are
skipped and listed. A progress bar goes to stderr; --json prints the whole result on stdout.`

export const classifyCommand: Command = {
  summary: 'top-1 / top-5 accuracy over a labelled image folder, per class',
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        model: { type: 'string' },
        data: { type: 'string' },
        json: { type: 'boolean', default: false },
        batch: { type: 'string', default: '32' },
        sorted: { type: 'boolean', default: false },
        backend: { type: 'string' },
        ...executorOptions,
      },
    })
    applyExecutorOptions(values)
    if (!values.model || !values.data) {
      console.error(usage)
      return 2
    }
    const batchSize = wholeNumberOption(values.batch, '--batch')!
    const data = resolve(values.data)
    await withModel(values.model, { backend: values.backend, quiet: values.json }, async (model) => {
      const bar = progressBar(process.stderr)
      try {
        const result = await classifyFolder(model, data, { batchSize, mapping: values.sorted ? 'sorted' : 'names', onProgress: bar.update })
        bar.end()
        console.log(values.json ? JSON.stringify(result, null, 2) : formatClassifyResult(result))
      } finally {
        bar.end()
      }
    })
    return 0
  },
}

const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(1)} %`)

/** The per-class table, the overall line and the skipped files. */
export function formatClassifyResult(r: ClassifyResult): string {
  const header = ['class', 'label', 'images', 'top-1', `top-${r.k}`, 'most often taken for']
  const rows = r.perClass.map((c) => [
    c.className,
    c.label ?? `#${c.index}`,
    String(c.images),
    pct(c.top1),
    pct(c.top5),
    c.confusedWith ? `${c.confusedWith.label ?? `#${c.confusedWith.index}`} (${c.confusedWith.images})` : '',
  ])
  const overall = ['overall', '', String(r.overall.images), pct(r.overall.top1), pct(r.overall.top5), `mean per class top-1 ${pct(r.overall.meanClassTop1)}`]
  const widths = header.map((h, i) => Math.max(h.length, overall[i]!.length * (i < 5 ? 1 : 0), ...rows.map((row) => row[i]!.length)))
  const numeric = new Set([2, 3, 4])
  const line = (cells: string[]) => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()
  const lines = [`${r.root}`, '', line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), line(widths.map((w) => '-'.repeat(w))), line(overall)]
  if (r.skipped.length) {
    lines.push('', `skipped ${r.skipped.length} file${r.skipped.length > 1 ? 's' : ''}:`)
    for (const s of r.skipped) lines.push(`  ${s.reason}`)
  }
  return lines.join('\n')
}
