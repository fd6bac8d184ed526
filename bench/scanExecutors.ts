/**
 * Scan speed of one model on the two executors (issue 11), in one process, runs alternating, best of N:
 * 1. `scan`: whole scans (runScan: decode, forward, reduce, top-K) over N demo images, every default scan layer,
 *    tfjs vs onnxruntime; whether their top-K images and positions agree.
 * 2. `step`: a scan's compute on one seeded batch: the tfjs forward + spatialMaxima; onnxruntime returning the
 *    full maps + spatialMaxOf in JS (the first onnxruntime slice's path); onnxruntime reducing inside its graph
 *    (runOnnxRuntimeMaxima, what scans use now); and, as the floor, onnxruntime to the output alone. The two
 *    onnxruntime scan paths must give identical maxima.
 * The load average is printed beside the numbers (this machine is shared).
 *
 *   node --import tsx bench/scanExecutors.ts [--model resnet18|mobilenet_v2|DIR] [--images 32] [--repeats 3]
 *     [--batch 16] [--parts scan,step] [--backend wasm]
 *
 * --model: a name in test/.cache/torchvision (scripts/onnx/exportTorchvision.py) or any model folder / .onnx.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as tf from '@tensorflow/tfjs'
import { initBackend } from '../src/main/engine/backend'
import { generateDemoDataset } from '../src/main/engine/demo'
import { forwardExecutor, runOnnxRuntime, runOnnxRuntimeMaxima, runtimeThreads } from '../src/main/engine/executors/onnxRuntime'
import { listImageFolder } from '../src/main/engine/images/imageFolder'
import { OUTPUT, type LoadedModel } from '../src/main/engine/model'
import { loadModel } from '../src/main/engine/models/loadModel'
import { layerFileStem, topkFiles, type ScanLayer } from '../src/main/engine/scan/manifest'
import { runScan } from '../src/main/engine/scan/runScan'
import { describeScanLayer } from '../src/main/engine/scan/scanLayer'
import { spatialMaxima, spatialMaxOf, type SpatialMax } from '../src/main/engine/scan/spatialMax'
import { readNpy } from '../src/main/engine/store/npy'
import { defaultScanLayers } from '../src/shared/scanLayers'
import { TORCHVISION_CACHE } from '../test/helpers/torchvisionReference'

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet18' },
    images: { type: 'string', default: '32' },
    repeats: { type: 'string', default: '3' },
    batch: { type: 'string', default: '16' },
    parts: { type: 'string', default: 'scan,step' },
    backend: { type: 'string', default: 'wasm' },
  },
})
const repeats = Number(values.repeats)
const batch = Number(values.batch)
const parts = values.parts!.split(',')
const load = () => `load ${loadavg()[0]!.toFixed(2)}`
const best = (xs: number[]) => Math.max(...xs)

await initBackend({ forced: values.backend as 'wasm' })
const modelPath = existsSync(join(TORCHVISION_CACHE, values.model!)) ? join(TORCHVISION_CACHE, values.model!) : values.model!
const model = await loadModel(modelPath)
const layerNames = defaultScanLayers(model.info)
const layers = layerNames.map((l) => describeScanLayer(model, l))
const [h, w] = model.info.preprocessing.inputSize
console.log(
  `${model.info.name} ${h}×${w}, ${layers.length} scan layers, batch ${batch}, ${availableParallelism()} cores, onnxruntime ${runtimeThreads()} threads, ` +
    `tfjs-${tf.getBackend()}, ${forwardExecutor(model, 'auto')} by default; ${load()}`,
)

async function scanPart(scratch: string): Promise<void> {
  const count = Number(values.images)
  await generateDemoDataset({ out: join(scratch, 'demo'), count: { train: 0, val: Math.ceil(count / 14) }, size: 256, seed: 0 })
  const images = (await listImageFolder(join(scratch, 'demo', 'val'))).images.map((i) => i.path).slice(0, count)
  const rates: Record<string, number[]> = { tfjs: [], onnxruntime: [] }
  for (let r = 0; r < repeats; r++) {
    for (const executor of ['tfjs', 'onnxruntime'] as const) {
      const m = await runScan({ model, images, layers: layerNames, k: 8, batchSize: batch, out: join(scratch, `${executor}-${r}`), keepMaxima: false, executor, checkpointMs: 1e9 })
      rates[executor]!.push(m.timing.imagesPerSecond)
      console.log(`  scan ${r} ${m.executor}: ${images.length} images in ${m.timing.seconds.toFixed(2)} s, ${m.timing.imagesPerSecond.toFixed(2)} images/s; ${load()}`)
    }
  }
  let same = true
  for (const l of layerNames) {
    const f = topkFiles(layerFileStem(l))
    for (const file of [f.images, f.yx]) {
      const [a, b] = await Promise.all(['tfjs-0', 'onnxruntime-0'].map((d) => readNpy(join(scratch, d, file)).then((n) => Array.from(n.data as ArrayLike<number>))))
      if (a!.some((v, i) => v !== b![i])) same = false
    }
  }
  const [t, o] = [best(rates.tfjs!), best(rates.onnxruntime!)]
  console.log(`scan, best images/s: tfjs ${t.toFixed(2)}, onnxruntime ${o.toFixed(2)} (×${(o / t).toFixed(2)}); top-K images and positions identical: ${same}`)
}

/** The scan's compute on one batch, three ways. */
const steps: Record<string, (m: LoadedModel, data: Float32Array, shape: number[], ls: readonly ScanLayer[]) => Promise<SpatialMax[]>> = {
  'tfjs forward + spatialMaxima': async (m, data, shape, ls) => {
    const x = tf.tensor4d(data, shape as [number, number, number, number])
    const outs = m.forward(x, ls.map((l) => l.name))
    try {
      return await spatialMaxima(outs)
    } finally {
      tf.dispose([x, ...outs])
    }
  },
  'onnxruntime full maps + JS max': async (m, data, shape, ls) => {
    const { layers: maps } = await runOnnxRuntime(m, { data, shape }, ls.map((l) => l.name))
    return maps.map((v) => spatialMaxOf(v.data, v.shape[0]!, v.data.length / (v.shape[0]! * v.shape.at(-1)!), v.shape.at(-1)!))
  },
  'onnxruntime maxima in the graph': (m, data, shape, ls) => runOnnxRuntimeMaxima(m, { data, shape }, ls),
  // The floor: the same forward to the model's output alone.
  'onnxruntime output only': async (m, data, shape) => (await runOnnxRuntime(m, { data, shape }, [OUTPUT]), []),
}

async function stepPart(): Promise<void> {
  const shape = [batch, h, w, 3]
  const data = tf.tidy(() => tf.randomUniform(shape, -2, 2, 'float32', 1).dataSync() as Float32Array)
  const ms: Record<string, number[]> = {}
  const results: Record<string, SpatialMax[]> = {}
  for (const [name, step] of Object.entries(steps)) results[name] = await step(model, data, shape, layers) // warm-up: sessions, kernels
  for (let r = 0; r < repeats; r++) {
    for (const [name, step] of Object.entries(steps)) {
      const start = performance.now()
      await step(model, data, shape, layers)
      ;(ms[name] ??= []).push(performance.now() - start)
    }
    console.log(`  step ${r}: ${Object.entries(ms).map(([n, t]) => `${n} ${t.at(-1)!.toFixed(0)} ms`).join(', ')}; ${load()}`)
  }
  const [tfjs, full, graph, floor] = Object.keys(steps).map((n) => (batch * 1000) / Math.min(...ms[n]!)) as [number, number, number, number]
  const [a, b] = [results['onnxruntime full maps + JS max']!, results['onnxruntime maxima in the graph']!]
  const identical = a.every((x, i) => x.max.every((v, j) => v === b[i]!.max[j]) && x.arg.every((v, j) => v === b[i]!.arg[j]))
  const argAgree = (() => {
    let same = 0
    let all = 0
    results['tfjs forward + spatialMaxima']!.forEach((x, i) => x.arg.forEach((v, j) => ((all += 1), (same += v === b[i]!.arg[j] ? 1 : 0))))
    return same / all
  })()
  console.log(
    `step, best images/s: tfjs ${tfjs.toFixed(2)}, onnxruntime full maps ${full.toFixed(2)}, onnxruntime graph maxima ${graph.toFixed(2)} ` +
      `(×${(graph / tfjs).toFixed(2)} tfjs, ×${(graph / full).toFixed(2)} full maps); the onnxruntime paths identical: ${identical}; ` +
      `argmax agreement with tfjs ${(argAgree * 100).toFixed(3)} %; onnxruntime to the output alone ${floor.toFixed(2)}`,
  )
}

const scratch = await mkdtemp(join(tmpdir(), 'convscope-bench-exec-'))
try {
  if (parts.includes('step')) await stepPart()
  if (parts.includes('scan')) await scanPart(scratch)
} finally {
  model.dispose()
  await rm(scratch, { recursive: true, force: true })
}
