/**
 * The seed's localization experiment on the bundled demo networks (issue 5, item 6): a Table-2-style
 * comparison (Zhou et al. 2016) of map methods and of GAP vs GMP heads, over the annotated demo val split.
 *
 *   node --import tsx scripts/localizationTable.ts [--data .cache/demo-data/val] [--models resources/demo-models]
 *        [--threshold 0.2] [--limit N] [--nets gap,gmp,fc] [--backend wasm] [--json OUT.json]
 *
 * Runs: gap with CAM, Grad-CAM, Grad-CAM++ and gradient saliency (one pass); gmp with CAM (the CAM paper's
 * weighted sum over a global max pooling head) and Grad-CAM; fc with Grad-CAM. Prints the markdown table
 * (errors and accuracies in %), the threshold that minimises each row's top-1 localization error, and
 * the model ids, so that numbers in the docs can be tied to the networks that made them. --nets runs a
 * subset (e.g. gap in one process, gmp,fc in another: wasm uses one core per process). Generate the
 * data first with `node bin/convscope.mjs demo-data --out .cache/demo-data` (val = 1 400 images).
 */
import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { initBackend } from '../src/main/engine/backend'
import { evaluateLocalization, type LocalizationReport } from '../src/main/engine/localization/evaluate'
import { runnableMapMethod } from '../src/main/engine/maps'
import { loadModel } from '../src/main/engine/models/loadModel'
import { progressBar } from '../src/main/cli/progressBar'

const RUNS: { net: string; methods: string[] }[] = [
  { net: 'gap', methods: ['cam', 'gradcam', 'gradcampp', 'backprop'] },
  { net: 'gmp', methods: ['cam', 'gradcam'] },
  { net: 'fc', methods: ['gradcam'] },
]

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: '.cache/demo-data/val' },
    models: { type: 'string', default: 'resources/demo-models' },
    threshold: { type: 'string', default: '0.2' },
    limit: { type: 'string' },
    backend: { type: 'string', default: 'wasm' },
    nets: { type: 'string', default: RUNS.map((r) => r.net).join(',') },
    json: { type: 'string' },
  },
})
const nets = values.nets.split(',').map((s) => s.trim())
for (const n of nets) if (!RUNS.some((r) => r.net === n)) throw new Error(`--nets: unknown network "${n}"; known: ${RUNS.map((r) => r.net).join(', ')}`)

const backend = await initBackend({ forced: values.backend })
const threshold = Number(values.threshold)
const limit = values.limit === undefined ? undefined : Number(values.limit)
const reports: { net: string; modelId: string; report: LocalizationReport }[] = []
for (const run of RUNS.filter((r) => nets.includes(r.net))) {
  const model = await loadModel(resolve(values.models, run.net))
  try {
    const methods = run.methods.map((m) => runnableMapMethod(model, m))
    console.error(`${run.net} (${model.info.id}): ${methods.map((m) => m.label).join(', ')}`)
    const bar = progressBar(process.stderr)
    const report = await evaluateLocalization(model, resolve(values.data), { methods, threshold, limit }, { progress: (p) => bar.update(p.done, p.total ?? p.done), signal: new AbortController().signal })
    bar.end()
    reports.push({ net: run.net, modelId: model.info.id, report })
  } finally {
    model.dispose()
  }
}

const pct = (v: number | null) => (v === null ? '–' : (v * 100).toFixed(1))
const first = reports[0]!.report
const lines = [
  `${first.images} images of ${first.dataDir} (${first.skipped.length} skipped), boxes at ${Math.round(threshold * 100)} % of the map's max, backend ${backend.active}`,
  '',
  '| network | method | top-1 loc. err. | top-5 loc. err. | GT-known loc. | MaxBoxAccV2 | top-1 cls. err. | top-5 cls. err. | best τ (top-1 loc. err.) |',
  '|---|---|---|---|---|---|---|---|---|',
]
for (const { net, report } of reports) {
  report.rows.forEach((row, i) => {
    const points = report.sweep[i]!.points
    const best = points.reduce((b, p) => (p.top1LocError < b.top1LocError ? p : b), points[0]!)
    lines.push(
      `| \`${net}\` | ${row.label} | ${pct(row.top1LocError)} | ${pct(row.top5LocError)} | ${pct(row.gtKnownLoc)} | ${pct(row.maxBoxAccV2)} | ${pct(row.top1ClsError)} | ${pct(row.top5ClsError)} | ${best.threshold.toFixed(2)} (${pct(best.top1LocError)}) |`,
    )
  })
}
lines.push('', `models: ${reports.map((r) => `${r.net} ${r.modelId}`).join(', ')}`)
lines.push(`time: ${reports.map((r) => `${r.net} ${r.report.seconds.toFixed(0)} s (${r.report.imagesPerSecond.toFixed(1)} img/s)`).join(', ')}`)
console.log(lines.join('\n'))
if (values.json) await writeFile(resolve(values.json), JSON.stringify(reports, null, 2))
