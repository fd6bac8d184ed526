/**
 * Activation maximization's speed (issue 12): 256 steps (the default settings) on the bundled demo `gap` network,
 * for a class logit and a conv_last unit, through startActmax (methods/neurons/actmax.ts: the loop, previews every
 * 16 steps, the cache written; a fresh workspace so nothing is cached), and in the same run the same steps done by
 * PyTorch (bench/reference/actmax_reference.py: Fourier image, random jitter / scale / rotation, preprocessing,
 * target, gradient, Adam; one thread, as the wasm backend has one). Target: 256 steps ≤ 30 s.
 *
 *   node --import tsx bench/actmax.ts [--steps 256] [--threads 1] [--out FILE]
 *
 * Reports wall seconds and ms per step for each, the ratio, the 1-minute load average before each part (the machine
 * may be shared), and writes bench/results/actmax-<date>.json.
 */
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { StartActmax, type TargetInput } from '../src/shared/api'
import { initBackend } from '../src/main/engine/backend'
import { startActmax } from '../src/main/engine/methods/neurons/actmax'
import { loadModel } from '../src/main/engine/models/loadModel'

const ROOT = resolve(import.meta.dirname, '..')
const GAP = join(ROOT, 'resources/demo-models/gap')
const { values: flags } = parseArgs({ options: { steps: { type: 'string', default: '256' }, threads: { type: 'string', default: '1' }, out: { type: 'string' } } })
const steps = Number(flags.steps)
const load = () => Number(loadavg()[0]!.toFixed(1))

const CASES: { name: string; target: TargetInput; reference: string[] }[] = [
  { name: 'class 6 logit', target: { kind: 'class', class: 6 }, reference: ['--class', '6'] },
  { name: 'conv_last unit 5', target: { kind: 'unit', layer: 'conv_last', channel: 5 }, reference: ['--unit', 'conv_last:5'] },
]

async function main(): Promise<void> {
  const backend = await initBackend({})
  const model = await loadModel(GAP)
  const workspace = await mkdtemp(join(tmpdir(), 'convscope-actmax-bench-'))
  const rows = []
  try {
    for (const c of CASES) {
      const loadBefore = load()
      const params = StartActmax.parse({ modelId: model.info.id, target: c.target, settings: { steps } })
      let previews = 0
      const started = performance.now()
      const result = await startActmax(workspace, model, params, { progress: (p) => void (p.image && previews++), signal: new AbortController().signal })
      const seconds = (performance.now() - started) / 1000
      const loadTorch = load()
      const torch = JSON.parse(
        execFileSync('/usr/bin/python3', [join(ROOT, 'bench/reference/actmax_reference.py'), '--model', GAP, ...c.reference, '--steps', String(steps), '--threads', flags.threads!], { encoding: 'utf8' }),
      ) as { seconds: number; stepMilliseconds: number; objective: Record<string, number> }
      const row = {
        case: c.name,
        convscope: { seconds, stepMilliseconds: result.stepMilliseconds, previews, value: result.images[0]!.value, objective: { first: result.objective[0], last: result.objective.at(-1) }, load: loadBefore },
        pytorch: { ...torch, load: loadTorch },
        ratio: result.stepMilliseconds / torch.stepMilliseconds,
        target30s: seconds <= 30,
      }
      rows.push(row)
      console.log(
        `${c.name}: convscope ${seconds.toFixed(1)} s (${result.stepMilliseconds.toFixed(1)} ms/step, load ${loadBefore}), ` +
          `PyTorch ${torch.stepMilliseconds.toFixed(1)} ms/step (${flags.threads} thread, load ${loadTorch}): ${row.ratio.toFixed(2)}× PyTorch's time; ` +
          `objective ${row.convscope.objective.first!.toFixed(2)} → ${row.convscope.objective.last!.toFixed(2)}`,
      )
    }
  } finally {
    model.dispose()
    await rm(workspace, { recursive: true, force: true })
  }
  const summary = {
    date: new Date().toISOString(),
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim(),
    backend: backend.active,
    steps,
    rows,
  }
  const out = flags.out ?? join(ROOT, `bench/results/actmax-${summary.date.slice(0, 10)}.json`)
  await mkdir(join(out, '..'), { recursive: true })
  await writeFile(out, JSON.stringify(summary, null, 2) + '\n')
  console.log(`wrote ${out}`)
}

await main()
