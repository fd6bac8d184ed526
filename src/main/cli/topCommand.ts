import { parseArgs } from 'node:util'
import { mkdir } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { ConvscopeError } from '../../shared/api'
import { resizeForModel } from '../engine/images/preprocess'
import { readImage } from '../engine/images/readImage'
import { cropMap, unitPatchMaps, type PatchMap } from '../engine/methods/neurons/guidedPatches'
import { PIXEL_METHOD_NAMES } from '../engine/pixels'
import { readManifest } from '../engine/scan/manifest'
import { topPatches, type TopPatch } from '../engine/scan/topPatches'
import { withModel } from './engineSession'
import type { Command } from './index'
import { wholeNumberOption } from './options'
import { writePatchGrid, type GridPatch } from './patchGrid'
import { progressBar } from './progressBar'

const usage = `usage: convscope top --scan DIR --layer NAME --unit U[,U...] [--count N] [--json]
                    [--guided [--method ${PIXEL_METHOD_NAMES.join('|')}] [--png OUT] [--scale S] [--model DIR] [--backend NAME]]

The images that activate one unit most, from a finished scan: rank, image, class, value, position (y, x)
in the layer's map, and the patch (the unit's receptive field there) in original-image pixels. --count N:
the first N (default all K of the scan).
  --guided     also each patch's guided-backprop map (Springenberg et al. 2015; --method picks another pixel
               method) for that unit at the scan's position, over the receptive field in network-input pixels,
               cached in the scan folder (guided/); the model is the scan's (--model DIR names its folder if moved)
  --png OUT    the figure: a row per unit, each top patch beside its map (0.5 + v / (2·max|v|)), each crop
               --scale times larger (default: cells of at least 64 pixels)`

type Row = { unit: number; patches: TopPatch[]; maps: PatchMap[] | null }

export const topCommand: Command = {
  summary: 'the top images and patches of units, from a scan, with their guided-backprop maps',
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        scan: { type: 'string' },
        layer: { type: 'string' },
        unit: { type: 'string' },
        count: { type: 'string' },
        json: { type: 'boolean', default: false },
        guided: { type: 'boolean', default: false },
        method: { type: 'string', default: 'guided' },
        png: { type: 'string' },
        scale: { type: 'string' },
        model: { type: 'string' },
        backend: { type: 'string' },
      },
    })
    if (!values.scan || !values.layer || values.unit === undefined) {
      console.error(usage)
      return 2
    }
    if (!values.guided && (values.png || values.model || values.scale)) throw new ConvscopeError('BAD_REQUEST', '--png, --scale and --model go with --guided (the figure shows the patches with their maps)')
    const units = values.unit.split(',').map((u) => wholeNumberOption(u.trim(), '--unit', 0)!)
    const count = wholeNumberOption(values.count, '--count')
    const scale = wholeNumberOption(values.scale, '--scale')
    const scanDir = resolve(values.scan)
    const layer = values.layer

    let rows: Row[]
    if (values.guided) {
      const manifest = await readManifest(scanDir)
      rows = await withModel(values.model ?? manifest.model.dir, { backend: values.backend, quiet: values.json }, async (model) => {
        const bar = progressBar(process.stderr)
        const out: Row[] = []
        try {
          for (const unit of units) {
            const done = out.reduce((n, r) => n + r.patches.length, 0)
            const total = units.length * Math.min(count ?? manifest.k, manifest.k)
            const signal = new AbortController().signal
            const { maps } = await unitPatchMaps(model, scanDir, { layer, unit, count, method: values.method! }, { signal, progress: (p) => bar.update(done + p.done, total) })
            out.push({ unit, patches: maps.map((m) => m.patch), maps })
          }
        } finally {
          bar.end()
        }
        return out
      })
    } else {
      rows = await Promise.all(units.map(async (unit) => ({ unit, patches: (await topPatches(scanDir, layer, unit)).patches.slice(0, count), maps: null })))
    }

    const png = values.png ? resolve(values.png) : null
    let size: { width: number; height: number } | null = null
    if (png) {
      const pre = (await readManifest(scanDir)).model.preprocessing
      await mkdir(dirname(png), { recursive: true })
      size = await writePatchGrid(png, await gridRows(rows, pre), scale ?? undefined)
    }

    if (values.json) {
      const json = rows.map((r) => ({ unit: r.unit, patches: r.patches.map((p, i) => ({ ...p, ...(r.maps ? { guided: mapSummary(r.maps[i]!) } : {}) })) }))
      const extra = { ...(values.guided ? { method: values.method } : {}), ...(png ? { png, ...size } : {}) }
      console.log(JSON.stringify(json.length === 1 ? { layer, ...json[0], ...extra } : { layer, units: json, ...extra }, null, 2))
      return 0
    }
    for (const r of rows) {
      console.log(`${layer} unit ${r.unit}: top ${r.patches.length}`)
      r.patches.forEach((p, i) => {
        const box = p.box ? `box x ${p.box.x.toFixed(1)} y ${p.box.y.toFixed(1)} ${p.box.width.toFixed(1)}×${p.box.height.toFixed(1)}` : 'no box'
        const m = r.maps?.[i]
        const map = m ? `  ${values.method} max |v| ${mapSummary(m).maxAbs.toExponential(2)}${m.cached ? ' (cached)' : ''}` : ''
        console.log(`${String(p.rank).padStart(4)}  ${p.value.toFixed(4).padStart(10)}  (y ${p.y}, x ${p.x})  ${box}  ${p.className ?? '-'}  ${p.path}${map}`)
      })
    }
    if (png) console.log(`wrote ${png} (${size!.width}×${size!.height}: ${rows.length} units × ${Math.max(...rows.map((r) => r.patches.length))} patches, each beside its ${values.method} map)`)
    return 0
  },
}

/** What --json tells of a map: its crop in network-input pixels, its largest |value|, whether it came from the cache. */
function mapSummary(m: PatchMap): { box: PatchMap['box']; maxAbs: number; cached: boolean } {
  let maxAbs = 0
  for (const v of m.values) maxAbs = Math.max(maxAbs, Math.abs(v))
  return { box: m.box, maxAbs, cached: m.cached }
}

/** The figure's cells: each patch's network-input pixels (the image preprocessed as the scan did) and map, over the crop. */
async function gridRows(rows: Row[], pre: Parameters<typeof resizeForModel>[1]): Promise<GridPatch[][]> {
  const [inputHeight, inputWidth] = pre.inputSize
  return Promise.all(
    rows.map((r) =>
      Promise.all(
        r.maps!.map(async (m) => {
          const { rgb } = await resizeForModel(await readImage(m.patch.path), pre)
          return { box: m.box, inputWidth, inputHeight, rgb: cropMap(rgb, inputWidth, m.box), map: m.values }
        }),
      ),
    ),
  )
}
