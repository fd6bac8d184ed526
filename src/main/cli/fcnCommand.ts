/**
 * `convscope fcn`: the fully-convolutional form of a model of any format (src/main/engine/models/convolutionalHead.ts)
 * run on one image at a larger input size, printed as the grid of the most probable class per position,
 * optionally with a PNG of that grid over the image.
 */
import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import sharp from 'sharp'
import { ConvscopeError } from '../../shared/api'
import { atInputSize, inputToImage, toInputTensor, toModelInput } from '../engine/images/preprocess'
import { readImage } from '../engine/images/readImage'
import { classMapGrid, type FcnGrid, type FcnHead } from '../engine/models/classGrid'
import { convolutionalHead } from '../engine/models/convolutionalHead'
import { withModel } from './engineSession'
import { applyExecutorOptions, EXECUTOR_USAGE, executorOptions } from './options'
import type { Command } from './index'

const usage = `usage: convscope fcn --model DIR|FILE.onnx --image FILE [--size S | --size HxW] [--png OUT.png] [--json] [--backend NAME] ${EXECUTOR_USAGE}

Rewrites the model's flatten → dense head as convolutions (a global-pooling head: removes the pooling) and
runs it on the image resized to S×S (default: twice the training input size). Each output position
classifies one window of the training input size (global-pooling head: one unit of the last conv map, which
sees its receptive field); the grid of the most probable class per position is printed with class names,
each position's window and receptive field in input pixels with --json.
  --png OUT   the image at the input size with each position's area tinted in its class's colour
  --json      the whole result (probabilities per position and class, windows, receptive fields)`

/** Distinct colours for class tints (Kelly's 22 colours of maximum contrast, white and black left out). */
const PALETTE: [number, number, number][] = [
  [243, 195, 0], [135, 86, 146], [243, 132, 0], [161, 202, 241], [190, 0, 50], [194, 178, 128], [132, 132, 130],
  [0, 136, 86], [230, 143, 172], [0, 103, 165], [249, 150, 121], [96, 78, 151], [246, 166, 0], [179, 68, 108],
  [220, 211, 0], [136, 45, 23], [141, 182, 0], [101, 69, 34], [226, 88, 34], [43, 61, 38],
]
export const classColour = (k: number): [number, number, number] => PALETTE[k % PALETTE.length]!
const hex = (c: [number, number, number]) => `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`

function parseSize(text: string | undefined, training: [number, number]): [number, number] {
  if (text === undefined) return [2 * training[0], 2 * training[1]]
  const m = /^(\d+)(?:x(\d+))?$/.exec(text.trim())
  if (!m) throw new ConvscopeError('BAD_REQUEST', `--size must be S or HxW in pixels, got "${text}"`)
  const h = Number(m[1])
  const w = m[2] === undefined ? h : Number(m[2])
  if (h < training[0] || w < training[1] || h > 4096 || w > 4096) {
    throw new ConvscopeError('BAD_REQUEST', `--size ${h}x${w}: it must be at least the training input size ${training[0]}x${training[1]} and at most 4096`)
  }
  return [h, w]
}

export const fcnCommand: Command = {
  summary: 'fully-convolutional class map: the most probable class per position on a larger input',
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        model: { type: 'string' },
        image: { type: 'string' },
        size: { type: 'string' },
        png: { type: 'string' },
        json: { type: 'boolean', default: false },
        backend: { type: 'string' },
        ...executorOptions,
      },
    })
    applyExecutorOptions(values)
    if (!values.model || !values.image) {
      console.error(usage)
      return 2
    }
    await withModel(values.model, { backend: values.backend, quiet: values.json }, async (model) => {
      const fcn = convolutionalHead(model)
      const size = parseSize(values.size, fcn.trainingInputSize)
      const pre = atInputSize(model.info.preprocessing, size)
      const image = await readImage(resolve(values.image!))
      const input = await toModelInput(image, pre)
      const x = toInputTensor(input)
      let grid: FcnGrid
      try {
        grid = await classMapGrid(fcn, x)
      } finally {
        x.dispose()
      }
      const labels = model.info.labels
      const name = (k: number) => labels?.[k] ?? `class ${k}`
      if (values.png) await writeGridPng(resolve(values.png), input.rgb, grid)
      if (values.json) {
        console.log(
          JSON.stringify(
            {
              model: model.info.dir,
              image: image.facts.path,
              head: fcn.head,
              rewrite: fcn.steps,
              outputs: fcn.outputs,
              inputSize: grid.inputSize,
              trainingInputSize: fcn.trainingInputSize,
              height: grid.height,
              width: grid.width,
              classes: grid.classes,
              labels,
              stride: grid.stride,
              receptiveField: grid.receptiveField,
              cells: grid.cells.map((c, i) => {
                const w = c.window
                return {
                  y: c.y,
                  x: c.x,
                  class: grid.argmax[i],
                  label: labels?.[grid.argmax[i]!] ?? null,
                  probability: grid.maxValue[i],
                  window: w,
                  windowOnImage: inputToImage(input.geometry, { x: w.left, y: w.top, width: w.right - w.left + 1, height: w.bottom - w.top + 1 }),
                  field: c.field,
                  probabilities: Array.from(grid.values.subarray(i * grid.classes, (i + 1) * grid.classes)),
                }
              }),
              png: values.png ? resolve(values.png) : null,
            },
            null,
            2,
          ),
        )
      } else {
        console.log(formatGrid(grid, name, { model: model.info.dir, image: image.facts.path, steps: fcn.steps, training: fcn.trainingInputSize, outputs: fcn.outputs, head: fcn.head }))
        if (values.png) console.log(`\nwrote ${values.png}: each position's area tinted in its class's colour (${[...new Set(grid.argmax)].map((k) => `${name(k)} ${hex(classColour(k))}`).join(', ')})`)
      }
    })
    return 0
  },
}

/** The argmax grid as text: per position the class index and its probability, then the legend. */
export function formatGrid(
  grid: FcnGrid,
  name: (k: number) => string,
  about: { model: string; image: string; steps: string[]; training: [number, number]; outputs: 'probabilities' | 'scores'; head: FcnHead },
): string {
  const rf = grid.receptiveField
  const lines = [
    `${about.model} on ${about.image} at ${grid.inputSize[0]}×${grid.inputSize[1]} (training input ${about.training[0]}×${about.training[1]})`,
    ...about.steps.map((s) => `  rewrite: ${s}`),
    `${grid.height}×${grid.width} positions, ${about.head === 'flatten-dense' ? `one ${about.training[0]}×${about.training[1]} window each` : 'one unit of the last conv map each'}, ${grid.stride[0]}×${grid.stride[1]} px apart` +
      (rf ? `; receptive field ${rf.size[0]}×${rf.size[1]} px${rf.exact ? '' : ' (enclosing)'}` : ''),
    '',
    `most probable class per position (class:${about.outputs === 'probabilities' ? 'probability %' : 'score'}):`,
  ]
  const cell = (i: number) => `${grid.argmax[i]}:${about.outputs === 'probabilities' ? Math.round(grid.maxValue[i]! * 100) : grid.maxValue[i]!.toFixed(2)}`
  const width = Math.max(...Array.from(grid.argmax, (_, i) => cell(i).length))
  lines.push(`      ${Array.from({ length: grid.width }, (_, x) => `x${x}`.padStart(width)).join(' ')}`)
  for (let y = 0; y < grid.height; y++) {
    lines.push(`  y${String(y).padEnd(3)}${Array.from({ length: grid.width }, (_, x) => cell(y * grid.width + x).padStart(width)).join(' ')}`)
  }
  const counts = new Map<number, number>()
  for (const k of grid.argmax) counts.set(k, (counts.get(k) ?? 0) + 1)
  lines.push('', 'classes:')
  for (const [k, n] of [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])) lines.push(`  ${String(k).padStart(3)}  ${name(k)} (${n} position${n > 1 ? 's' : ''})`)
  return lines.join('\n')
}

/** Each input pixel takes the colour of the position whose window centre is nearest (a stride×stride tile), blended 50 % over the image. */
async function writeGridPng(path: string, rgb: Uint8Array, grid: FcnGrid): Promise<void> {
  const [H, W] = grid.inputSize
  const out = new Uint8Array(rgb.length)
  const first = grid.cells[0]!.window
  const centre0 = [(first.top + first.bottom) / 2, (first.left + first.right) / 2]
  const nearest = (p: number, axis: 0 | 1, n: number) => {
    const s = grid.stride[axis]
    return s > 0 ? Math.min(n - 1, Math.max(0, Math.round((p - centre0[axis]!) / s))) : 0
  }
  for (let y = 0; y < H; y++) {
    const gy = nearest(y, 0, grid.height)
    for (let x = 0; x < W; x++) {
      const gx = nearest(x, 1, grid.width)
      const c = classColour(grid.argmax[gy * grid.width + gx]!)
      const i = (y * W + x) * 3
      for (let k = 0; k < 3; k++) out[i + k] = Math.round(0.5 * rgb[i + k]! + 0.5 * c[k]!)
    }
  }
  await sharp(out, { raw: { width: W, height: H, channels: 3 } }).png().toFile(path)
}
