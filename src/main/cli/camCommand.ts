import { parseArgs } from 'node:util'
import { mkdir } from 'node:fs/promises'
import { basename, extname, join, resolve } from 'node:path'
import { ConvscopeError } from '../../shared/api'
import { imageClassMaps, type ImageMaps } from '../engine/localization/imageMaps'
import { writeHeatmapPng } from '../engine/localization/heatmapImage'
import { localizationMethod } from '../engine/localization/maxPoolCam'
import { MAP_METHOD_NAMES } from '../engine/maps/types'
import { withModel } from './engineSession'
import type { Command } from './index'
import { fractionOption, wholeNumberOption } from './options'

const usage = `usage: convscope cam --model DIR --image FILE [--class C[,C...] | --top N] [--method ${MAP_METHOD_NAMES.join('|')}]
                    [--layer NAME] [--threshold 0.2] [--annotations DIR] --out DIR [--json] [--backend NAME]

Class maps of one image (the CAM paper's Fig. 4): for the top N predicted classes (default 5), or the
classes given (index, label or class id), the map of --method (default cam) drawn over the image as a
heat map with its box (white): the largest connected region above --threshold × the map's max. Ground-
truth boxes (green) are drawn when the image's annotation XML is found (beside it, or under the dataset's
annotations/; --annotations DIR names the folder). Writes DIR/<image>-<rank>-<class>.png per class and
prints classes, scores and boxes (0-based inclusive image pixels; --json: everything as JSON).
On a network with a global max pooling head, --method cam is the CAM paper's GMP variant.`

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
        threshold: { type: 'string', default: '0.2' },
        annotations: { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean', default: false },
        backend: { type: 'string' },
      },
    })
    if (!values.model || !values.image || !values.out) {
      console.error(usage)
      return 2
    }
    if (values.class && values.top) throw new ConvscopeError('BAD_REQUEST', 'choose one of --class and --top')
    const top = wholeNumberOption(values.top, '--top') ?? 5
    const threshold = fractionOption(values.threshold, '--threshold')
    const out = resolve(values.out)
    await withModel(values.model, { backend: values.backend, quiet: values.json }, async (model) => {
      const method = localizationMethod(model, values.method)
      const result = await imageClassMaps(model, values.image!, {
        method,
        classes: values.class?.split(',').map((c) => c.trim()).filter(Boolean),
        top,
        threshold,
        annotations: values.annotations,
        layer: values.layer,
      })
      await mkdir(out, { recursive: true })
      const stem = fileSafe(basename(result.image, extname(result.image)))
      const files: string[] = []
      for (const m of result.maps) {
        const file = join(out, `${stem}-${m.rank}-${fileSafe(m.label ?? String(m.classIndex))}.png`)
        const truth = result.truth.filter((o) => o.classIndex === m.classIndex).map((o) => o.box)
        await writeHeatmapPng(file, result, m.normalized, m.box, truth)
        files.push(file)
      }
      console.log(values.json ? JSON.stringify(camJson(result, files), null, 2) : formatCam(result, files))
    })
    return 0
  },
}

/** The result without pixels: what --json prints. */
export function camJson(r: ImageMaps, files: string[]) {
  return {
    image: r.image,
    width: r.width,
    height: r.height,
    method: r.method,
    label: r.label,
    layer: r.layer,
    threshold: r.threshold,
    annotation: r.annotation,
    truth: r.truth.map((o) => ({ name: o.name, classIndex: o.classIndex, box: o.box })),
    classes: r.maps.map(({ normalized: _, ...m }, i) => ({ ...m, file: files[i] })),
  }
}

const boxText = (b: { xmin: number; ymin: number; xmax: number; ymax: number } | null) => (b ? `(${b.xmin}, ${b.ymin})-(${b.xmax}, ${b.ymax})` : 'none')

export function formatCam(r: ImageMaps, files: string[]): string {
  const lines = [`${r.label} of ${r.image} (${r.width}×${r.height})${r.layer ? ` at ${r.layer}` : ''}, boxes at ${Math.round(r.threshold * 100)} % of the max`]
  if (r.annotation) lines.push(`ground truth (${r.annotation}): ${r.truth.map((o) => `${o.name} ${boxText(o.box)}`).join(', ') || 'no objects'}`)
  lines.push('')
  const header = ['rank', 'class', 'label', 'prob.', 'score', 'box (xmin, ymin)-(xmax, ymax)', ...(r.annotation ? ['IoU'] : []), 'file']
  const rows = r.maps.map((m, i) => [
    String(m.rank),
    String(m.classIndex),
    m.label ?? '',
    `${(m.probability * 100).toFixed(1)} %`,
    m.score.toFixed(2),
    boxText(m.box),
    ...(r.annotation ? [m.iou === null ? '' : m.iou.toFixed(2)] : []),
    files[i]!,
  ])
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)))
  const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()
  lines.push(line(header), ...rows.map(line))
  return lines.join('\n')
}
