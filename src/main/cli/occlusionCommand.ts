import { parseArgs } from 'node:util'
import { mkdir } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { ConvscopeError } from '../../shared/api'
import { readImage } from '../engine/images/readImage'
import { toModelInput } from '../engine/images/preprocess'
import { OCCLUSION_FILLS, type OcclusionFill } from '../engine/occlusion/fills'
import { occlusionMap, type OcclusionResult } from '../engine/occlusion/occlusionMap'
import { occlusionDrop, writeOcclusionPng } from '../engine/occlusion/occlusionImage'
import { writeNpy } from '../engine/store/npy'
import { planTarget } from '../engine/targets'
import { withModel } from './engineSession'
import type { Command } from './index'
import { applyExecutorOptions, EXECUTOR_USAGE, executorOptions, wholeNumberOption } from './options'
import { progressBar } from './progressBar'
import { hasTarget, TARGET_USAGE, targetFromFlags, targetOptions } from './targetOptions'

const FILLS = Object.keys(OCCLUSION_FILLS) as OcclusionFill[]

const usage = `usage: convscope occlusion --model DIR|FILE.onnx --image FILE ${TARGET_USAGE}
                          [--size 8] [--stride 4] [--fill ${FILLS.join('|')}] [--batch 64]
                          [--json] [--npy FILE] [--png FILE] [--backend NAME] ${EXECUTOR_USAGE}

Occlusion (Zeiler & Fergus 2014): a square of --size network-input pixels slides over the image with its
top-left corner at (row · stride, col · stride), for rows = ⌊(H − size) / stride⌋ + 1 (no partial last
position), and the target is read on each occluded copy: a class's logit or probability, a unit's max over
space of that copy (recomputed, not the unoccluded image's position), a unit at a position, its mean, or a
direction. --batch copies go through one forward pass (onnxruntime where the model has an ONNX form, else
tfjs). The square is filled with
${FILLS.map((f) => `  ${f.padEnd(5)} ${OCCLUSION_FILLS[f]}`).join('\n')}
Prints the target's value on the image and on the copies, and where covering the image lowers it most.
--npy writes the rows × cols values (float32); --png the image beside the drop (value − occluded value)
over it, min–max normalised in jet (red: the largest drop); --json prints everything, values included.`

export const occlusionCommand: Command = {
  summary: 'occlusion map of one image (Zeiler & Fergus): a sliding square, the target read on each copy',
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        model: { type: 'string' },
        image: { type: 'string' },
        ...targetOptions,
        size: { type: 'string', default: '8' },
        stride: { type: 'string', default: '4' },
        fill: { type: 'string', default: 'grey' },
        batch: { type: 'string', default: '64' },
        json: { type: 'boolean', default: false },
        npy: { type: 'string' },
        png: { type: 'string' },
        backend: { type: 'string' },
        ...executorOptions,
      },
    })
    applyExecutorOptions(values)
    if (!values.model || !values.image || !hasTarget(values)) {
      console.error(usage)
      return 2
    }
    const fill = values.fill as OcclusionFill
    if (!FILLS.includes(fill)) throw new ConvscopeError('BAD_REQUEST', `--fill must be one of ${FILLS.join(', ')}, got "${values.fill}"`)
    const size = wholeNumberOption(values.size, '--size')!
    const stride = wholeNumberOption(values.stride, '--stride')!
    const batch = wholeNumberOption(values.batch, '--batch')!
    if (batch > 1024) throw new ConvscopeError('BAD_REQUEST', `--batch must be at most 1024, got ${batch}`)
    await withModel(values.model, { backend: values.backend, quiet: values.json }, async (model) => {
      const path = resolve(values.image!)
      const plan = planTarget(model, await targetFromFlags(model, values, dirname(dirname(path))))
      const image = await readImage(path)
      const input = await toModelInput(image, model.info.preprocessing)
      const bar = progressBar(process.stderr)
      const started = performance.now()
      let result: OcclusionResult
      try {
        result = await occlusionMap(model, input, plan, { size, stride, fill, batch }, { signal: new AbortController().signal, progress: (p) => p.total !== null && p.total > batch && bar.update(p.done, p.total) })
      } finally {
        bar.end()
      }
      const milliseconds = performance.now() - started
      const files: { npy?: string; png?: string } = {}
      if (values.npy) {
        files.npy = resolve(values.npy)
        await mkdir(dirname(files.npy), { recursive: true })
        await writeNpy(files.npy, result.values, [result.grid.rows, result.grid.cols])
      }
      if (values.png) {
        files.png = resolve(values.png)
        await mkdir(dirname(files.png), { recursive: true })
        await writeOcclusionPng(files.png, image, input.geometry, result.grid, occlusionDrop(result.values, result.resolved.value))
      }
      const json = occlusionJson(path, result, milliseconds, files)
      console.log(values.json ? JSON.stringify(json, null, 2) : formatOcclusion(json, result))
    })
    return 0
  },
}

/** Where covering the image lowers the target most: the position and its square in input pixels (edges). */
function largestDrop(r: OcclusionResult) {
  let best = 0
  for (let i = 1; i < r.values.length; i++) if (r.values[i]! < r.values[best]!) best = i
  const row = Math.floor(best / r.grid.cols)
  const col = best % r.grid.cols
  return { row, col, drop: r.resolved.value - r.values[best]!, square: { x: col * r.grid.stride, y: row * r.grid.stride, width: r.grid.size, height: r.grid.size } }
}

/** What --json prints. */
export function occlusionJson(image: string, r: OcclusionResult, milliseconds: number, files: { npy?: string; png?: string }) {
  return {
    image,
    target: r.resolved,
    fill: r.fill,
    size: r.grid.size,
    stride: r.grid.stride,
    rows: r.grid.rows,
    cols: r.grid.cols,
    inputHeight: r.grid.height,
    inputWidth: r.grid.width,
    executor: r.executor,
    milliseconds,
    largestDrop: largestDrop(r),
    values: Array.from(r.values),
    ...files,
  }
}

/** The text report: the target, the grid, the largest drop, and the map itself when it is small enough to read. */
function formatOcclusion(json: ReturnType<typeof occlusionJson>, r: OcclusionResult): string {
  const d = json.largestDrop
  const g = (v: number) => v.toPrecision(4)
  const lines = [
    `${json.target.description} on ${json.image}: ${g(json.target.value)}`,
    `square ${json.size} px, stride ${json.stride}: ${json.rows}×${json.cols} positions on a ${json.inputHeight}×${json.inputWidth} input, ${json.executor}, ${Math.round(json.milliseconds)} ms`,
    `fill ${json.fill}: ${OCCLUSION_FILLS[r.fill]}`,
    `occluded values ${g(Math.min(...json.values))} … ${g(Math.max(...json.values))}; the largest drop, ${g(d.drop)}, with the square at row ${d.row}, col ${d.col} (input x ${d.square.x}…${d.square.x + d.square.width - 1}, y ${d.square.y}…${d.square.y + d.square.height - 1})`,
  ]
  if (json.cols <= 16 && json.rows <= 16) {
    lines.push('', `the target's value with the square at each position (rows × cols):`)
    for (let row = 0; row < json.rows; row++) lines.push(json.values.slice(row * json.cols, (row + 1) * json.cols).map((v) => g(v).padStart(10)).join(''))
  }
  if (json.npy) lines.push(`wrote ${json.npy}`)
  if (json.png) lines.push(`wrote ${json.png}`)
  return lines.join('\n')
}
