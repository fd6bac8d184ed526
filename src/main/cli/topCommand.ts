import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { topPatches } from '../engine/scan/topPatches'
import type { Command } from './index'
import { wholeNumberOption } from './options'

const usage = `usage: convscope top --scan DIR --layer NAME --unit U [--json]

The images that activate one unit most, from a finished scan: rank, image, class, value, position (y, x)
in the layer's map, and the patch (the unit's receptive field there) in original-image pixels.`

export const topCommand: Command = {
  summary: 'the top images and patches of one unit, from a scan',
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: { scan: { type: 'string' }, layer: { type: 'string' }, unit: { type: 'string' }, json: { type: 'boolean', default: false } },
    })
    if (!values.scan || !values.layer || values.unit === undefined) {
      console.error(usage)
      return 2
    }
    const unit = wholeNumberOption(values.unit, '--unit', 0)!
    const { patches } = await topPatches(resolve(values.scan), values.layer, unit)
    if (values.json) {
      console.log(JSON.stringify({ layer: values.layer, unit, patches }, null, 2))
      return 0
    }
    console.log(`${values.layer} unit ${unit}: top ${patches.length}`)
    for (const p of patches) {
      const box = p.box ? `box x ${p.box.x.toFixed(1)} y ${p.box.y.toFixed(1)} ${p.box.width.toFixed(1)}×${p.box.height.toFixed(1)}` : 'no box'
      console.log(`${String(p.rank).padStart(4)}  ${p.value.toFixed(4).padStart(10)}  (y ${p.y}, x ${p.x})  ${box}  ${p.className ?? '-'}  ${p.path}`)
    }
    return 0
  },
}
