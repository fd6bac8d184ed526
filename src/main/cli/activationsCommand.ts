import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { ConvscopeError } from '../../shared/api'
import { computeActivations } from '../engine/methods/activations'
import { writeNpy } from '../engine/store/npy'
import { withModel } from './engineSession'
import { applyExecutorOptions, EXECUTOR_USAGE, executorOptions } from './options'
import type { Command } from './index'

const usage = `usage: convscope activations --model DIR|FILE.onnx --image FILE --layer NAME [--json | --npy OUT.npy] [--backend NAME] ${EXECUTOR_USAGE}

The activations of one layer for one image.
  (default)  a summary: shape and the most active channels
  --json     shape, per-channel max and argmax (y, x), top-5 predictions
  --npy OUT  the full float32 array ([height, width, channels] or [units]) as a NumPy .npy file`

export const activationsCommand: Command = {
  summary: "one layer's activations for one image (summary, JSON or .npy)",
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        model: { type: 'string' },
        image: { type: 'string' },
        layer: { type: 'string' },
        json: { type: 'boolean', default: false },
        npy: { type: 'string' },
        backend: { type: 'string' },
        ...executorOptions,
      },
    })
    applyExecutorOptions(values)
    if (!values.model || !values.image || !values.layer) {
      console.error(usage)
      return 2
    }
    if (values.json && values.npy) throw new ConvscopeError('BAD_REQUEST', 'choose one of --json and --npy')
    const { model: modelDir, image, layer } = values
    await withModel(modelDir, { backend: values.backend, quiet: values.json }, async (model) => {
      const data = await computeActivations(model, layer, resolve(image))
      const spatial = data.shape.length === 3
      const width = spatial ? data.shape[1] : 1
      const channels = Array.from(data.channelMax, (max, c) => {
        const flat = data.channelArgmax[c]
        return { channel: c, max, y: Math.floor(flat / width), x: flat % width }
      })
      if (values.npy) {
        await writeNpy(resolve(values.npy), data.values, data.shape)
        console.log(`wrote ${values.npy}: float32 [${data.shape.join(', ')}]`)
      } else if (values.json) {
        console.log(JSON.stringify({ layer: data.layer, image: data.image, shape: data.shape, channels, predictions: data.predictions }, null, 2))
      } else {
        const top = [...channels].sort((a, b) => b.max - a.max).slice(0, 10)
        console.log(`${data.layer}: [${data.shape.join(', ')}] for ${data.image.path} (${data.image.width}×${data.image.height})`)
        for (const note of data.image.notes) console.log(`  note: ${note}`)
        console.log('most active channels:')
        for (const c of top) console.log(`  #${String(c.channel).padEnd(5)} max ${c.max.toFixed(4)}${spatial ? ` at (y ${c.y}, x ${c.x})` : ''}`)
        if (data.predictions.length) {
          console.log('predictions:')
          for (const p of data.predictions) console.log(`  ${(p.score * 100).toFixed(1).padStart(5)}%  ${p.label ?? `class ${p.index}`}`)
        }
      }
    })
    return 0
  },
}
