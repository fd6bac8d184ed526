import { parseArgs } from 'node:util'
import { mkdir } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { PixelMap } from '../../shared/api'
import { PIXEL_METHOD_LIST, PIXEL_METHOD_NAMES } from '../engine/pixels'
import { imagePixelMap } from '../engine/pixels/imagePixelMap'
import { writePixelMapPng } from '../engine/pixels/pixelMapPng'
import { writeNpy } from '../engine/store/npy'
import { withModel } from './engineSession'
import type { Command } from './index'
import { applyExecutorOptions, EXECUTOR_USAGE, executorOptions } from './options'
import { hasTarget, TARGET_USAGE, targetFromFlags, targetOptions } from './targetOptions'

const usage = `usage: convscope saliency --model DIR|FILE.onnx --image FILE --method ${PIXEL_METHOD_NAMES.join('|')}
                         ${TARGET_USAGE}
                         [--layer NAME] [--json] [--npy FILE] [--png FILE] [--backend NAME] ${EXECUTOR_USAGE}

The map of d target / d input for one image, on the network input's grid (the lecture's "from a neuron back to
the pixels"), with the method's backward rule at every ReLU of the network (R: the gradient from above, f: the
ReLU's input). A unit at its max is located on the image first, then held fixed. --layer: guided-gradcam's
Grad-CAM layer (default: a unit's own layer, else the last spatial layer before the head).
--npy FILE: the raw signed map, height × width × 3 float32 (RGB order). --png FILE: three panels, the signed map
as RGB (grey = 0), |v| (max over colours) in grey, and |v| over the input image. Prints the target, its value and
the map's range (--json: as JSON). Methods:
${PIXEL_METHOD_LIST.map((m) => `  ${m.name.padEnd(15)} ${m.label}: ${m.rule}; ${m.otherActivations}`).join('\n')}`

export const saliencyCommand: Command = {
  summary: 'gradient, deconvnet, guided-backprop and guided Grad-CAM maps of a class or unit (PNG, npy)',
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        model: { type: 'string' },
        image: { type: 'string' },
        method: { type: 'string', default: 'guided' },
        layer: { type: 'string' },
        json: { type: 'boolean', default: false },
        npy: { type: 'string' },
        png: { type: 'string' },
        backend: { type: 'string' },
        ...targetOptions,
        ...executorOptions,
      },
    })
    applyExecutorOptions(values)
    if (!values.model || !values.image || !hasTarget(values)) {
      console.error(usage)
      return 2
    }
    await withModel(values.model, { backend: values.backend, quiet: values.json }, async (model) => {
      const image = resolve(values.image!)
      const target = await targetFromFlags(model, values, dirname(dirname(image)))
      const { map, inputRgb } = await imagePixelMap(model, { image, method: values.method!, target, layer: values.layer })
      const files: { npy?: string; png?: string } = {}
      if (values.npy) {
        files.npy = resolve(values.npy)
        await mkdir(dirname(files.npy), { recursive: true })
        await writeNpy(files.npy, map.values, [map.height, map.width, 3])
      }
      if (values.png) {
        files.png = resolve(values.png)
        await mkdir(dirname(files.png), { recursive: true })
        await writePixelMapPng(files.png, map.values, map.width, map.height, inputRgb)
      }
      const summary = saliencyJson(image, map, files)
      console.log(values.json ? JSON.stringify(summary, null, 2) : formatSaliency(summary))
    })
    return 0
  },
}

/** The map without its values: what --json prints. */
export function saliencyJson(image: string, map: PixelMap, files: { npy?: string; png?: string }) {
  let min = Infinity
  let max = -Infinity
  let peak = 0
  for (const v of map.values) [min, max, peak] = [Math.min(min, v), Math.max(max, v), Math.max(peak, Math.abs(v))]
  return {
    image,
    method: map.method,
    label: map.label,
    target: map.target,
    height: map.height,
    width: map.width,
    min,
    max,
    maxAbs: peak,
    milliseconds: map.milliseconds,
    npy: files.npy ?? null,
    png: files.png ?? null,
  }
}

function formatSaliency(s: ReturnType<typeof saliencyJson>): string {
  const t = s.target
  const box = t.receptiveField ? `, receptive field x ${t.receptiveField.x}..${t.receptiveField.x + t.receptiveField.width - 1}, y ${t.receptiveField.y}..${t.receptiveField.y + t.receptiveField.height - 1}` : ''
  return [
    `${s.label} of ${s.image} (${s.width}×${s.height} input) in ${s.milliseconds.toFixed(0)} ms`,
    `target: ${t.description} = ${t.value.toPrecision(5)}${box}`,
    `map: min ${s.min.toExponential(3)}, max ${s.max.toExponential(3)}`,
    ...(s.npy ? [`npy: ${s.npy}`] : []),
    ...(s.png ? [`png: ${s.png}`] : []),
  ].join('\n')
}
