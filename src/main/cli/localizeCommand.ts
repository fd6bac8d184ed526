import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { evaluateLocalization, type LocalizationReport } from '../engine/localization/evaluate'
import { mapMethod, mapMethodHelp, MAP_METHOD_NAMES, runnableMapMethod } from '../engine/maps'
import { withModel } from './engineSession'
import { progressBar } from './progressBar'
import type { Command } from './index'
import { fractionOption, wholeNumberOption, applyExecutorOptions, EXECUTOR_USAGE, executorOptions } from './options'

const usage = `usage: convscope localize --model DIR|FILE.onnx --data DIR --method ${MAP_METHOD_NAMES.join('|')}[,...] [--annotations DIR]
                         [--threshold 0.2] [--limit N] [--one-based] [--failures N] [--json] [--backend NAME] ${EXECUTOR_USAGE}

Weakly-supervised localization over an annotated image folder (PASCAL VOC / ILSVRC XML per image):
top-1 / top-5 localization error (class right and IoU >= 0.5, as in the CAM paper's Table 2), GT-known
localization accuracy and MaxBoxAccV2 (Choe et al. 2020), and classification error on the same images.
Boxes keep the largest connected region of the map above --threshold x its max. Several methods
(comma-separated) share one pass over the images. Annotations are looked for in --annotations DIR, else
DIR/annotations, DIR/../annotations/<DIR name> (the demo layout) or beside the images; boxes are read as
0-based pixels (--one-based for PASCAL VOC files). --limit N evaluates N images spread over the folder.
Images without annotation are listed, not fatal. Ctrl-C cancels. --json prints the whole report
(table rows, threshold sweep, failures with boxes, skipped images). Methods (cam on a network with a
global max pooling head is the CAM paper's GMP variant):
${mapMethodHelp()}`

export const localizeCommand: Command = {
  summary: 'localization error (top-1/top-5, GT-known, MaxBoxAccV2) of map methods over an annotated folder',
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        model: { type: 'string' },
        data: { type: 'string' },
        method: { type: 'string' },
        annotations: { type: 'string' },
        threshold: { type: 'string', default: '0.2' },
        limit: { type: 'string' },
        'one-based': { type: 'boolean', default: false },
        failures: { type: 'string', default: '10' },
        json: { type: 'boolean', default: false },
        backend: { type: 'string' },
        ...executorOptions,
      },
    })
    applyExecutorOptions(values)
    if (!values.model || !values.data || !values.method) {
      console.error(usage)
      return 2
    }
    const threshold = fractionOption(values.threshold, '--threshold')
    const limit = wholeNumberOption(values.limit, '--limit', 0)
    const shownFailures = wholeNumberOption(values.failures, '--failures', 0)!
    const names = values.method.split(',').map((s) => s.trim()).filter(Boolean)
    names.forEach(mapMethod) // an unknown name fails before the model loads
    await withModel(values.model, { backend: values.backend, quiet: values.json }, async (model) => {
      const methods = names.map((n) => runnableMapMethod(model, n))
      const bar = progressBar(process.stderr)
      const abort = new AbortController()
      const onSignal = () => abort.abort()
      process.once('SIGINT', onSignal)
      try {
        const report = await evaluateLocalization(
          model,
          resolve(values.data!),
          { methods, annotations: values.annotations, threshold, limit, firstPixel: values['one-based'] ? 1 : 0 },
          { progress: (p) => bar.update(p.done, p.total ?? p.done), signal: abort.signal },
        )
        bar.end()
        console.log(values.json ? JSON.stringify(report, null, 2) : formatLocalization(report, shownFailures))
      } finally {
        bar.end()
        process.off('SIGINT', onSignal)
      }
    })
    return 0
  },
}

const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(1)}`)

/** The table (percentages), the best thresholds, skipped images and the first failures. */
export function formatLocalization(r: LocalizationReport, shownFailures: number): string {
  const lines = [
    `${r.dataDir}: ${r.images} images evaluated of ${r.listed}; annotations ${r.annotations ?? 'beside the images'}; boxes at ${Math.round(r.threshold * 100)} % of the map's max`,
    '',
    '| method | top-1 loc. err. | top-5 loc. err. | GT-known loc. | MaxBoxAccV2 | top-1 cls. err. | top-5 cls. err. |',
    '|---|---|---|---|---|---|---|',
    ...r.rows.map((row) => `| ${row.label} | ${pct(row.top1LocError)} | ${pct(row.top5LocError)} | ${pct(row.gtKnownLoc)} | ${pct(row.maxBoxAccV2)} | ${pct(row.top1ClsError)} | ${pct(row.top5ClsError)} |`),
    '',
    '(%; MaxBoxAccV2 = mean over IoU 0.3 / 0.5 / 0.7 of the best box accuracy over thresholds 0 … 0.99)',
  ]
  r.rows.forEach((row, i) => {
    const sweep = r.sweep[i]?.points ?? []
    const best = sweep.reduce((b, p) => (p.top1LocError < b.top1LocError ? p : b), sweep[0]!)
    const boxAcc = row.maxBoxAcc.map((m) => `${pct(m.accuracy)} at IoU ${m.iou} (τ ${m.threshold.toFixed(2)})`).join(', ')
    if (best) lines.push(`${row.label}: lowest top-1 loc. error ${pct(best.top1LocError)} % at τ ${best.threshold.toFixed(2)}; best BoxAcc ${boxAcc}`)
  })
  if (r.unknownClasses.length) lines.push('', `annotation classes the model does not have: ${r.unknownClasses.join(', ')}`)
  if (r.skipped.length) {
    lines.push('', `skipped ${r.skipped.length} image(s):`)
    for (const s of r.skipped.slice(0, 10)) lines.push(`  ${s.path}: ${s.reason}`)
    if (r.skipped.length > 10) lines.push(`  … and ${r.skipped.length - 10} more (--json lists them all)`)
  }
  if (shownFailures > 0 && r.failures.length) {
    lines.push('', `worst top-1 localization failures (of ${r.failureCounts.map((f) => `${f.count} ${f.method}`).join(', ')}):`)
    for (const row of r.rows) {
      for (const f of r.failures.filter((f) => f.method === row.method).slice(0, shownFailures)) {
        lines.push(`  ${row.label}  ${f.relPath}: ${f.reason}; predicted ${f.predictedName ?? f.predicted}, true ${f.labelName ?? f.label}`)
      }
    }
  }
  lines.push('', `${r.seconds.toFixed(1)} s, ${r.imagesPerSecond.toFixed(1)} images/s`)
  return lines.join('\n')
}
