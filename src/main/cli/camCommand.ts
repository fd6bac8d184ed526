import { parseArgs } from 'node:util'
import { mkdir } from 'node:fs/promises'
import { basename, dirname, extname, join, resolve } from 'node:path'
import { ConvscopeError } from '../../shared/api'
import { classIndexOf, imageClassMaps, type ImageClassMap, type ImageMaps } from '../engine/localization/imageMaps'
import { bestIou } from '../engine/localization/boxes'
import { writeHeatmapPng } from '../engine/localization/heatmapImage'
import { mapMethodHelp, MAP_METHOD_NAMES, runnableMapMethod } from '../engine/maps'
import { withModel } from './engineSession'
import type { Command } from './index'
import { fractionOption, wholeNumberOption, applyExecutorOptions, EXECUTOR_USAGE, executorOptions } from './options'

const usage = `usage: convscope cam --model DIR|FILE.onnx --image FILE [--class C[,C...] | --top N] [--method ${MAP_METHOD_NAMES.join('|')}]
                    [--layer NAME] [--score logit|probability] [--threshold 0.2] [--annotations DIR] --out DIR [--json] [--backend NAME] ${EXECUTOR_USAGE}

Class maps of one image (the CAM paper's Fig. 4): for the top N predicted classes (default 5), or the
classes given (index, label or class id), the map of --method (default cam) drawn over the image as a
heat map with its box (white): the largest connected region above --threshold × the map's max. Ground-
truth boxes (green) are drawn when the image's annotation XML is found (beside it, or under the dataset's
annotations/; --annotations DIR names the folder). Writes DIR/<image>-<rank>-<class>.png per class and
prints classes, scores and boxes (0-based inclusive image pixels; --json: everything as JSON).
On a network with a global max pooling head, --method cam is the CAM paper's GMP variant. The maps explain
each class's logit; --score probability explains its softmax probability instead (gradient methods whose
definition allows it: not cam, not gradcampp). Methods:
${mapMethodHelp()}`

const fileSafe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_')

export const camCommand: Command = {
  summary: 'class maps (CAM, Grad-CAM, ...) of one image as heat-map PNGs with boxes',
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        model: { type: 'string' },
        image: { type: 'string' },
        class: { type: 'string' },
        top: { type: 'string' },
        method: { type: 'string', default: 'cam' },
        layer: { type: 'string' },
        score: { type: 'string', default: 'logit' },
        threshold: { type: 'string', default: '0.2' },
        annotations: { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean', default: false },
        backend: { type: 'string' },
        ...executorOptions,
      },
    })
    applyExecutorOptions(values)
    if (!values.model || !values.image || !values.out) {
      console.error(usage)
      return 2
    }
    if (values.class && values.top) throw new ConvscopeError('BAD_REQUEST', 'choose one of --class and --top')
    const top = wholeNumberOption(values.top, '--top') ?? 5
    const threshold = fractionOption(values.threshold, '--threshold')
    const score = values.score
    if (score !== 'logit' && score !== 'probability') throw new ConvscopeError('BAD_REQUEST', `--score must be logit or probability, got "${score}"`)
    const out = resolve(values.out)
    await withModel(values.model, { backend: values.backend, quiet: values.json }, async (model) => {
      const image = resolve(values.image!)
      const names = values.class?.split(',').map((c) => c.trim()).filter(Boolean) ?? []
      const result = await imageClassMaps(model, image, {
        method: runnableMapMethod(model, values.method!),
        classes: await Promise.all(names.map((c) => classIndexOf(model, c, dirname(dirname(image))))),
        top,
        threshold,
        annotations: values.annotations,
        layer: values.layer,
        score,
      })
      if (result.groundTruth?.error) console.error(`convscope cam: the annotation ${result.groundTruth.annotation} is not readable, so no ground truth is drawn: ${result.groundTruth.error}`)
      await mkdir(out, { recursive: true })
      const stem = fileSafe(basename(image, extname(image)))
      const files: string[] = []
      for (const m of result.maps) {
        const file = join(out, `${stem}-${m.rank}-${fileSafe(m.label ?? String(m.classIndex))}.png`)
        await writeHeatmapPng(file, result.image, m.normalized, m.box, truthOf(result, m))
        files.push(file)
      }
      console.log(values.json ? JSON.stringify(camJson(result, files), null, 2) : formatCam(result, files))
    })
    return 0
  },
}

/** The ground-truth boxes of the map's class. */
const truthOf = (r: ImageMaps, m: ImageClassMap) => r.groundTruth?.objects.filter((o) => o.classIndex === m.classIndex).map((o) => o.box) ?? []

/** A map's row: its class, scores, grid, value range, box, and the box's IoU with the class's ground truth (null: the image has none of it). */
function camRow(r: ImageMaps, m: ImageClassMap) {
  let min = Infinity
  let max = -Infinity
  for (const v of m.map.values) [min, max] = [Math.min(min, v), Math.max(max, v)]
  const truth = truthOf(r, m)
  return {
    rank: m.rank,
    classIndex: m.classIndex,
    label: m.label,
    probability: m.probability,
    score: m.map.score,
    gridHeight: m.map.height,
    gridWidth: m.map.width,
    min,
    max,
    box: m.box,
    iou: truth.length ? (m.box ? bestIou([m.box], truth) : 0) : null,
  }
}

/** The result without pixels: what --json prints. */
export function camJson(r: ImageMaps, files: string[]) {
  const truth = r.groundTruth?.objects ?? []
  return {
    image: r.image.facts.path,
    width: r.image.width,
    height: r.image.height,
    method: r.method,
    label: r.label,
    layer: r.layer,
    threshold: r.threshold,
    annotation: r.groundTruth?.annotation ?? null,
    truth: truth.map((o) => ({ name: o.name, classIndex: o.classIndex, box: o.box })),
    classes: r.maps.map((m, i) => ({ ...camRow(r, m), file: files[i] })),
  }
}

const boxText = (b: { xmin: number; ymin: number; xmax: number; ymax: number } | null) => (b ? `(${b.xmin}, ${b.ymin})-(${b.xmax}, ${b.ymax})` : 'none')

export function formatCam(r: ImageMaps, files: string[]): string {
  const json = camJson(r, files)
  const lines = [`${r.label} of ${json.image} (${json.width}×${json.height})${r.layer ? ` at ${r.layer}` : ''}, boxes at ${Math.round(r.threshold * 100)} % of the max`]
  if (json.annotation) lines.push(`ground truth (${json.annotation}): ${json.truth.map((o) => `${o.name} ${boxText(o.box)}`).join(', ') || 'no objects'}`)
  lines.push('')
  const header = ['rank', 'class', 'label', 'prob.', 'score', 'box (xmin, ymin)-(xmax, ymax)', ...(json.annotation ? ['IoU'] : []), 'file']
  const rows = json.classes.map((m) => [
    String(m.rank),
    String(m.classIndex),
    m.label ?? '',
    `${(m.probability * 100).toFixed(1)} %`,
    m.score.toFixed(2),
    boxText(m.box),
    ...(json.annotation ? [m.iou === null ? '' : m.iou.toFixed(2)] : []),
    m.file!,
  ])
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)))
  const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()
  lines.push(line(header), ...rows.map(line))
  return lines.join('\n')
}
