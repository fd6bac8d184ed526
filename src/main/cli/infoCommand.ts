import { parseArgs } from 'node:util'
import type { LayerInfo, ModelInfo } from '../../shared/api'
import { withModel } from './engineSession'
import { describeResize } from '../../shared/resizePolicy'
import { applyExecutorOptions, EXECUTOR_USAGE, executorOptions } from './options'
import type { Command } from './index'

const usage = `usage: convscope info <model> [--json] [--backend NAME] ${EXECUTOR_USAGE}

<model>: a TF.js model folder (model.json), an .onnx file or a folder with one.
A row per layer: name, type, output shape, parameters and receptive field
(size, jump, start per axis, in input pixels; ~ marks the enclosing field of merged branches).`

export const infoCommand: Command = {
  summary: 'layers of a model with output shapes, parameters and receptive fields',
  usage,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { json: { type: 'boolean', default: false }, backend: { type: 'string' }, ...executorOptions },
    })
    applyExecutorOptions(values)
    if (positionals.length !== 1) {
      console.error(usage)
      return 2
    }
    await withModel(positionals[0], { backend: values.backend, quiet: values.json, announce: true }, async (model) => {
      console.log(values.json ? JSON.stringify(model.info, null, 2) : formatModelInfo(model.info))
    })
    return 0
  },
}

const shape = (s: (number | null)[]) => `[${s.map((d) => d ?? '?').join(', ')}]`
const pair = (p: [number, number]) => (p[0] === p[1] ? `${p[0]}` : `${p[0]}×${p[1]}`)

function receptiveFieldText(layer: LayerInfo): [string, string, string] {
  const rf = layer.receptiveField
  if (!rf) return ['-', '-', '-']
  return [`${rf.exact ? '' : '~'}${pair(rf.size)}`, pair(rf.jump), pair(rf.start)]
}

export function formatModelInfo(info: ModelInfo): string {
  const header = ['layer', 'type', 'output', 'params', 'rf size', 'jump', 'start']
  const rows = info.layers.map((l) => [l.name, l.type, shape(l.outputShape), l.params.toLocaleString('en'), ...receptiveFieldText(l)])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()
  const pre = info.preprocessing
  const lines = [
    `${info.name}  (${info.format} model, id ${info.id})`,
    `folder:        ${info.dir}`,
    `input:         ${info.inputShape.join('×')}  ${pre.channelOrder}, range [${pre.range.join(', ')}], mean [${pre.mean.join(', ')}], std [${pre.std.join(', ')}], resize ${describeResize(pre)}${info.preprocessingDefaulted ? '  (defaults: no convscope.json)' : ''}`,
    `labels:        ${info.labels ? `${info.labels.length} classes` : 'none'}`,
    `parameters:    ${info.totalParams.toLocaleString('en')}`,
    ...info.warnings.map((w) => `warning:       ${w}`),
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ]
  return lines.join('\n')
}
