/**
 * Scan throughput of an ONNX model on the two executors (issue 11): torchvision resnet18 (test/.cache/torchvision,
 * scripts/onnx/exportTorchvision.py; its 224² preprocessing) over N demo images, every default scan layer, batch
 * 16, one process, runs interleaved (tfjs, onnxruntime, tfjs, onnxruntime, ...): images per second of each run
 * (manifest timing) and whether the top-K images / positions agree.
 *
 *   node --import tsx bench/scanExecutors.ts [--images 30] [--repeats 2] [--backend wasm]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { initBackend } from '../src/main/engine/backend'
import { generateDemoDataset } from '../src/main/engine/demo'
import { listImageFolder } from '../src/main/engine/images/imageFolder'
import { loadModel } from '../src/main/engine/models/loadModel'
import { layerFileStem, topkFiles } from '../src/main/engine/scan/manifest'
import { runScan } from '../src/main/engine/scan/runScan'
import { readNpy } from '../src/main/engine/store/npy'
import { defaultScanLayers } from '../src/shared/scanLayers'
import { TORCHVISION_CACHE } from '../test/helpers/torchvisionReference'

const { values } = parseArgs({ options: { images: { type: 'string', default: '30' }, repeats: { type: 'string', default: '2' }, backend: { type: 'string', default: 'wasm' } } })
const count = Number(values.images)
await initBackend({ forced: values.backend as 'wasm' })
const scratch = await mkdtemp(join(tmpdir(), 'convscope-bench-exec-'))
try {
  await generateDemoDataset({ out: join(scratch, 'demo'), count: { train: 0, val: Math.ceil(count / 12) }, size: 256, seed: 0 })
  const images = (await listImageFolder(join(scratch, 'demo', 'val'))).images.map((i) => i.path).slice(0, count)
  const model = await loadModel(join(TORCHVISION_CACHE, 'resnet18'))
  const layers = defaultScanLayers(model.info)
  console.log(`resnet18 ${model.info.preprocessing.inputSize.join('×')}, ${images.length} images, ${layers.length} layers, batch 16, ${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(2)}`)
  const rates: Record<string, number[]> = { tfjs: [], onnxruntime: [] }
  for (let r = 0; r < Number(values.repeats); r++) {
    for (const executor of ['tfjs', 'onnxruntime'] as const) {
      const out = join(scratch, `${executor}-${r}`)
      const m = await runScan({ model, images, layers, k: 8, batchSize: 16, out, keepMaxima: false, executor, checkpointMs: 1e9 })
      rates[executor]!.push(m.timing.imagesPerSecond)
      console.log(`  run ${r} ${m.executor}: ${m.timing.seconds.toFixed(2)} s, ${m.timing.imagesPerSecond.toFixed(2)} images/s`)
    }
  }
  let same = true
  for (const l of layers) {
    const f = topkFiles(layerFileStem(l))
    for (const file of [f.images, f.yx]) {
      const [a, b] = await Promise.all(['tfjs-0', 'onnxruntime-0'].map((d) => readNpy(join(scratch, d, file)).then((n) => Array.from(n.data as ArrayLike<number>))))
      if (a!.some((v, i) => v !== b![i])) same = false
    }
  }
  const best = (xs: number[]) => Math.max(...xs)
  console.log(`best images/s: tfjs ${best(rates.tfjs!).toFixed(2)}, onnxruntime ${best(rates.onnxruntime!).toFixed(2)} (×${(best(rates.onnxruntime!) / best(rates.tfjs!)).toFixed(2)}); top-K images and positions identical: ${same}`)
  model.dispose()
} finally {
  await rm(scratch, { recursive: true, force: true })
}
