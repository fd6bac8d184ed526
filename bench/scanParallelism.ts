/**
 * How a scan should use the cores (issue 11, item 4): `convscope scan` as a subprocess in several setups, in one
 * run of this script, alternating setups round by round (best of R), with the 1-minute load average beside
 * each run (the machine may be shared):
 *
 *   PxT:aA   P worker processes (--workers P; 1 = this process) × T onnxruntime threads each (OMP_NUM_THREADS;
 *            'C' = every core), decoding A batches ahead of the forward pass (CONVSCOPE_LOAD_AHEAD)
 *
 * Per run: end-to-end images/s (process start to exit: Node, tsx, model, workers, merge), the scan loop's
 * images/s (manifest timing), and from `--profile` the time the forward pass waited for images and the time
 * spent decoding (summed over workers). Suites: resnet18 ONNX at 224² (test/.cache/torchvision, made by
 * scripts/onnx/exportTorchvision.py) over demo images generated at 384² (JPEG, decoding costs like a photo's),
 * and the demo network `gap` at 64² over the 128² demo images: its ONNX port (test/.cache/demo-onnx/gap) and the
 * TF.js model (written as ONNX by executors/toOnnx/; on tfjs where it cannot be), both on onnxruntime.
 *
 * First it checks whether onnxruntime-node's `session.run` leaves the event loop free while it computes (if it
 * did, sharp's callbacks would go on during a run): the longest gap between 1 ms timers during runs of resnet18,
 * against the run's time.
 *
 *   node --import tsx bench/scanParallelism.ts [--suite resnet18,gap-onnx,gap-tfjs] [--rounds 3]
 *     [--setups 1x1:a2,1xC:a1,1xC:a2,Cx1:a1,Cx1:a2] [--images-resnet 320] [--images-gap 3000] [--out FILE]
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { readFile } from 'node:fs/promises'
import { generateDemoDataset } from '../src/main/engine/demo'
import type { ScanProfile } from '../src/main/engine/scan/profile'

const ROOT = join(import.meta.dirname, '..')
const BIN = join(ROOT, 'bin/convscope.mjs')
const CACHE = join(ROOT, '.cache/bench')
const CORES = availableParallelism()

const { values } = parseArgs({
  options: {
    suite: { type: 'string', default: 'resnet18,gap-onnx,gap-tfjs' },
    rounds: { type: 'string', default: '3' },
    setups: { type: 'string', default: '1x1:a2,1xC:a1,1xC:a2,Cx1:a1,Cx1:a2' },
    'images-resnet': { type: 'string', default: '320' },
    'images-gap': { type: 'string', default: '3000' },
    out: { type: 'string' },
  },
})

interface Setup {
  name: string
  processes: number
  /** onnxruntime threads per process; null: every core (OMP_NUM_THREADS unset). */
  threads: number | null
  ahead: number
}

function parseSetup(text: string): Setup {
  const m = /^(\d+|C)x(\d+|C):a(\d+)$/.exec(text.trim())
  if (!m) throw new Error(`a setup is PxT:aA (P, T a number or C for every core), not "${text}"`)
  const count = (s: string) => (s === 'C' ? CORES : Number(s))
  const processes = count(m[1]!)
  // Workers run one thread each (scan/workers.ts sets OMP_NUM_THREADS=1): P > 1 with T > 1 is not a setup.
  if (processes > 1 && count(m[2]!) !== 1) throw new Error(`${text}: worker processes run one thread each`)
  return { name: text.trim(), processes, threads: m[2] === 'C' ? null : Number(m[2]), ahead: Number(m[3]) }
}

interface Suite {
  name: string
  model: string
  data: string
  images: number
}

async function demoImages(size: number, perClass: number): Promise<string> {
  const dir = join(CACHE, `demo-${size}px-${perClass}x14`)
  if (!existsSync(join(dir, 'dataset.json'))) {
    process.stderr.write(`making ${perClass * 14} demo images at ${size}² in ${dir}…\n`)
    await generateDemoDataset({ out: dir, count: { train: 0, val: perClass }, size, seed: 0 })
  }
  return join(dir, 'val')
}

async function suite(name: string): Promise<Suite> {
  if (name === 'resnet18') {
    const model = join(ROOT, 'test/.cache/torchvision/resnet18')
    if (!existsSync(model)) throw new Error(`${model} is missing: CONVSCOPE_TORCHVISION=resnet18 /usr/bin/python3 scripts/onnx/exportTorchvision.py (see its header)`)
    const images = Number(values['images-resnet'])
    return { name, model, data: await demoImages(384, Math.ceil(images / 14)), images }
  }
  const images = Number(values['images-gap'])
  const data = await demoImages(128, Math.max(715, Math.ceil(images / 14)))
  if (name === 'gap-onnx') {
    const model = join(ROOT, 'test/.cache/demo-onnx/gap')
    if (!existsSync(model)) throw new Error(`${model} is missing: run test/unit/onnxRuntimeScan.test.ts once (it ports the demo network)`)
    return { name, model, data, images }
  }
  if (name === 'gap-tfjs') return { name, model: join(ROOT, 'resources/demo-models/gap'), data, images }
  throw new Error(`unknown suite ${name}`)
}

interface Run {
  suite: string
  setup: string
  round: number
  load: number
  endToEnd: number
  loop: number
  executor: string
  waitSeconds: number
  decodingSeconds: number
  forwardSeconds: number
  wallSeconds: number
}

interface ScanJson {
  seconds: number
  imagesPerSecond: number
  executor: string
  images: number
  profile: { total: ScanProfile } | null
}

async function runOnce(s: Suite, setup: Setup, out: string): Promise<Omit<Run, 'suite' | 'setup' | 'round'>> {
  const env: NodeJS.ProcessEnv = { ...process.env, CONVSCOPE_LOAD_AHEAD: String(setup.ahead), CONVSCOPE_CHECKPOINT_MS: '1000000000' }
  if (setup.threads === null) delete env.OMP_NUM_THREADS
  else env.OMP_NUM_THREADS = String(setup.threads)
  const args = [BIN, 'scan', '--model', s.model, '--data', s.data, '--limit', String(s.images), '--out', out, '--workers', String(setup.processes), '--json', '--profile']
  const load = loadavg()[0]!
  const t0 = performance.now()
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (c) => resolve({ code: c, stdout, stderr }))
  })
  const seconds = (performance.now() - t0) / 1000
  if (code !== 0) throw new Error(`scan failed (${code}):\n${stderr.slice(-3000)}`)
  const r = JSON.parse(stdout) as ScanJson
  const p = r.profile!.total
  const n = Math.min(s.images, r.images)
  return { load, endToEnd: n / seconds, loop: r.imagesPerSecond, executor: r.executor, waitSeconds: p.waitForImagesSeconds, decodingSeconds: p.decodingSeconds, forwardSeconds: p.forwardSeconds, wallSeconds: p.wallSeconds }
}

/** The longest event-loop gap while `session.run` computes, against the run's own time (ms). */
async function eventLoopDuringRun(): Promise<{ runMs: number; longestGapMs: number }> {
  const ort = await import('onnxruntime-node')
  const bytes = await readFile(join(ROOT, 'test/.cache/torchvision/resnet18/model.onnx'))
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 })
  const feed = { [session.inputNames[0]!]: new ort.Tensor('float32', new Float32Array(4 * 3 * 224 * 224).fill(0.5), [4, 3, 224, 224]) }
  await session.run(feed) // warm-up
  let last = performance.now()
  let longestGapMs = 0
  const timer = setInterval(() => {
    const now = performance.now()
    longestGapMs = Math.max(longestGapMs, now - last)
    last = now
  }, 1)
  const t0 = performance.now()
  await session.run(feed)
  const runMs = performance.now() - t0
  await new Promise((r) => setTimeout(r, 5))
  clearInterval(timer)
  await session.release()
  return { runMs, longestGapMs }
}

const setups = values.setups!.split(',').map(parseSetup)
const rounds = Number(values.rounds)
const scratch = await mkdtemp(join(tmpdir(), 'convscope-bench-par-'))
const runs: Run[] = []
await mkdir(CACHE, { recursive: true })
console.log(`${CORES} cores (${cpus()[0]?.model}), load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
const blocking = await eventLoopDuringRun()
console.log(`onnxruntime-node session.run (resnet18, batch 4, 1 thread): ${blocking.runMs.toFixed(0)} ms; longest event-loop gap meanwhile ${blocking.longestGapMs.toFixed(0)} ms (${blocking.longestGapMs >= 0.9 * blocking.runMs ? 'the run holds the event loop' : 'the loop runs beside it'})`)
try {
  for (const name of values.suite!.split(',')) {
    const s = await suite(name.trim())
    for (let round = 0; round < rounds; round++) {
      // Alternate: each round runs every setup, in a rotated order.
      const order = setups.map((_, i) => setups[(i + round) % setups.length]!)
      for (const setup of order) {
        const out = join(scratch, `${s.name}-${setup.name.replace(/[^a-z0-9]/gi, '_')}-${round}`)
        const r = await runOnce(s, setup, out)
        await rm(out, { recursive: true, force: true })
        runs.push({ suite: s.name, setup: setup.name, round, ...r })
        console.log(
          `  ${s.name} ${setup.name.padEnd(8)} round ${round}: ${r.endToEnd.toFixed(1).padStart(7)} img/s end to end, ${r.loop.toFixed(1).padStart(7)} in the loop, waited ${r.waitSeconds.toFixed(2)} s of ${r.wallSeconds.toFixed(2)} s (decoding ${r.decodingSeconds.toFixed(2)} s, forward ${r.forwardSeconds.toFixed(2)} s), ${r.executor}, load ${r.load.toFixed(2)}`,
        )
      }
    }
    console.log(`${s.name}: best of ${rounds} (img/s end to end / in the loop; wait share of the loop, median; start-up + merge, median):`)
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    for (const setup of setups) {
      const mine = runs.filter((r) => r.suite === s.name && r.setup === setup.name)
      const best = mine.reduce((a, b) => (b.endToEnd > a.endToEnd ? b : a))
      const wait = median(mine.map((r) => (100 * r.waitSeconds) / r.wallSeconds))
      // Seconds outside the scan loop: process and worker start, model load, merge.
      const overhead = median(mine.map((r) => s.images / r.endToEnd - s.images / r.loop))
      console.log(`  ${setup.name.padEnd(8)} ${best.endToEnd.toFixed(1).padStart(7)} / ${Math.max(...mine.map((r) => r.loop)).toFixed(1).padStart(7)}   wait ${wait.toFixed(1)} %   outside the loop ${overhead.toFixed(1)} s  (load ${best.load.toFixed(2)})`)
    }
  }
} finally {
  await rm(scratch, { recursive: true, force: true })
}
const file = values.out ?? join(ROOT, 'bench/results', `scanParallelism-${new Date().toISOString().slice(0, 10)}.json`)
await writeFile(file, JSON.stringify({ date: new Date().toISOString(), cores: CORES, cpu: cpus()[0]?.model, blocking, setups: setups.map((s) => s.name), rounds, runs }, null, 1) + '\n')
console.log(`wrote ${file}`)

