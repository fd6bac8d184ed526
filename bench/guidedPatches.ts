/**
 * Guided backprop on a unit's top patches (methods/neurons/guidedPatches.ts, what the Units view and the unit card
 * ask for): the bundled demo `gap` network, a scan of conv_last (top 8) over 280 demo images (20 per class, 128²
 * JPEGs, .cache/bench/), on the backend convscope picks. For each of --units units: the first call (every patch's
 * image read, preprocessed and differentiated, the maps written to the scan folder) and the second (all from the
 * cache), ms per unit, median over the units. The 1-minute load average is printed beside (the machine may be shared).
 *
 *   node --import tsx bench/guidedPatches.ts [--units 8] [--method guided]
 */
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { parseParams } from '../src/shared/api'
import { initBackend } from '../src/main/engine/backend'
import { noopContext } from '../src/main/engine/context'
import { listImageFolder } from '../src/main/engine/images/imageFolder'
import { getGuidedPatches } from '../src/main/engine/methods/neurons/guidedPatches'
import { loadModel } from '../src/main/engine/models/loadModel'
import { MANIFEST_FILE } from '../src/main/engine/scan/manifest'
import { PATCH_MAP_CACHE_DIR } from '../src/main/engine/scan/patchMapCache'
import { runScan } from '../src/main/engine/scan/runScan'
import { BENCH_CACHE, demoImages } from './demoImages'

const { values } = parseArgs({ options: { units: { type: 'string', default: '8' }, method: { type: 'string', default: 'guided' } } })
const units = Number(values.units)
const median = (v: readonly number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!
const load1 = () => loadavg()[0]!.toFixed(2)

const backend = await initBackend({})
const model = await loadModel(resolve(import.meta.dirname, '../resources/demo-models/gap'))
const data = await demoImages(128, 20)
const scanDir = join(BENCH_CACHE, 'guided-patches-scan')
if (!existsSync(join(scanDir, MANIFEST_FILE))) {
  const folder = await listImageFolder(data)
  await runScan({ model, images: folder.images.map((i) => i.path), root: folder.root, layers: ['conv_last'], k: 8, out: scanDir, checkpointMs: 1e9 })
}
await rm(join(scanDir, PATCH_MAP_CACHE_DIR), { recursive: true, force: true })

const time = async (unit: number) => {
  const t = performance.now()
  const r = await getGuidedPatches(model, parseParams('getGuidedPatches', { modelId: model.info.id, scanDir, layer: 'conv_last', unit, method: values.method }), noopContext())
  return { ms: performance.now() - t, patches: r.patches.length, cached: r.cached }
}
// Warm-up on a unit not measured (first kernels, first image decode).
await time(units)
await rm(join(scanDir, PATCH_MAP_CACHE_DIR), { recursive: true, force: true })
const loadBefore = load1()
const first: number[] = []
const second: number[] = []
let patches = 0
for (let u = 0; u < units; u++) {
  const a = await time(u)
  const b = await time(u)
  if (a.cached !== 0 || b.cached !== b.patches) throw new Error(`unit ${u}: cached ${a.cached} then ${b.cached} of ${b.patches}`)
  first.push(a.ms)
  second.push(b.ms)
  patches = a.patches
}
console.log(`backend ${backend.active}, ${values.method}, demo gap conv_last, ${patches} patches per unit, ${units} units, load ${loadBefore} → ${load1()}`)
console.log(`first call (computed, cached): median ${median(first).toFixed(0)} ms per unit (${(median(first) / patches).toFixed(0)} ms per patch), min ${Math.min(...first).toFixed(0)}, max ${Math.max(...first).toFixed(0)}`)
console.log(`second call (from the cache):  median ${median(second).toFixed(1)} ms per unit`)
model.dispose()
