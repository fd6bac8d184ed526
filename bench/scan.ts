/**
 * `convscope scan` throughput and memory against an independent PyTorch reference doing the same work (issues 4, 11).
 *
 *   node --import tsx bench/scan.ts [--suite demo|mobilenet|all|none] [--images N] [--workers W] [--batch B]
 *                                   [--layer-sets every,one] [--rounds R] [--ref-setups PxTxL[c],...]
 *                                   [--profile | --profile-only] [--memory] [--setups S,...] [--out FILE]
 *
 * Suites (datasets and models are made once under .cache/bench/):
 * - demo: the bundled `gap` network (64² input) over N demo val images (128² JPEGs, stretched to 64²),
 *   the bench's layers (below), K = 16. Default N = 5000.
 * - mobilenet: a MobileNetV1 (α = 1, 224² input, 13 depthwise-separable blocks, 1000-way head, ≈ 4.2 M
 *   parameters) with seeded random weights whose batch-norm statistics are calibrated on 16 images (so
 *   activations are in a trained network's range, not saturated or dead), over N demo images rendered as
 *   224² JPEGs (no resize), the bench's layers (all 26 conv / depthwise layers after the first), K = 16.
 *   Default N = 280. Why not 256² resized to 224²: sharp's and PIL's bilinear kernels differ by 1–2 levels
 *   of 255 per pixel, and 27 layers of a random network amplify that until the two top-K lists of the deep
 *   layers disagree in half their entries; without a resize the two agree (that is the "same work" check).
 *
 * Each suite runs `node bin/convscope.mjs scan` as a subprocess with convscope's default options (the workers,
 * executor and batch it picks itself; only --model, --data, --limit, --layers, --out are passed), or with
 * `--workers W` / `--batch B` when given here (W `--shard` processes and `convscope merge` for a checkout older
 * than --workers), then bench/reference/scan_reference.py (PyTorch from
 * Debian's /usr/bin/python3: the same weights converted by scripts/reference/tfjs_torch.py, PIL decoding, PIL
 * bilinear resize, the same layers, per-unit top-K and per-image maxima) over the same image list. Rates are
 * images / wall-clock seconds of the whole command (start-up included), and each tool's own scan-loop rate.
 * Memory is the peak over the run of the summed RSS and PSS of the command's process tree, sampled every
 * 200 ms (PSS shares pages that forked processes have in common, so it does not double-count them).
 * --ref-setups lists how the reference runs, each "PxTxL[c]": P processes (each scanning shard i/P, merged
 * after, like convscope's workers) × T torch threads × L DataLoader workers, c for channels-last tensors;
 * default 1x<cores>x<cores>,1x1x1,<cores>x1x0. Each runs every round and the fastest is the reference.
 * --rounds R repeats both runs R times, alternating which goes first, and keeps each tool's fastest round;
 * the 1-minute load average before each run is recorded, since other work on the machine skews rates.
 * "Agreement" is the mean overlap of the two top-K image sets per unit: a check that both did the same work.
 * --layer-sets: each suite is run for each set: 'every' (the bench's layers, below), 'one' (the deepest of
 * them alone), both tools alike, for the rate with 1 layer vs every layer, and 'default' (not by default: no
 * --layers, the scan's default layers — the activation outputs — which the reference then scans too).
 *
 * --profile adds, per suite, where one core's time goes, without overlap: convscope's steps run in this
 * process (as runScan.ts does them, on the executor it picks: readModelInput (sharp decode + resize, normalise),
 * the forward pass to the layers with the per-channel max / argmax (on onnxruntime one step: the reduction runs
 * in its graph, one thread; on tfjs the forward, then spatialMax.ts: one JS pass on cpu / wasm, else on the
 * backend), top-K offers in JS) against the reference with 1 thread and no loader workers (PIL decode + preprocess, torch
 * forward, reduction + top-K), over the first min(N, 160) images. On tfjs it also times max / argmax done the
 * other way (checked equal), to show what the choice of spatialMax.ts saves.
 * With --profile the compared convscope runs also get `--profile --json` (timers only), and the best round's
 * own account (decoding, waiting for images, forward, top-K, maxima writes; summed over workers) is printed and kept.
 * (--profile-only: just the one-core profile, no comparison runs.)
 * --memory adds the memory check: the demo suite's convscope scan over 2 000 and 10 000 images (with the default
 * options both scans run as many worker processes: one per core from 1 000 images each; the per-process peaks
 * are listed, so a difference in process count is visible too).
 * --setups lists convscope setups that run side by side, each in every round (their order turned round in odd
 * rounds, like the tools'): 'default' (no flags), or "W:D[:T]": `--workers W` (1: one process) with
 * CONVSCOPE_DECODE_THREADS=D (decode threads per process, datasets/decodePool.ts) and, given T, OMP_NUM_THREADS=T
 * (onnxruntime's threads in one process; workers run one each), e.g. default,1:1,1:1:1,2:0.
 * The first is the suite's convscope result; each gets its own best round, ratio to the reference and profile.
 * Results: a table on stdout and bench/results/scan-<date>.json.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import * as tf from '@tensorflow/tfjs'
import { initBackend } from '../src/main/engine/backend'
import { listImageFolder } from '../src/main/engine/images/imageFolder'
import { toInputTensor, toModelInput } from '../src/main/engine/images/preprocess'
import { readImage, readModelInput } from '../src/main/engine/images/readImage'
import { reductionPlace, spatialMaxima, type ReductionPlace, type SpatialMax } from '../src/main/engine/scan/spatialMax'
import { describeScanLayer, layerMaxima } from '../src/main/engine/scan/scanLayer'
import { forwardExecutor, isOnnxRuntime } from '../src/main/engine/executors/onnxRuntime'
import { fsIOHandler } from '../src/main/engine/models/fsIOHandler'
import { loadModel } from '../src/main/engine/models/loadModel'
import { emptyTopK, offerBatch } from '../src/main/engine/scan/topK'
import { readSidecar } from '../src/main/engine/models/sidecar'
import type { ScanManifest } from '../src/main/engine/scan/manifest'
import { formatProfile, type ScanProfile } from '../src/main/engine/scan/profile'
import type { ModelInfo } from '../src/shared/api'
import { readNpy } from '../src/main/engine/store/npy'
import { seededRandom } from '../test/fixtures/models'
import { BENCH_CACHE, demoImages } from './demoImages'

const ROOT = resolve(import.meta.dirname, '..')
const CACHE = BENCH_CACHE
const CLI = join(ROOT, 'bin/convscope.mjs')
const PYTHON = '/usr/bin/python3'
const REFERENCE = join(ROOT, 'bench/reference/scan_reference.py')
const REFERENCE_MERGE = join(ROOT, 'bench/reference/merge_reference.py')
const CORES = availableParallelism()

/**
 * 'every': the bench's layers (benchLayers below); 'one': the deepest of them alone (the rate with 1 layer vs every layer);
 * 'default': no --layers, the scan's own default layers (the activation outputs since issue 9).
 */
const LAYER_SETS = ['every', 'one', 'default'] as const
type LayerSet = (typeof LAYER_SETS)[number]
const layerSetLabel: Record<LayerSet, string> = { every: 'every layer', one: '1 layer', default: 'default layers' }

function parseLayerSet(text: string): LayerSet {
  const t = LAYER_SETS.find((s) => s === text.trim())
  if (!t) throw new Error(`--layer-sets: "${text}" is not one of ${LAYER_SETS.join(', ')}`)
  return t
}

const { values } = parseArgs({
  options: {
    suite: { type: 'string', default: 'all' },
    images: { type: 'string' },
    workers: { type: 'string' },
    batch: { type: 'string' },
    'layer-sets': { type: 'string', default: 'every,one' },
    memory: { type: 'boolean', default: false },
    'ref-setups': { type: 'string', default: `1x${CORES}x${CORES},1x1x1,${CORES}x1x0` },
    rounds: { type: 'string', default: '1' },
    profile: { type: 'boolean', default: false },
    'profile-only': { type: 'boolean', default: false },
    setups: { type: 'string', default: 'default' },
    out: { type: 'string' },
  },
})
/** --workers W for convscope; absent (the default): convscope's own default, no flag. */
const workers = values.workers === undefined ? null : Number(values.workers)
/** The reference's batch; convscope gets --batch only when it is given here (its default is 16 too). */
const batch = Number(values.batch ?? 16)
const layerSets = values['layer-sets']!.split(',').map(parseLayerSet)
const profiling = values.profile || values['profile-only']
const rounds = Number(values.rounds)
const refSetups = values['ref-setups']!.split(',').map(parseRefSetup)

/** A convscope setup (--setups): its worker count and decode threads, or null for convscope's default. */
interface Setup {
  label: string
  workers: number | null
  decodeThreads: number | null
  /** OMP_NUM_THREADS for the command (onnxruntime's threads in one process), or null: unset. */
  runtimeThreads: number | null
}

function parseSetup(text: string): Setup {
  const t = text.trim()
  if (t === 'default') return { label: 'default', workers, decodeThreads: null, runtimeThreads: null }
  const m = /^(\d+):(\d+)(?::(\d+))?$/.exec(t)
  if (!m) throw new Error(`--setups: "${t}" is neither default nor W:D[:T] (worker processes : decode threads : onnxruntime threads)`)
  return { label: t, workers: Number(m[1]), decodeThreads: Number(m[2]), runtimeThreads: m[3] === undefined ? null : Number(m[3]) }
}
const setups = values.setups!.split(',').map(parseSetup)

// ---------------------------------------------------------------------------------------------------
// Datasets and models
// ---------------------------------------------------------------------------------------------------

/** MobileNetV1's depthwise-separable blocks: [pointwise filters, stride]. */
const V1_BLOCKS: [number, number][] = [[64, 1], [128, 2], [128, 1], [256, 2], [256, 1], [512, 2], [512, 1], [512, 1], [512, 1], [512, 1], [512, 1], [1024, 2], [1024, 1]]

/** MobileNetV1 (α = 1) with Keras' layer names and seeded random weights; batch-norm moving statistics still at 0 / 1. */
function mobileNetV1(seed: number): tf.LayersModel {
  let k = 0
  const he = () => tf.initializers.heNormal({ seed: seed * 1000 + k++ })
  const uniform = (minval: number, maxval: number) => tf.initializers.randomUniform({ minval, maxval, seed: seed * 1000 + k++ })
  const bn = (name: string) => tf.layers.batchNormalization({ name, gammaInitializer: uniform(0.5, 1.5), betaInitializer: uniform(-0.5, 0.5) })
  const layers: tf.layers.Layer[] = [
    tf.layers.conv2d({ name: 'conv1', inputShape: [224, 224, 3], filters: 32, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: he() }),
    bn('conv1_bn'),
    tf.layers.reLU({ name: 'conv1_relu', maxValue: 6 }),
  ]
  V1_BLOCKS.forEach(([filters, strides], i) => {
    const b = i + 1
    layers.push(
      tf.layers.depthwiseConv2d({ name: `conv_dw_${b}`, kernelSize: 3, strides, padding: 'same', useBias: false, depthwiseInitializer: he() }),
      bn(`conv_dw_${b}_bn`),
      tf.layers.reLU({ name: `conv_dw_${b}_relu`, maxValue: 6 }),
      tf.layers.conv2d({ name: `conv_pw_${b}`, filters, kernelSize: 1, useBias: false, kernelInitializer: he() }),
      bn(`conv_pw_${b}_bn`),
      tf.layers.reLU({ name: `conv_pw_${b}_relu`, maxValue: 6 }),
    )
  })
  layers.push(
    tf.layers.globalAveragePooling2d({ name: 'global_average_pooling2d' }),
    tf.layers.dropout({ name: 'dropout', rate: 0.001 }),
    tf.layers.dense({ name: 'predictions', units: 1000, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 1000 + k++ }) }),
  )
  return tf.sequential({ name: 'mobilenet_v1_random', layers })
}

const IMAGENET_SIDECAR = { inputSize: [224, 224], channelOrder: 'RGB', range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], resize: 'stretch' }

/**
 * The MobileNet model folder, built once: random weights, then each batch-norm layer in turn gets the mean
 * and variance of its input over 16 calibration images as moving statistics (as a trained network would).
 */
async function mobileNetModel(calibrationFolder: string): Promise<string> {
  const dir = join(CACHE, 'mobilenet')
  if (existsSync(join(dir, 'model.json'))) return dir
  process.stderr.write(`building the MobileNetV1 benchmark model into ${dir}\n`)
  await initBackend({ forced: 'wasm' })
  const model = mobileNetV1(1)
  const listed = await listImageFolder(calibrationFolder, 100_000)
  const rand = seededRandom(5)
  const picks = Array.from({ length: 16 }, () => listed.images[Math.floor(rand() * listed.images.length)]!.path)
  const { sidecar } = await readSidecarFrom(IMAGENET_SIDECAR)
  const inputs = await Promise.all(picks.map(async (p) => toModelInput(await readImage(p), sidecar)))
  const x = toInputTensor(inputs)
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue
    const probe = tf.model({ inputs: model.inputs, outputs: layer.input as tf.SymbolicTensor })
    const [gamma, beta] = layer.getWeights()
    const moments = tf.tidy(() => tf.moments(probe.predict(x) as tf.Tensor, [0, 1, 2]))
    layer.setWeights([gamma!, beta!, moments.mean, moments.variance])
    tf.dispose([moments.mean, moments.variance])
  }
  x.dispose()
  await mkdir(dir, { recursive: true })
  await model.save(fsIOHandler(dir))
  await writeFile(join(dir, 'convscope.json'), JSON.stringify(IMAGENET_SIDECAR, null, 2) + '\n')
  process.stderr.write(`  ${model.countParams().toLocaleString('en')} parameters\n`)
  model.dispose()
  return dir
}

/** The Preprocessing a sidecar object gives (through convscope's own sidecar reader, so defaults match). */
async function readSidecarFrom(fields: object): Promise<{ sidecar: Parameters<typeof toModelInput>[1] }> {
  const dir = await mkdtemp(join(tmpdir(), 'convscope-bench-sidecar-'))
  try {
    await writeFile(join(dir, 'convscope.json'), JSON.stringify(fields))
    const r = await readSidecar(dir, [224, 224])
    return { sidecar: r.preprocessing }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------------
// Measuring a command: wall clock and the peak memory of its process tree
// ---------------------------------------------------------------------------------------------------

interface Measured {
  code: number
  stdout: string
  stderr: string
  wallSeconds: number
  /** Peak over samples of the summed VmRSS / Pss of the process and its descendants, MiB. */
  peakRssMiB: number
  peakPssMiB: number
  /** Most processes seen at once in the tree. */
  processes: number
  /** Each process's own peak PSS (MiB), largest first. */
  perProcess: { command: string; peakPssMiB: number }[]
}

async function procTree(root: number): Promise<number[]> {
  const children = new Map<number, number[]>()
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => null)
    if (!stat) continue
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    const list = children.get(ppid) ?? []
    list.push(Number(name))
    children.set(ppid, list)
  }
  const tree: number[] = []
  const stack = [root]
  while (stack.length) {
    const pid = stack.pop()!
    tree.push(pid)
    stack.push(...(children.get(pid) ?? []))
  }
  return tree
}

async function memoryOf(pids: number[]): Promise<{ rss: number; pss: number; each: Map<number, number> }> {
  let rss = 0
  let pss = 0
  const each = new Map<number, number>()
  for (const pid of pids) {
    const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '')
    const p = Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? 0)
    rss += Number(/^Rss:\s+(\d+)/m.exec(text)?.[1] ?? 0)
    pss += p
    each.set(pid, p / 1024)
  }
  return { rss: rss / 1024, pss: pss / 1024, each }
}

/** A process's command line, shortened for a report ("node convscope.mjs scan … --shard 1/2"). */
async function commandOf(pid: number): Promise<string> {
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
  const argv = raw.split('\0').filter(Boolean).map((a) => (a.startsWith('/') ? a.split('/').at(-1)! : a))
  return argv.join(' ').slice(0, 80)
}

async function measure(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Measured> {
  const t0 = performance.now()
  // No __pycache__ folders in the checkout from the reference scripts.
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d))
  child.stderr.on('data', (d: Buffer) => (stderr += d))
  const exited = new Promise<number>((res) => child.on('close', (code) => res(code ?? 1)))
  let peakRss = 0
  let peakPss = 0
  let processes = 0
  const perProcess = new Map<number, { command: string; peakPssMiB: number }>()
  let running = true
  const sampler = (async () => {
    while (running) {
      const pids = await procTree(child.pid!)
      processes = Math.max(processes, pids.length)
      const m = await memoryOf(pids)
      peakRss = Math.max(peakRss, m.rss)
      peakPss = Math.max(peakPss, m.pss)
      for (const [pid, pss] of m.each) {
        const seen = perProcess.get(pid)
        if (!seen) perProcess.set(pid, { command: await commandOf(pid), peakPssMiB: pss })
        else seen.peakPssMiB = Math.max(seen.peakPssMiB, pss)
      }
      await new Promise((r) => setTimeout(r, 200))
    }
  })()
  const code = await exited
  const wallSeconds = (performance.now() - t0) / 1000
  running = false
  await sampler
  const each = [...perProcess.values()].filter((p) => p.peakPssMiB >= 1).sort((a, b) => b.peakPssMiB - a.peakPssMiB)
  return { code, stdout, stderr, wallSeconds, peakRssMiB: peakRss, peakPssMiB: peakPss, processes, perProcess: each }
}

function mustSucceed(m: Measured, what: string): Measured {
  if (m.code !== 0) throw new Error(`${what} failed (exit ${m.code}):\n${m.stderr.slice(-3000)}`)
  return m
}

// ---------------------------------------------------------------------------------------------------
// The two runs
// ---------------------------------------------------------------------------------------------------

/**
 * The layers every run scans: the conv / depthwise / pool layers after the first. These were the scan's
 * defaults until issue 9 made them the activation outputs; named here so results stay comparable across versions.
 */
function benchLayers(info: ModelInfo): string[] {
  return info.layers
    .filter((l) => l.spatial && (l.kind === 'conv' || l.kind === 'depthwise' || l.kind === 'pool'))
    .slice(1)
    .map((l) => l.name)
}

/** The layers of a set; null for 'default' (convscope picks, the reference takes them from its manifest). */
async function benchLayersOf(modelDir: string, set: LayerSet = 'every'): Promise<string[] | null> {
  if (set === 'default') return null
  const model = await loadModel(modelDir)
  try {
    const every = benchLayers(model.info)
    return set === 'every' ? every : every.slice(-1)
  } finally {
    model.dispose()
  }
}

let workersFlag: boolean | null = null
/** Whether this checkout's scan has --workers (it was being added when this bench was written). */
async function scanHasWorkers(): Promise<boolean> {
  if (workersFlag === null) {
    const help = await measure('node', [CLI, 'scan', '--help'])
    workersFlag = /--workers/.test(help.stdout + help.stderr)
  }
  return workersFlag
}

interface ConvscopeRun extends Measured {
  manifest: ScanManifest
  out: string
  mode: string
  backend: string
  /** What ran the forward passes (the manifest's executor; 'tfjs-…' before issue 11 recorded it). */
  executor: string
  /** With --profile: `convscope scan --profile`'s own account (summed over its worker processes). */
  scanProfile: ConvscopeProfile | null
}

/** `convscope scan --profile --json`'s profile field. */
interface ConvscopeProfile {
  processes: number
  total: ScanProfile
  /** Workers: the merge of their results (seconds). */
  mergeSeconds?: number
}

async function runConvscope(model: string, data: string, limit: number, scratch: string, layers: LayerSet = 'every', setup: Setup = setups[0]!): Promise<ConvscopeRun> {
  const { workers } = setup
  const env = {
    ...(setup.decodeThreads !== null && { CONVSCOPE_DECODE_THREADS: String(setup.decodeThreads) }),
    ...(setup.runtimeThreads !== null && { OMP_NUM_THREADS: String(setup.runtimeThreads) }),
  }
  const out = join(scratch, 'convscope')
  // --profile only adds timers (scan/profile.ts); its account of where the time went is kept with the run.
  const names = await benchLayersOf(model, layers)
  const common = ['--model', model, '--data', data, '--limit', String(limit), ...(values.batch ? ['--batch', values.batch] : []), ...(names ? ['--layers', names.join(',')] : []), ...(profiling ? ['--profile', '--json'] : [])]
  let m: Measured
  let mode: string
  if (workers === null || workers === 1 || (await scanHasWorkers())) {
    m = mustSucceed(await measure('node', [CLI, 'scan', ...common, '--out', out, ...(workers !== null ? ['--workers', String(workers)] : [])], env), 'convscope scan')
    // What the defaults chose, from the scan's own first line ("… 2 workers on backend wasm").
    const chosen = /(\d+) workers? on backend/.exec(m.stderr)?.[1]
    mode = workers === null ? `default options${chosen ? ` (${chosen} workers)` : ''}` : `--workers ${workers}`
    if (setup.decodeThreads !== null) mode += `, CONVSCOPE_DECODE_THREADS=${setup.decodeThreads}`
    if (setup.runtimeThreads !== null) mode += `, OMP_NUM_THREADS=${setup.runtimeThreads}`
  } else {
    // Prototype of --workers: W shard processes at once, then merge; measured as one tree under a shell.
    mode = `${workers} --shard processes + merge`
    const shards = Array.from({ length: workers }, (_, i) => join(scratch, `shard-${i}`))
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
    const script =
      shards.map((dir, i) => `node ${q(CLI)} scan ${common.map(q).join(' ')} --out ${q(dir)} --shard ${i}/${workers} &`).join('\n') +
      `\nfor j in $(jobs -p); do wait $j || exit 1; done\nnode ${q(CLI)} merge ${shards.map(q).join(' ')} --out ${q(out)}\n`
    m = mustSucceed(await measure('bash', ['-c', script], env), 'convscope scan (shards + merge)')
  }
  const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as ScanManifest
  const backend = /convscope: backend (\S+)/.exec(m.stderr)?.[1] ?? /on backend (\S+)/.exec(m.stderr)?.[1] ?? '?'
  return { ...m, manifest, out, mode, backend, executor: manifest.executor ?? `tfjs-${backend}`, scanProfile: profiling ? (JSON.parse(m.stdout) as { profile: ConvscopeProfile | null }).profile : null }
}

interface ReferenceRun extends Measured {
  setup: RefSetup
  report: { images: number; scanned: number; scanSeconds: number; setupSeconds: number; forwardSeconds: number; reduceSeconds: number; imagesPerSecond: number; torch: string }
  out: string
}

/** How the reference runs: P processes (shards, merged after) × T torch threads × L DataLoader workers, NCHW or channels-last. */
interface RefSetup {
  procs: number
  threads: number
  loaderWorkers: number
  channelsLast: boolean
}

/** "PxTxL" or "PxTxLc" (c: channels-last), e.g. "1x2x2", "2x1x0". */
function parseRefSetup(text: string): RefSetup {
  const m = /^(\d+)x(\d+)x(\d+)(c?)$/.exec(text.trim())
  if (!m) throw new Error(`--ref-setups: "${text}" is not PxTxL[c] (processes x torch threads x loader workers, c: channels-last)`)
  return { procs: Number(m[1]), threads: Number(m[2]), loaderWorkers: Number(m[3]), channelsLast: m[4] === 'c' }
}

const describeSetup = (s: RefSetup) =>
  `${s.procs > 1 ? `${s.procs} processes × ` : ''}${s.threads} thread${s.threads > 1 ? 's' : ''}, ${s.loaderWorkers} loader worker${s.loaderWorkers === 1 ? '' : 's'}${s.channelsLast ? ', channels-last' : ''}`

async function runReference(model: string, manifest: ScanManifest, scratch: string, setup: RefSetup): Promise<ReferenceRun> {
  const list = join(scratch, 'images.txt')
  await writeFile(list, manifest.images.map((i) => join(manifest.dataset.root, i.path)).join('\n') + '\n')
  const out = join(scratch, 'reference')
  const args = (shard: number, dir: string) => [
    REFERENCE, '--model', model, '--images', list, '--layers', manifest.layers.map((l) => l.name).join(','), '--out', dir,
    '--k', String(manifest.k), '--batch', String(batch), '--threads', String(setup.threads), '--loader-workers', String(setup.loaderWorkers),
    '--shard', `${shard}/${setup.procs}`, ...(setup.channelsLast ? ['--channels-last'] : []),
  ]
  type Report = ReferenceRun['report']
  if (setup.procs === 1) {
    const m = mustSucceed(await measure(PYTHON, args(0, out)), 'reference scan')
    return { ...m, report: JSON.parse(m.stdout.trim().split('\n').at(-1)!) as Report, out, setup }
  }
  // One shard per process at once, then the merge; measured as one tree under a shell.
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
  const dirs = Array.from({ length: setup.procs }, (_, i) => join(scratch, `reference-shard-${i}`))
  const script =
    dirs.map((dir, i) => `${PYTHON} ${args(i, dir).map(q).join(' ')} > ${q(dir + '.json')} &`).join('\n') +
    `\nfor j in $(jobs -p); do wait $j || exit 1; done\n${PYTHON} ${q(REFERENCE_MERGE)} ${dirs.map(q).join(' ')} --out ${q(out)}\n`
  const m = mustSucceed(await measure('bash', ['-c', script]), 'reference scan (shards + merge)')
  const parts = await Promise.all(dirs.map(async (d) => JSON.parse((await readFile(d + '.json', 'utf8')).trim().split('\n').at(-1)!) as Report))
  const scanSeconds = Math.max(...parts.map((p) => p.scanSeconds))
  const scanned = parts.reduce((s, p) => s + p.scanned, 0)
  const report: Report = {
    ...parts[0]!,
    images: manifest.images.length,
    scanned,
    scanSeconds,
    forwardSeconds: parts.reduce((s, p) => s + p.forwardSeconds, 0),
    reduceSeconds: parts.reduce((s, p) => s + p.reduceSeconds, 0),
    imagesPerSecond: scanned / scanSeconds,
  }
  return { ...m, report, out, setup }
}

/** Per layer: mean overlap of the top-K image sets per unit, and the share of units whose top-1 image is the same. */
async function agreement(c: ConvscopeRun, r: ReferenceRun): Promise<{ layer: string; overlap: number; top1: number }[]> {
  const rows = []
  for (const layer of c.manifest.layers) {
    const a = (await readNpy(join(c.out, `${layer.file}.topk.images.npy`))).data as Int32Array
    const b = (await readNpy(join(r.out, `${layer.name}.topk.images.npy`))).data as Int32Array
    const k = c.manifest.k
    let overlap = 0
    let top1 = 0
    for (let u = 0; u < layer.units; u++) {
      const set = new Set(a.subarray(u * k, (u + 1) * k))
      for (const img of b.subarray(u * k, (u + 1) * k)) if (set.has(img)) overlap++
      if (a[u * k] === b[u * k]) top1++
    }
    rows.push({ layer: layer.name, overlap: overlap / (layer.units * k), top1: top1 / layer.units })
  }
  return rows
}

// ---------------------------------------------------------------------------------------------------
// Suites
// ---------------------------------------------------------------------------------------------------

interface SuiteResult {
  suite: string
  /** Which of the bench's layers were scanned: every one, or only the deepest. */
  layerSet: LayerSet
  model: string
  images: number
  layers: number
  units: number
  k: number
  batch: number
  rounds: number
  /** 1-minute load average before each run and at the end. */
  loadAverages: number[]
  convscope: { mode: string; backend: string; executor: string; scanProfile: ConvscopeProfile | null; wallSeconds: number; allWallSeconds: number[]; imagesPerSecond: number; scanImagesPerSecond: number; peakRssMiB: number; peakPssMiB: number; processes: number }
  reference: { setup: string; wallSeconds: number; allRuns: { setup: string; wallSeconds: number; scanImagesPerSecond: number }[]; imagesPerSecond: number; scanImagesPerSecond: number; forwardSeconds: number; reduceSeconds: number; peakRssMiB: number; peakPssMiB: number; processes: number }
  ratio: { wall: number; scanLoop: number }
  /** Every convscope setup of --setups (the first is `convscope` above). */
  setups: { setup: string; mode: string; wallSeconds: number; allWallSeconds: number[]; imagesPerSecond: number; scanImagesPerSecond: number; ratio: { wall: number; scanLoop: number }; processes: number; peakPssMiB: number; scanProfile: ConvscopeProfile | null; outsideLoopSeconds: number }[]
  agreement: { meanOverlap: number; top1: number; perLayer: { layer: string; overlap: number; top1: number }[] }
}

/** The 1-minute load average now (other work on the machine skews every rate; it is recorded with each run). */
async function loadAverage(): Promise<number> {
  return Number((await readFile('/proc/loadavg', 'utf8')).split(' ')[0])
}

async function runSuite(suite: string, model: string, data: string, limit: number, rounds: number, layerSet: LayerSet): Promise<SuiteResult> {
  const scratch = await mkdtemp(join(tmpdir(), `convscope-bench-scan-${suite}-`))
  const label = `${suite}, ${layerSetLabel[layerSet]}`
  try {
    // Round 1 runs convscope first (its manifest gives the reference the image list and layers); later rounds
    // alternate the order, and the best round of each tool counts, so a burst of other work hurts neither alone.
    const bySetup: ConvscopeRun[][] = setups.map(() => [])
    const cs = bySetup[0]!
    const rs: ReferenceRun[] = []
    const loads: number[] = []
    const convscopeRound = async (r: number) => {
      const order = setups.map((_, i) => i)
      if (r % 2 === 1) order.reverse()
      for (const i of order) {
        const setup = setups[i]!
        process.stderr.write(`[${label}] round ${r + 1}/${rounds}: convscope scan, ${limit} images, ${setup.label === 'default' ? (setup.workers === null ? 'default options' : `--workers ${setup.workers}`) : `setup ${setup.label}`}…\n`)
        loads.push(await loadAverage())
        const dir = join(scratch, `round-${r}-setup-${i}`)
        await mkdir(dir, { recursive: true })
        bySetup[i]!.push(await runConvscope(model, data, limit, dir, layerSet, setup))
      }
    }
    const referenceRound = async (r: number) => {
      for (const [i, setup] of refSetups.entries()) {
        process.stderr.write(`[${label}] round ${r + 1}/${rounds}: reference (PyTorch, ${describeSetup(setup)})…\n`)
        loads.push(await loadAverage())
        const dir = join(scratch, `round-${r}-ref-${i}`)
        await mkdir(dir, { recursive: true })
        rs.push(await runReference(model, cs[0]!.manifest, dir, setup))
      }
    }
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        await convscopeRound(r)
        await referenceRound(r)
      } else {
        await referenceRound(r)
        await convscopeRound(r)
      }
    }
    loads.push(await loadAverage())
    const c = cs.reduce((a, b) => (b.wallSeconds < a.wallSeconds ? b : a))
    const r = rs.reduce((a, b) => (b.wallSeconds < a.wallSeconds ? b : a))
    const agree = await agreement(cs[0]!, r)
    const n = c.manifest.images.length
    const units = c.manifest.layers.reduce((s, l) => s + l.units, 0)
    const weighted = (f: (a: (typeof agree)[number]) => number) => agree.reduce((s, a, i) => s + f(a) * c.manifest.layers[i]!.units, 0) / units
    const csRate = { wall: n / c.wallSeconds, loop: Math.max(...cs.map((x) => x.manifest.timing.imagesPerSecond)) }
    const refRate = { wall: n / r.wallSeconds, loop: r.report.imagesPerSecond }
    const setupResults = setups.map((setup, i) => {
      const runs = bySetup[i]!
      const best = runs.reduce((a, b) => (b.wallSeconds < a.wallSeconds ? b : a))
      const loop = Math.max(...runs.map((x) => x.manifest.timing.imagesPerSecond))
      return {
        setup: setup.label,
        mode: best.mode,
        wallSeconds: best.wallSeconds,
        allWallSeconds: runs.map((x) => x.wallSeconds),
        imagesPerSecond: n / best.wallSeconds,
        scanImagesPerSecond: loop,
        ratio: { wall: n / best.wallSeconds / refRate.wall, scanLoop: loop / refRate.loop },
        processes: best.processes,
        peakPssMiB: Math.max(...runs.map((x) => x.peakPssMiB)),
        scanProfile: best.scanProfile,
        /** Start-up, worker start and merge: the command's wall time less its scan's own (the manifest's). */
        outsideLoopSeconds: best.wallSeconds - best.manifest.timing.seconds,
      }
    })
    const peak = (runs: Measured[], key: 'peakRssMiB' | 'peakPssMiB') => Math.max(...runs.map((x) => x[key]))
    return {
      suite,
      layerSet,
      model: c.manifest.model.name,
      images: n,
      layers: c.manifest.layers.length,
      units,
      k: c.manifest.k,
      batch,
      rounds,
      loadAverages: loads,
      convscope: {
        mode: c.mode,
        backend: c.backend,
        executor: c.executor,
        scanProfile: c.scanProfile,
        wallSeconds: c.wallSeconds,
        allWallSeconds: cs.map((x) => x.wallSeconds),
        imagesPerSecond: csRate.wall,
        scanImagesPerSecond: csRate.loop,
        peakRssMiB: peak(cs, 'peakRssMiB'),
        peakPssMiB: peak(cs, 'peakPssMiB'),
        processes: c.processes,
      },
      reference: {
        setup: `torch ${r.report.torch}, ${describeSetup(r.setup)}`,
        wallSeconds: r.wallSeconds,
        allRuns: rs.map((x) => ({ setup: describeSetup(x.setup), wallSeconds: x.wallSeconds, scanImagesPerSecond: x.report.imagesPerSecond })),
        imagesPerSecond: refRate.wall,
        scanImagesPerSecond: refRate.loop,
        forwardSeconds: r.report.forwardSeconds,
        reduceSeconds: r.report.reduceSeconds,
        peakRssMiB: peak(rs, 'peakRssMiB'),
        peakPssMiB: peak(rs, 'peakPssMiB'),
        processes: r.processes,
      },
      ratio: { wall: csRate.wall / refRate.wall, scanLoop: csRate.loop / refRate.loop },
      setups: setupResults,
      agreement: { meanOverlap: weighted((a) => a.overlap), top1: weighted((a) => a.top1), perLayer: agree },
    }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

interface MemoryResult {
  /** 1-minute load average at the end of the run. */
  loadAverage: number
  images: number
  wallSeconds: number
  peakRssMiB: number
  peakPssMiB: number
  processes: number
  mode: string
  executor: string
  perProcess: { command: string; peakPssMiB: number }[]
}

async function memoryCheck(model: string, data: string): Promise<MemoryResult[]> {
  const rows: MemoryResult[] = []
  for (const limit of [2000, 10_000]) {
    const scratch = await mkdtemp(join(tmpdir(), 'convscope-bench-scan-memory-'))
    try {
      process.stderr.write(`[memory] convscope scan, ${limit} images…\n`)
      const c = await runConvscope(model, data, limit, scratch)
      rows.push({ loadAverage: await loadAverage(), images: c.manifest.images.length, wallSeconds: c.wallSeconds, peakRssMiB: c.peakRssMiB, peakPssMiB: c.peakPssMiB, processes: c.processes, mode: c.mode, executor: c.executor, perProcess: c.perProcess })
    } finally {
      await rm(scratch, { recursive: true, force: true })
    }
  }
  return rows
}

// ---------------------------------------------------------------------------------------------------
// Profile: one core, no overlap
// ---------------------------------------------------------------------------------------------------

interface StepTimes {
  images: number
  decodeSeconds: number
  forwardSeconds: number
  reduceSeconds: number
  topkSeconds: number
  /** convscope only: max / argmax the other way (spatialMax.ts: on the backend if the scan reduces in JS, or the reverse), checked equal. */
  reduceOtherSeconds?: number
  /** convscope only: where the scan reduces on this backend ('js' or 'backend'). */
  reducePlace?: ReductionPlace
}

/**
 * convscope's scan steps, timed one after the other in this process on the executor and backend the CLI would
 * pick, on one core (onnxruntime gets OMP_NUM_THREADS=1, as the reference's 1 thread): on onnxruntime the
 * max / argmax run inside its graph (scanLayer.ts layerMaxima), so forward and reduction are one step there.
 */
async function profileConvscope(modelDir: string, data: string, limit: number): Promise<StepTimes & { backend: string; executor: string }> {
  const report = await initBackend({})
  const threads = process.env.OMP_NUM_THREADS
  process.env.OMP_NUM_THREADS = '1' // read when the session is made; restored below, so the scans after keep every core
  const model = await loadModel(modelDir)
  try {
    const executor = forwardExecutor(model)
    const inGraph = isOnnxRuntime(executor)
    const layers = benchLayers(model.info)
    const scanLayers = layers.map((name) => describeScanLayer(model, name))
    const tops = scanLayers.map((l) => emptyTopK(l.units, 16))
    const paths = (await listImageFolder(data, limit)).images.map((i) => i.path)
    const place = reductionPlace()
    const other: ReductionPlace = place === 'js' ? 'backend' : 'js'
    const t: StepTimes = { images: 0, decodeSeconds: 0, forwardSeconds: 0, reduceSeconds: 0, topkSeconds: 0, ...(inGraph ? {} : { reduceOtherSeconds: 0, reducePlace: place }) }
    const run = async (batchPaths: string[], first: number, record: boolean) => {
      // The scan's own steps (runScan.ts): readModelInput, forward, spatialMaxima (or both in the graph), offerBatch.
      const t0 = performance.now()
      const inputs = await Promise.all(batchPaths.map(async (p) => (await readModelInput(p, model.info.preprocessing)).input))
      const t1 = performance.now()
      let reduced: SpatialMax[]
      let forwardMs: number
      let reduceMs = 0
      let otherMs = 0
      if (inGraph) {
        reduced = await layerMaxima(model, inputs, scanLayers, executor)
        forwardMs = performance.now() - t1
      } else {
        const x = toInputTensor(inputs)
        const outs = model.forward(x, layers)
        const t2 = performance.now()
        forwardMs = t2 - t1
        reduced = await spatialMaxima(outs, place)
        const t3 = performance.now()
        reduceMs = t3 - t2
        const alternative = await spatialMaxima(outs, other)
        otherMs = performance.now() - t3
        alternative.forEach((r, li) => {
          const { max, arg } = reduced[li]!
          for (let j = 0; j < max.length; j++) {
            if (r.max[j] !== max[j] || (r.arg[j] !== arg[j] && !Number.isNaN(max[j]!))) throw new Error(`max/argmax in ${other} differs from ${place} at layer ${layers[li]}, entry ${j}`)
          }
        })
        tf.dispose([x, ...outs])
      }
      const t3 = performance.now()
      const indices = batchPaths.map((_, i) => first + i)
      reduced.forEach(({ max, arg }, li) => offerBatch(tops[li]!, max, arg, scanLayers[li]!.width, indices))
      const t4 = performance.now()
      if (record) {
        t.images += batchPaths.length
        t.decodeSeconds += (t1 - t0) / 1000
        t.forwardSeconds += forwardMs / 1000
        t.reduceSeconds += reduceMs / 1000
        if (!inGraph) t.reduceOtherSeconds! += otherMs / 1000
        t.topkSeconds += (t4 - t3) / 1000
      }
    }
    await run(paths.slice(0, batch), 0, false) // warm-up: kernels compiled, memory grown, session made
    for (let i = 0; i < paths.length; i += batch) await run(paths.slice(i, i + batch), i, true)
    return { ...t, backend: report.active, executor }
  } finally {
    model.dispose()
    if (threads === undefined) delete process.env.OMP_NUM_THREADS
    else process.env.OMP_NUM_THREADS = threads
  }
}

/** The reference's steps on one thread, no loader workers (its JSON splits forward and reduction; the rest is decode). */
async function profileReference(modelDir: string, data: string, limit: number): Promise<StepTimes> {
  const scratch = await mkdtemp(join(tmpdir(), 'convscope-bench-profile-'))
  try {
    const layers = (await benchLayersOf(modelDir, 'every'))!
    const paths = (await listImageFolder(data, limit)).images.map((i) => i.path)
    await writeFile(join(scratch, 'images.txt'), paths.join('\n') + '\n')
    const m = mustSucceed(
      await measure(PYTHON, [REFERENCE, '--model', modelDir, '--images', join(scratch, 'images.txt'), '--layers', layers.join(','), '--out', join(scratch, 'out'), '--k', '16', '--batch', String(batch), '--threads', '1', '--loader-workers', '0', ...(refSetups[0]!.channelsLast ? ['--channels-last'] : [])]),
      'reference profile',
    )
    const r = JSON.parse(m.stdout.trim().split('\n').at(-1)!) as ReferenceRun['report']
    return { images: r.scanned, decodeSeconds: r.scanSeconds - r.forwardSeconds - r.reduceSeconds, forwardSeconds: r.forwardSeconds, reduceSeconds: r.reduceSeconds, topkSeconds: 0 }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

interface ProfileResult {
  suite: string
  convscope: StepTimes & { backend: string; executor: string }
  reference: StepTimes
}

function printProfile(p: ProfileResult): void {
  const ms = (s: number, n: number) => ((1000 * s) / n).toFixed(2)
  const c = p.convscope
  const r = p.reference
  const inGraph = c.reducePlace === undefined
  const tool = `convscope (${c.executor})`
  console.log(`${p.suite} profile, one core, ms per image (${c.images} images, batch ${batch}):`)
  console.log(`  step                  ${tool.padEnd(30)}  PyTorch (1 thread)`)
  const row = (step: string, mine: string, theirs: string, note = '') => console.log(`  ${step.padEnd(22)}${mine.padStart(8)}${' '.repeat(24)}${theirs.padStart(8)}${note}`)
  row('decode + preprocess', ms(c.decodeSeconds, c.images), ms(r.decodeSeconds, r.images))
  if (inGraph) {
    row('forward + max/argmax', ms(c.forwardSeconds, c.images), ms(r.forwardSeconds + r.reduceSeconds, r.images), '   (convscope: max / argmax in the onnxruntime graph; PyTorch: forward, then max / argmax with top-K)')
  } else {
    row('forward', ms(c.forwardSeconds, c.images), ms(r.forwardSeconds, r.images))
    row(`max / argmax (${c.reducePlace})`, ms(c.reduceSeconds, c.images), ms(r.reduceSeconds, r.images), '   (PyTorch: with top-K)')
  }
  row('top-K offers', ms(c.topkSeconds, c.images), '')
  if (c.reduceOtherSeconds !== undefined) console.log(`  (max / argmax ${c.reducePlace === 'js' ? 'on the backend' : 'in JS'} instead: ${ms(c.reduceOtherSeconds, c.images)} ms, same results)`)
}

// ---------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------

const f1 = (x: number) => x.toFixed(1)
const f2 = (x: number) => x.toFixed(2)

function printTable(results: SuiteResult[], memory: MemoryResult[]): void {
  const name = (r: SuiteResult) => `${r.suite}, ${r.layers}${r.layerSet === 'default' ? ' default' : ''} layer${r.layers === 1 ? '' : 's'}`
  const rows = [['suite', 'images', 'tool', 'setup', 'wall s', 'img/s (wall)', 'img/s (scan loop)', 'peak RSS MiB', 'peak PSS MiB']]
  for (const r of results) {
    rows.push([name(r), String(r.images), 'convscope', `${r.convscope.mode}, ${r.convscope.executor}`, f1(r.convscope.wallSeconds), f1(r.convscope.imagesPerSecond), f1(r.convscope.scanImagesPerSecond), f1(r.convscope.peakRssMiB), f1(r.convscope.peakPssMiB)])
    rows.push(['', '', 'PyTorch', r.reference.setup, f1(r.reference.wallSeconds), f1(r.reference.imagesPerSecond), f1(r.reference.scanImagesPerSecond), f1(r.reference.peakRssMiB), f1(r.reference.peakPssMiB)])
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '))
  for (const r of results) {
    console.log(`${name(r)}: load average ${r.loadAverages.map(f1).join(' → ')}; best of ${r.rounds} round(s)`)
    if (r.reference.allRuns.length > 1) {
      console.log(`${name(r)}: every PyTorch run: ${r.reference.allRuns.map((x) => `${x.setup}: ${f1(r.images / x.wallSeconds)} img/s wall, ${f1(x.scanImagesPerSecond)} loop`).join('; ')}`)
    }
    console.log(
      `${name(r)}: convscope / PyTorch = ${f2(r.ratio.wall)}× (wall), ${f2(r.ratio.scanLoop)}× (scan loop); ` +
        `top-${r.k} agreement ${f1(100 * r.agreement.meanOverlap)} % of entries, top-1 image same for ${f1(100 * r.agreement.top1)} % of ${r.units} units; ` +
        `PyTorch forward ${f1(r.reference.forwardSeconds)} s, reduction ${f1(r.reference.reduceSeconds)} s`,
    )
  }
  for (const r of results) {
    for (const s of r.setups.length > 1 ? r.setups : []) {
      console.log(`${name(r)}: setup ${s.setup} (${s.mode}): ${f1(s.imagesPerSecond)} img/s wall (${s.allWallSeconds.map(f1).join(' / ')} s), ${f1(s.scanImagesPerSecond)} loop; ${f2(s.ratio.wall)}× / ${f2(s.ratio.scanLoop)}× PyTorch; ${s.processes} processes, peak PSS ${f1(s.peakPssMiB)} MiB`)
    }
    for (const s of r.setups) {
      const p = s.scanProfile
      if (!p) continue
      const heading = `${name(r)}${r.setups.length > 1 ? `, setup ${s.setup}` : ''}: convscope scan --profile of its best round${p.processes > 1 ? `, summed over ${p.processes} worker processes (process-seconds)` : ''}`
      for (const line of formatProfile(p.total, heading)) console.log(line)
      if (p.mergeSeconds !== undefined) console.log(`  merging the workers' results ${f2(p.mergeSeconds)} s`)
      console.log(`  outside the scan (command wall − manifest seconds): ${f2(s.outsideLoopSeconds)} s`)
    }
  }
  for (const suite of new Set(results.map((r) => r.suite))) {
    const every = results.find((r) => r.suite === suite && r.layerSet === 'every')
    const one = results.find((r) => r.suite === suite && r.layerSet === 'one')
    if (every && one) {
      console.log(
        `${suite}: 1 layer vs every layer (${every.layers}): convscope ${f1(one.convscope.imagesPerSecond)} vs ${f1(every.convscope.imagesPerSecond)} img/s wall ` +
          `(${f1(one.convscope.scanImagesPerSecond)} vs ${f1(every.convscope.scanImagesPerSecond)} loop); PyTorch ${f1(one.reference.imagesPerSecond)} vs ${f1(every.reference.imagesPerSecond)} img/s wall`,
      )
    }
  }
  for (const m of memory) {
    console.log(`memory: ${m.images} images: peak RSS ${f1(m.peakRssMiB)} MiB, PSS ${f1(m.peakPssMiB)} MiB (${m.mode}, ${m.executor}, ${m.processes} processes, ${f1(m.wallSeconds)} s)`)
    console.log(`  each process's own peak PSS: ${m.perProcess.map((p) => `${f1(p.peakPssMiB)} MiB ${p.command}`).join('; ')}`)
  }
}

async function main(): Promise<void> {
  tf.env().set('PROD', true) // no tfjs console advice from the models this process opens to list layers
  const suites = values.suite === 'all' ? ['demo', 'mobilenet'] : values.suite === 'none' ? [] : [values.suite!]
  for (const s of suites) if (s !== 'demo' && s !== 'mobilenet') throw new Error(`--suite must be demo, mobilenet, all or none, not ${s}`)
  await mkdir(CACHE, { recursive: true })
  const results: SuiteResult[] = []
  const gap = join(ROOT, 'resources/demo-models/gap')
  let demoData: string | null = null
  const demo = async () => (demoData ??= await demoImages(128, 715))
  for (const suite of values['profile-only'] ? [] : suites) {
    for (const layerSet of layerSets) {
      if (suite === 'demo') {
        results.push(await runSuite('demo', gap, await demo(), Number(values.images ?? 5000), rounds, layerSet))
      } else {
        const data = await demoImages(224, 36)
        results.push(await runSuite('mobilenet', await mobileNetModel(data), data, Number(values.images ?? 280), rounds, layerSet))
      }
    }
  }
  const profiles: ProfileResult[] = []
  if (values.profile || values['profile-only']) {
    for (const suite of suites) {
      const [model, data] = suite === 'demo' ? [gap, await demo()] : [await mobileNetModel(await demoImages(224, 36)), await demoImages(224, 36)]
      const limit = Math.min(160, Number(values.images ?? (suite === 'demo' ? 5000 : 280)))
      process.stderr.write(`[${suite}] profile over ${limit} images…\n`)
      profiles.push({ suite, convscope: await profileConvscope(model, data, limit), reference: await profileReference(model, data, limit) })
    }
  }
  const memory = values.memory ? await memoryCheck(gap, await demo()) : []
  printTable(results, memory)
  profiles.forEach(printProfile)
  const date = new Date().toISOString().slice(0, 10)
  const file = values.out ?? join(ROOT, 'bench/results', `scan-${date}.json`)
  await mkdir(join(file, '..'), { recursive: true })
  const cpu = cpus()[0]
  const machine = { cpu: cpu?.model ?? '?', cores: CORES, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, gpu: 'none used' }
  const git = await measure('git', ['rev-parse', '--short', 'HEAD'])
  // CONVSCOPE_BENCH_COMMIT names the commit of a copy outside git (e.g. `git archive` of a commit).
  const commit = git.code === 0 ? git.stdout.trim() : (process.env.CONVSCOPE_BENCH_COMMIT ?? 'unknown (not a git checkout)')
  await writeFile(file, JSON.stringify({ date: new Date().toISOString(), commit, machine, workers, results, profiles, memory }, null, 2) + '\n')
  console.log(`wrote ${file}`)
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err)
  process.exitCode = 1
})
