/**
 * Measurements for issue 11's design (nothing here is wired into convscope): how fast onnxruntime-node runs the
 * same .onnx as convscope's tfjs graph executor, what inner outputs cost on it, where PyTorch stands, and memory.
 *
 *   node --import tsx bench/onnxRuntimeForward.ts [--models resnet18,mobilenet_v2,gap] [--repeats 5]
 *                                                 [--skip-torch] [--skip-memory] [--out FILE]
 *
 * 1. forward: per model, batch 16 and 1, one process, runs interleaved (so drift hits every runner), median:
 *    convscope (loadModel + forward to OUTPUT, tfjs wasm, single-threaded) vs onnxruntime InferenceSession on
 *    the same file with intraOpNumThreads 1 and 2 (graphOptimizationLevel 'all'); logits compared (max|a−b|/max|b|).
 * 2. inner outputs (batch 16): onnxruntime with extra graph outputs (withGraphOutputs: an encoded GraphProto
 *    appended to the bytes, weights never decoded): logits only, + the middle ReLU/Clip, only that one fetched,
 *    + every ReLU/Clip; the time to touch tensor.data and to reduce every map per channel (max + argmax) in JS;
 *    convscope's forward of the same tensors for comparison.
 *    Threads vs processes: 1 process × 1 or 2 onnxruntime threads vs 2 processes × 1 thread, batch 16, started
 *    together (fresh child processes): images per second over the span.
 * 3. torch: /usr/bin/python3 times the PyTorch module on the same input (set_num_threads 1 and 2): torchvision
 *    models built by scripts/onnx/exportTorchvision.py's build() (seeded, BN calibrated: the weights the .onnx was
 *    exported from), the demo network by scripts/onnx/portDemoModels.py's load(); its logits are compared with
 *    onnxruntime's, which is what says the weights are equal.
 * 4. memory: fresh child processes open resnet50 in convscope (tfjs wasm) or an onnxruntime session: RSS, wasm
 *    heap, before / after opening / after a batch-16 forward.
 * Models: test/.cache/torchvision/<name> (scripts/onnx/exportTorchvision.py) and test/.cache/demo-onnx/gap
 * (scripts/onnx/portDemoModels.py); the test suite writes both.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as tf from '@tensorflow/tfjs'
import ort from 'onnxruntime-node'
import { initBackend } from '../src/main/engine/backend'
import { OUTPUT, type LoadedModel } from '../src/main/engine/model'
import { loadModel } from '../src/main/engine/models/loadModel'
import { readOnnxModel } from '../src/main/engine/models/onnx'
import { Rng } from '../src/main/engine/rng'
import { TORCHVISION_CACHE, relativeError, withGraphOutputs } from '../test/helpers/torchvisionReference'

const ROOT = join(import.meta.dirname, '..')
const PYTHON = '/usr/bin/python3'
const DEMO_ONNX = join(ROOT, 'test/.cache/demo-onnx')

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'resnet18,mobilenet_v2,gap' },
    repeats: { type: 'string', default: '5' },
    'skip-torch': { type: 'boolean', default: false },
    'skip-memory': { type: 'boolean', default: false },
    out: { type: 'string' },
    'memory-probe': { type: 'string' }, // internal: the child process of the memory check ('tfjs' | 'ort')
    model: { type: 'string' },
    'process-probe': { type: 'string' }, // internal: a child of the threads-vs-processes check (model name)
    threads: { type: 'string' },
    runs: { type: 'string' },
    'start-at': { type: 'string' },
  },
})
const repeats = Number(values.repeats)

interface Net {
  name: string
  dir: string
  file: string
  size: number
  /** Input value range: the demo network takes [0, 1] (its probabilities saturate to 0 / 1 on wider inputs). */
  range: readonly [number, number]
  /** Repeats × this: the demo network's batch takes milliseconds, so it needs more runs for a stable median. */
  repeatScale: number
}
function net(name: string): Net {
  const dir = name === 'gap' ? join(DEMO_ONNX, 'gap') : join(TORCHVISION_CACHE, name)
  return { name, dir, file: join(dir, 'model.onnx'), ...(name === 'gap' ? { size: 64, range: [0, 1], repeatScale: 10 } : { size: 224, range: [-2, 2], repeatScale: 1 }) }
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!
const round = (x: number, digits = 1) => Number(x.toFixed(digits))
const load = () => loadavg().map((x) => round(x, 2))
const log = (s: string) => process.stderr.write(s + '\n')

/** A seeded NCHW batch in the model's input range (an ImageNet-normalized image spans about [-2, 2.6]). */
function randomNchw(n: number, size: number, seed: number, range: readonly [number, number]): { data: Float32Array; dims: number[] } {
  const rng = Rng.from('onnxRuntimeForward', seed)
  const data = new Float32Array(n * 3 * size * size)
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform(range[0], range[1])
  return { data, dims: [n, 3, size, size] }
}
const toNhwc = (x: { data: Float32Array; dims: number[] }) => tf.tidy(() => tf.transpose(tf.tensor4d(x.data, x.dims as [number, number, number, number]), [0, 2, 3, 1]) as tf.Tensor4D)

function ortOptions(threads: number, spin = true): ort.InferenceSession.SessionOptions {
  const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' }
  // By default idle pool threads spin-wait for the next op; off, they yield the core (to other processes).
  return spin ? options : { ...options, extra: { session: { intra_op: { allow_spinning: '0' } } } }
}

type Runner = () => Promise<void>
/** Warm-up twice, then `count` rounds with every runner once per round (interleaved); ms per run. */
async function timeInterleaved(runners: Record<string, Runner>, count: number): Promise<Record<string, number[]>> {
  const times: Record<string, number[]> = {}
  for (const [name, run] of Object.entries(runners)) {
    await run()
    await run()
    times[name] = []
  }
  for (let r = 0; r < count; r++) {
    for (const [name, run] of Object.entries(runners)) {
      const t0 = performance.now()
      await run()
      times[name]!.push(performance.now() - t0)
    }
  }
  return times
}
function summarize(times: Record<string, number[]>, batch: number): Record<string, { medianMs: number; imgPerS: number; ms: number[] }> {
  return Object.fromEntries(
    Object.entries(times).map(([k, v]) => [k, { medianMs: round(median(v)), imgPerS: round((1000 * batch) / median(v)), ms: v.map((t) => round(t)) }]),
  )
}

// 1. Forward throughput

/**
 * The tensor the executors are compared on: the graph output, or the input of a final Softmax (the demo network's
 * probabilities saturate to exactly 0 / 1 on random inputs, which would hide any difference).
 */
function compareTensor(file: string): string {
  const m = readOnnxModel(file)
  const out = m.outputs[0]!.name
  const last = m.nodes.find((node) => node.outputs.includes(out))
  return last?.opType === 'Softmax' ? last.inputs[0]! : out
}

async function forwardSection(n: Net, model: LoadedModel, bytes: Uint8Array, inputs: Map<number, { data: Float32Array; dims: number[] }>) {
  const sessions = {
    ort1: await ort.InferenceSession.create(bytes, ortOptions(1)),
    ort2: await ort.InferenceSession.create(bytes, ortOptions(2)),
    ort2NoSpin: await ort.InferenceSession.create(bytes, ortOptions(2, false)),
  }
  const inName = sessions.ort1.inputNames[0]!
  const compared = compareTensor(n.file)
  const check = await ort.InferenceSession.create(withGraphOutputs(bytes, [compared]), ortOptions(1))
  const rows = []
  for (const [batch, x] of inputs) {
    const nhwc = toNhwc(x)
    const feeds = { [inName]: new ort.Tensor('float32', x.data, x.dims) }
    const runners: Record<string, Runner> = {
      convscope: async () => {
        const [y] = model.forward(nhwc, [OUTPUT])
        y!.dataSync()
        y!.dispose()
      },
      ort1: async () => void (await sessions.ort1.run(feeds)),
      ort2: async () => void (await sessions.ort2.run(feeds)),
      ort2NoSpin: async () => void (await sessions.ort2NoSpin.run(feeds)),
    }
    const loadBefore = load()
    const times = await timeInterleaved(runners, (batch === 1 ? 3 : 1) * repeats * n.repeatScale)
    const [mine] = model.forward(nhwc, [compared])
    const ortLogits = (await check.run(feeds, [compared]))[compared]!.data as Float32Array
    const row = {
      batch,
      load: { before: loadBefore, after: load() },
      runs: summarize(times, batch),
      comparedTensor: compared,
      relErrorConvscopeVsOrt: relativeError(mine!.dataSync(), ortLogits),
      ortLogits,
    }
    tf.dispose([mine!, nhwc])
    const r = row.runs
    log(`${n.name} batch ${batch}: convscope ${r.convscope!.imgPerS} img/s, ort 1 thread ${r.ort1!.imgPerS}, 2 threads ${r.ort2!.imgPerS} (no spinning ${r.ort2NoSpin!.imgPerS}); rel. error ${row.relErrorConvscopeVsOrt.toExponential(1)} (load ${loadBefore.join(' ')})`)
    rows.push(row)
  }
  for (const s of [...Object.values(sessions), check]) await s.release()
  return rows
}

// 2. Inner outputs

/** The first output of every ReLU / Clip node: the maps a scan would read. */
function activationTensors(file: string): string[] {
  return readOnnxModel(file)
    .nodes.filter((node) => node.opType === 'Relu' || node.opType === 'Clip')
    .map((node) => node.outputs[0]!)
}

/** Per-channel max and argmax over h × w of an NCHW map (what a scan keeps per image). */
function channelMaxima(data: Float32Array, dims: readonly number[]): { max: Float32Array; arg: Int32Array } {
  const [n, c] = [dims[0]!, dims[1]!]
  const hw = data.length / (n * c)
  const max = new Float32Array(n * c)
  const arg = new Int32Array(n * c)
  for (let k = 0; k < n * c; k++) {
    const base = k * hw
    let best = data[base]!
    let at = 0
    for (let i = 1; i < hw; i++) {
      const v = data[base + i]!
      if (v > best) (best = v), (at = i)
    }
    max[k] = best
    arg[k] = at
  }
  return { max, arg }
}

async function innerOutputsSection(n: Net, model: LoadedModel, bytes: Uint8Array, x: { data: Float32Array; dims: number[] }) {
  const tensors = activationTensors(n.file)
  const mid = tensors[tensors.length >> 1]!
  const batch = x.dims[0]!
  const variants: Record<string, { extra: string[]; fetch: 'all' | string[] }> = {
    logits: { extra: [], fetch: 'all' },
    'logits+1': { extra: [mid], fetch: 'all' },
    '1 only': { extra: [mid], fetch: [mid] },
    [`logits+all ${tensors.length}`]: { extra: tensors, fetch: 'all' },
  }
  const runners: Record<string, Runner> = {}
  const sessions: ort.InferenceSession[] = []
  let last: ort.InferenceSession.OnnxValueMapType = {}
  for (const threads of [1, 2]) {
    for (const [label, v] of Object.entries(variants)) {
      const session = await ort.InferenceSession.create(v.extra.length ? withGraphOutputs(bytes, v.extra) : bytes, ortOptions(threads))
      sessions.push(session)
      const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', x.data, x.dims) }
      runners[`ort${threads} ${label}`] = async () => void (last = v.fetch === 'all' ? await session.run(feeds) : await session.run(feeds, v.fetch))
    }
  }
  const nhwc = toNhwc(x)
  const convscopeRun = (names: string[]) => async () => {
    for (const y of model.forward(nhwc, names)) (y.dataSync(), y.dispose())
  }
  runners['convscope logits'] = convscopeRun([OUTPUT])
  runners['convscope 1 only'] = convscopeRun([mid])
  runners[`convscope logits+all ${tensors.length}`] = convscopeRun([OUTPUT, ...tensors])
  const loadBefore = load()
  const times = await timeInterleaved(runners, repeats * n.repeatScale)
  nhwc.dispose()

  // What a scan does with the maps once they are in JS: read them, reduce each channel.
  const all = await sessions[3]!.run({ [sessions[3]!.inputNames[0]!]: new ort.Tensor('float32', x.data, x.dims) })
  last = all
  const maps = tensors.map((t) => last[t]!)
  const bytesOut = maps.reduce((s, m) => s + m.size * 4, 0)
  const touch: number[] = []
  const reduce: number[] = []
  for (let r = 0; r < repeats; r++) {
    let t0 = performance.now()
    let sum = 0
    for (const m of maps) sum += (m.data as Float32Array).length
    touch.push(performance.now() - t0)
    t0 = performance.now()
    for (const m of maps) channelMaxima(m.data as Float32Array, m.dims)
    reduce.push(performance.now() - t0)
    if (sum * 4 !== bytesOut) throw new Error('output sizes disagree')
  }
  for (const s of sessions) await s.release()
  const row = {
    batch,
    middleTensor: mid,
    activationTensors: tensors.length,
    outputMiB: round(bytesOut / 2 ** 20),
    load: { before: loadBefore, after: load() },
    runs: summarize(times, batch),
    jsTouchDataMs: round(median(touch), 3),
    jsChannelMaxArgmaxMs: round(median(reduce)),
  }
  log(`${n.name} inner outputs (batch ${batch}, ${tensors.length} maps, ${row.outputMiB} MiB): ` + Object.entries(row.runs).map(([k, v]) => `${k} ${v.imgPerS}`).join(', ') + ` img/s; JS max/argmax ${row.jsChannelMaxArgmaxMs} ms`)
  return row
}

// 2b. Threads vs processes: P processes × T onnxruntime threads, all running batches at once

/** Child: open a session, warm up, wait for the common start time, run `runs` batches; print the span. */
async function processProbe(file: string, threads: number, runs: number, startAt: number): Promise<void> {
  const n = net(file)
  const session = await ort.InferenceSession.create(n.file, ortOptions(threads))
  const x = randomNchw(16, n.size, 16, n.range)
  const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', x.data, x.dims) }
  await session.run(feeds)
  await session.run(feeds)
  while (Date.now() < startAt) await new Promise((r) => setTimeout(r, 5))
  const start = Date.now()
  for (let i = 0; i < runs; i++) await session.run(feeds)
  console.log(JSON.stringify({ start, end: Date.now(), images: 16 * runs }))
}

function runChild(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('close', (code) => (code === 0 ? resolve(out.trim().split('\n').pop()!) : reject(new Error(`child ${args.join(' ')} failed (${code}): ${err}`))))
  })
}

async function processesSection(name: string, runs: number) {
  const rows = []
  for (const [procs, threads] of [[1, 1], [1, 2], [2, 1]] as const) {
    const startAt = Date.now() + 10_000 // after every child has opened its session and warmed up
    const loadBefore = load()
    const spans = (await Promise.all(Array.from({ length: procs }, () => runChild(['--process-probe', name, '--threads', String(threads), '--runs', String(runs), '--start-at', String(startAt)])))).map(
      (line) => JSON.parse(line) as { start: number; end: number; images: number },
    )
    const seconds = (Math.max(...spans.map((p) => p.end)) - Math.min(...spans.map((p) => p.start))) / 1000
    const images = spans.reduce((a, p) => a + p.images, 0)
    rows.push({ processes: procs, threads, images, seconds: round(seconds, 2), imgPerS: round(images / seconds), load: loadBefore, startSkewMs: Math.max(...spans.map((p) => p.start)) - Math.min(...spans.map((p) => p.start)) })
    log(`${name}: ${procs} process(es) × ${threads} thread(s): ${rows.at(-1)!.imgPerS} img/s (${images} images, ${round(seconds, 2)} s)`)
  }
  return rows
}

// 3. PyTorch on the same weights

const TORCH_SNIPPET = `
import json, sys, time
import numpy as np, torch
args = json.loads(sys.argv[1])
sys.path.insert(0, args['scripts'])
if args['model'] == 'gap':
    import portDemoModels as pd
    net = pd.load(pd.Demo('gap'), pd.read_weights(args['demo']))
else:
    import exportTorchvision as ev
    net = ev.build(args['model'], ev.MODELS[args['model']][2])  # as the export built it
out = {'torch': torch.__version__, 'runs': []}
with torch.no_grad():
    for inp in args['inputs']:
        x = torch.from_numpy(np.fromfile(inp['file'], dtype=np.float32).reshape(inp['dims']))
        for threads in (1, 2):
            torch.set_num_threads(threads)
            net(x); y = net(x)
            ms = []
            for _ in range(inp['repeats']):
                t = time.perf_counter(); y = net(x); ms.append((time.perf_counter() - t) * 1000)
            out['runs'].append({'batch': inp['dims'][0], 'threads': threads, 'ms': ms})
        if args['model'] == 'gap':
            probs, net.probs = net.probs, torch.nn.Identity()  # compared before the softmax, like compareTensor()
            y = net(x)
            net.probs = probs
        y.numpy().astype(np.float32).tofile(inp['logits'])
print(json.dumps(out))
`

async function torchSection(n: Net, inputs: Map<number, { data: Float32Array; dims: number[] }>, ortLogits: Map<number, Float32Array>) {
  const scratch = await mkdtemp(join(tmpdir(), 'convscope-bench-ort-'))
  try {
    const spec = []
    for (const [batch, x] of inputs) {
      const file = join(scratch, `input${batch}.f32`)
      await writeFile(file, x.data)
      spec.push({ file, dims: x.dims, repeats: (batch === 1 ? 3 : 1) * repeats * n.repeatScale, logits: join(scratch, `logits${batch}.f32`) })
    }
    const args = { model: n.name, scripts: join(ROOT, 'scripts/onnx'), demo: join(ROOT, 'resources/demo-models/gap'), inputs: spec }
    const loadBefore = load()
    const run = spawnSync(PYTHON, ['-c', TORCH_SNIPPET, JSON.stringify(args)], { encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }, maxBuffer: 16 << 20 })
    if (run.status !== 0) throw new Error(`torch timing failed: ${run.stderr}`)
    const res = JSON.parse(run.stdout.trim().split('\n').pop()!) as { torch: string; runs: { batch: number; threads: number; ms: number[] }[] }
    const rows = []
    for (const r of res.runs) {
      const logits = new Float32Array((await readFile(spec.find((s) => s.dims[0] === r.batch)!.logits)).buffer.slice(0))
      rows.push({ batch: r.batch, threads: r.threads, medianMs: round(median(r.ms)), imgPerS: round((1000 * r.batch) / median(r.ms)), ms: r.ms.map((t) => round(t)), relErrorVsOrt: relativeError(logits, ortLogits.get(r.batch)!) })
    }
    log(`${n.name} torch ${res.torch}: ` + rows.map((r) => `batch ${r.batch} × ${r.threads} thr ${r.imgPerS} img/s (rel. error vs ort ${r.relErrorVsOrt.toExponential(1)})`).join(', '))
    return { torch: res.torch, load: { before: loadBefore, after: load() }, runs: rows }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

// 4. Memory (each probe in a fresh child process)

const MiB = (b: number) => round(b / 2 ** 20)
function memoryNow(): { rssMiB: number; heapUsedMiB: number; externalMiB: number; arrayBuffersMiB: number } {
  const m = process.memoryUsage()
  return { rssMiB: MiB(m.rss), heapUsedMiB: MiB(m.heapUsed), externalMiB: MiB(m.external), arrayBuffersMiB: MiB(m.arrayBuffers) }
}
const wasmHeapMiB = () => MiB((tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength)

async function memoryProbe(kind: string, dir: string): Promise<void> {
  const x = randomNchw(16, 224, 3, [-2, 2])
  const out: Record<string, unknown> = { kind }
  if (kind === 'tfjs') {
    await initBackend({ forced: 'wasm' })
    out.before = { ...memoryNow(), wasmHeapMiB: wasmHeapMiB() }
    const model = await loadModel(dir)
    out.opened = { ...memoryNow(), wasmHeapMiB: wasmHeapMiB(), tfBytesMiB: MiB(tf.memory().numBytes) }
    const nhwc = toNhwc(x)
    const [y] = model.forward(nhwc, [OUTPUT])
    y!.dataSync()
    tf.dispose([y!, nhwc])
    out.afterBatch16 = { ...memoryNow(), wasmHeapMiB: wasmHeapMiB(), tfBytesMiB: MiB(tf.memory().numBytes) }
  } else {
    out.before = memoryNow()
    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'), ortOptions(2))
    out.opened = memoryNow()
    await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x.data, x.dims) })
    out.afterBatch16 = memoryNow()
  }
  out.peakRssMiB = MiB(process.resourceUsage().maxRSS * 1024)
  console.log(JSON.stringify(out))
}

function memorySection(name: string) {
  const dir = net(name).dir
  const rows = []
  for (const kind of ['tfjs', 'ort']) {
    const run = spawnSync(process.execPath, ['--import', 'tsx', import.meta.filename, '--memory-probe', kind, '--model', dir], { encoding: 'utf8', maxBuffer: 16 << 20 })
    if (run.status !== 0) throw new Error(`memory probe ${kind} failed: ${run.stderr}`)
    rows.push({ model: name, ...JSON.parse(run.stdout.trim().split('\n').pop()!) })
    log(`memory ${name} ${kind}: ${JSON.stringify(rows.at(-1))}`)
  }
  return rows
}

async function main(): Promise<void> {
  if (values['memory-probe']) return memoryProbe(values['memory-probe'], values.model!)
  if (values['process-probe']) return processProbe(values['process-probe'], Number(values.threads), Number(values.runs), Number(values['start-at']))
  const started = new Date().toISOString()
  const loadAtStart = load()
  const backend = await initBackend({ forced: 'wasm' })
  const results: Record<string, unknown>[] = []
  for (const name of values.models.split(',')) {
    const n = net(name)
    const bytes = new Uint8Array(await readFile(n.file))
    const model = await loadModel(n.dir)
    const inputs = new Map([16, 1].map((b) => [b, randomNchw(b, n.size, b, n.range)] as const))
    const forward = await forwardSection(n, model, bytes, inputs)
    const inner = await innerOutputsSection(n, model, bytes, inputs.get(16)!)
    model.dispose()
    const ortLogits = new Map(forward.map((r) => [r.batch, r.ortLogits]))
    const torch = values['skip-torch'] ? null : await torchSection(n, inputs, ortLogits)
    const processes = await processesSection(name, 3 * repeats * n.repeatScale)
    results.push({ model: name, file: n.file, inputSize: n.size, forward: forward.map(({ ortLogits: _, ...r }) => r), innerOutputs: inner, processes, torch })
  }
  const memory = values['skip-memory'] ? [] : memorySection('resnet50')
  const report = {
    bench: 'bench/onnxRuntimeForward.ts',
    started,
    finished: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model, cores: cpus().length, memoryGiB: round(totalmem() / 2 ** 30), node: process.version },
    versions: { onnxruntimeNode: (await import('onnxruntime-node/package.json', { with: { type: 'json' } })).default.version, tfjs: tf.version.tfjs },
    convscopeBackend: { name: tf.getBackend(), ...backend },
    loadAverage: { start: loadAtStart, end: load() },
    repeats,
    models: results,
    memory,
  }
  const json = JSON.stringify(report, null, 2)
  if (values.out) await writeFile(values.out, json + '\n')
  else console.log(json)
}

await main()
