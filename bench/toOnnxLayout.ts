/**
 * Is a TF.js model written as ONNX NHWC throughout (executors/toOnnx: Conv and pools wrapped in Transposes that
 * onnxruntime's optimizer cancels) as fast on onnxruntime as the same network written NCHW throughout?
 *
 *   node --import tsx bench/toOnnxLayout.ts [--models gap,mobilenetv2] [--repeats 9] [--out FILE]
 *
 * Per model, the same weights in both layouts, one onnxruntime session each (1 intra-op thread, optimization
 * 'all', as the executor runs them), batch 16 of seeded values in [0, 1):
 * - gap: resources/demo-models/gap written by toOnnx vs its PyTorch port (scripts/onnx/portDemoModels.py →
 *   test/.cache/demo-onnx/gap, NCHW; the test suite writes it).
 * - mobilenetv2: test/helpers/mobileNetV2Layers.ts (α = 1, 224², 1000 classes, seeded) written by toOnnx vs the
 *   same folder read by scripts/reference/tfjs_torch.py (PyTorch, from the Keras layer definitions) and exported
 *   by torch.onnx (NCHW); both under .cache/bench/.
 * Two workloads: the output alone, and the output plus every ReLU / Clip activation (a scan of every layer: the
 *   NHWC graph returns maps NHWC, the NCHW graph's maps are moved to NHWC in JS by the executor's moveChannelAxis,
 *   timed in). Runs interleaved, warm-up twice, best and median of --repeats; outputs compared (max|a−b|/max|b|).
 * Also: the Transpose and NCHWc reorder nodes left in each graph after optimization (onnxruntime's saved
 * optimized model). The 1-minute load average is recorded before and after (the machine is shared).
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import ort from 'onnxruntime-node'
import { initBackend } from '../src/main/engine/backend'
import { moveChannelAxis } from '../src/main/engine/executors/onnxRuntime'
import { loadModel } from '../src/main/engine/models/loadModel'
import { ModelProtoType } from '../src/main/engine/models/onnx/proto'
import { withGraphOutputs } from '../src/main/engine/models/onnx/addOutputs'
import { Rng } from '../src/main/engine/rng'
import { mobileNetV2Layers } from '../test/helpers/mobileNetV2Layers'
import { relativeError } from '../test/helpers/torchvisionReference'

const ROOT = join(import.meta.dirname, '..')
const PYTHON = '/usr/bin/python3'
const CACHE = join(ROOT, '.cache/bench')

const { values } = parseArgs({
  options: { models: { type: 'string', default: 'gap,mobilenetv2' }, repeats: { type: 'string', default: '9' }, out: { type: 'string' } },
})
const repeats = Number(values.repeats)
const round = (x: number, digits = 1) => Number(x.toFixed(digits))
const load = () => round(loadavg()[0]!, 2)
const log = (s: string) => process.stderr.write(s + '\n')

interface Pair {
  name: string
  /** The TF.js folder (written NHWC by toOnnx) and the NCHW .onnx of the same weights. */
  folder: string
  nchw: string
  size: number
}

/** Export the TF.js layers folder through tfjs_torch.py as an NCHW .onnx (dynamic batch), once. */
function exportNchw(folder: string, out: string, size: number): void {
  if (existsSync(out)) return
  const script = `
import sys, json, torch
sys.path.insert(0, ${JSON.stringify(join(ROOT, 'scripts/reference'))})
from tfjs_torch import load_tfjs_layers_model
m = load_tfjs_layers_model(${JSON.stringify(folder)})
out_layer = m.layer_names[-1]
class Nchw(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.m = m
    def forward(self, x):
        return self.m.forward_nchw(x, [out_layer])[out_layer]
torch.onnx.export(Nchw(), torch.zeros(1, 3, ${size}, ${size}), ${JSON.stringify(out)}, input_names=['input'], output_names=['output'],
                  dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}}, opset_version=13)
`
  const run = spawnSync(PYTHON, ['-c', script], { encoding: 'utf8' })
  if (run.status !== 0) throw new Error(`torch export failed: ${run.stderr}`)
}

async function pairs(): Promise<Pair[]> {
  const out: Pair[] = []
  for (const name of values.models!.split(',')) {
    if (name === 'gap') {
      const nchw = join(ROOT, 'test/.cache/demo-onnx/gap/model.onnx')
      if (!existsSync(nchw)) throw new Error(`${nchw} is missing: run scripts/onnx/portDemoModels.py --out test/.cache/demo-onnx (or the unit tests)`)
      out.push({ name, folder: join(ROOT, 'resources/demo-models/gap'), nchw, size: 64 })
    } else if (name === 'mobilenetv2') {
      const folder = join(CACHE, 'mobilenetv2-layers')
      if (!existsSync(join(folder, 'model.json'))) {
        log(`building ${folder}`)
        await mobileNetV2Layers(folder, { size: 224, alpha: 1, classes: 1000, seed: 1 })
      }
      const nchw = join(CACHE, 'mobilenetv2-layers.nchw.onnx')
      exportNchw(folder, nchw, 224)
      out.push({ name, folder, nchw, size: 224 })
    } else throw new Error(`--models: unknown ${name}`)
  }
  return out
}

const options = (extra: ort.InferenceSession.SessionOptions = {}): ort.InferenceSession.SessionOptions => ({
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  ...extra,
})

/** Graph tensors of the ReLU / Clip nodes that no other ReLU / Clip reads (the activation maps a scan of every layer fetches). */
function activations(bytes: Uint8Array): string[] {
  const m = ModelProtoType.toObject(ModelProtoType.decode(bytes)) as { graph: { node: { op_type: string; input: string[]; output: string[] }[] } }
  const acts = m.graph.node.filter((n) => n.op_type === 'Relu' || n.op_type === 'Clip')
  const read = new Set(acts.map((n) => n.input[0]!))
  return acts.map((n) => n.output[0]!).filter((t) => !read.has(t))
}

/** Transpose and NCHWc reorder nodes left after onnxruntime's optimizations. */
async function optimizedCounts(bytes: Uint8Array, dir: string, label: string): Promise<Record<string, number>> {
  const file = join(dir, `${label}.optimized.onnx`)
  const s = await ort.InferenceSession.create(bytes, options({ optimizedModelFilePath: file }))
  await s.release()
  const m = ModelProtoType.toObject(ModelProtoType.decode(await readFile(file))) as { graph: { node: { op_type: string }[] } }
  const count = (op: string) => m.graph.node.filter((n) => n.op_type === op).length
  return { nodes: m.graph.node.length, Transpose: count('Transpose'), ReorderInput: count('ReorderInput'), ReorderOutput: count('ReorderOutput') }
}

/** NHWC → NCHW (the input of the NCHW graph; made once, outside the timing). */
function toNchw(data: Float32Array, [n, h, w, c]: readonly number[]): Float32Array {
  const out = new Float32Array(data.length)
  for (let b = 0; b < n!; b++) for (let p = 0; p < h! * w!; p++) for (let k = 0; k < c!; k++) out[(b * c! + k) * h! * w! + p] = data[(b * h! * w! + p) * c! + k]!
  return out
}

async function measure(p: Pair, dir: string) {
  const model = await loadModel(p.folder)
  const nhwcBytes = await model.runtimeSource!.bytes()
  const nchwBytes = new Uint8Array(await readFile(p.nchw))
  const rng = Rng.from(3, "layout")
  const n = 16
  const nhwc = Float32Array.from({ length: n * p.size * p.size * 3 }, () => rng.uniform(0, 1))
  const nchw = toNchw(nhwc, [n, p.size, p.size, 3])
  const feeds = {
    nhwc: { [model.runtimeSource!.input.name]: new ort.Tensor('float32', nhwc, [n, p.size, p.size, 3]) },
    nchw: { input: new ort.Tensor('float32', nchw, [n, 3, p.size, p.size]) },
  }
  const acts = { nhwc: activations(nhwcBytes), nchw: activations(nchwBytes) }
  const sessions = {
    nhwc: await ort.InferenceSession.create(nhwcBytes, options()),
    nchw: await ort.InferenceSession.create(nchwBytes, options()),
    nhwcAll: await ort.InferenceSession.create(withGraphOutputs(nhwcBytes, acts.nhwc), options()),
    nchwAll: await ort.InferenceSession.create(withGraphOutputs(nchwBytes, acts.nchw), options()),
  }
  const outNhwc = sessions.nhwc.outputNames[0]!
  const outNchw = sessions.nchw.outputNames[0]!
  const a = (await sessions.nhwc.run(feeds.nhwc))[outNhwc]!.data as Float32Array
  const b = (await sessions.nchw.run(feeds.nchw))[outNchw]!.data as Float32Array
  const runners: Record<string, () => Promise<void>> = {
    'NHWC written, output': async () => void (await sessions.nhwc.run(feeds.nhwc)),
    'NCHW, output': async () => void (await sessions.nchw.run(feeds.nchw)),
    'NHWC written, + every activation': async () => void (await sessions.nhwcAll.run(feeds.nhwc)),
    'NCHW, + every activation (+ JS to NHWC)': async () => {
      const r = await sessions.nchwAll.run(feeds.nchw)
      for (const t of acts.nchw) moveChannelAxis(r[t]!.data as Float32Array, r[t]!.dims)
    },
  }
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(runners).map((k) => [k, []]))
  for (const run of Object.values(runners)) for (let w = 0; w < 2; w++) await run()
  const loadBefore = load()
  for (let r = 0; r < repeats; r++) {
    // Alternate the order each round, so drift in the machine's load hits both layouts alike.
    const order = r % 2 ? Object.entries(runners).reverse() : Object.entries(runners)
    for (const [k, run] of order) {
      const t0 = performance.now()
      await run()
      times[k]!.push(performance.now() - t0)
    }
  }
  const loadAfter = load()
  const rows = Object.entries(times).map(([k, ms]) => {
    const sorted = [...ms].sort((x, y) => x - y)
    return { run: k, bestMs: round(sorted[0]!), medianMs: round(sorted[sorted.length >> 1]!), bestImgPerS: round((1000 * n) / sorted[0]!) }
  })
  const result = {
    model: p.name,
    batch: n,
    input: p.size,
    activations: { nhwc: acts.nhwc.length, nchw: acts.nchw.length },
    outputRelError: relativeError(a, b),
    optimized: { nhwc: await optimizedCounts(nhwcBytes, dir, `${p.name}-nhwc`), nchw: await optimizedCounts(nchwBytes, dir, `${p.name}-nchw`) },
    loadBefore,
    loadAfter,
    rows,
  }
  for (const s of Object.values(sessions)) await s.release()
  model.dispose()
  return result
}

async function main() {
  await initBackend({ forced: 'wasm' })
  await mkdir(CACHE, { recursive: true })
  const dir = await mkdtemp(join(tmpdir(), 'convscope-layout-'))
  const results = []
  try {
    for (const p of await pairs()) {
      log(`${p.name}: measuring`)
      const r = await measure(p, dir)
      results.push(r)
      console.log(`\n${r.model} ${r.input}², batch ${r.batch}, 1 thread; outputs agree to ${r.outputRelError.toExponential(1)}; load ${r.loadBefore} → ${r.loadAfter}`)
      console.log(`  activations fetched: NHWC ${r.activations.nhwc}, NCHW ${r.activations.nchw}; after optimization NHWC ${JSON.stringify(r.optimized.nhwc)}, NCHW ${JSON.stringify(r.optimized.nchw)}`)
      for (const row of r.rows) console.log(`  ${row.run.padEnd(42)} best ${String(row.bestMs).padStart(7)} ms  median ${String(row.medianMs).padStart(7)} ms  ${row.bestImgPerS} img/s`)
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  const out = values.out ?? join(ROOT, `bench/results/toOnnxLayout-${new Date().toISOString().slice(0, 10)}.json`)
  await writeFile(out, JSON.stringify({ date: new Date().toISOString(), cpu: cpus()[0]?.model, cores: cpus().length, ortVersion: ort.env.versions.common, results }, null, 2) + '\n')
  log(`wrote ${out}`)
}

await main()
