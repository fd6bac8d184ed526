/**
 * The command line's start-up: bin/convscope.mjs running its bundle (bin/cliBundle.mjs) against the sources
 * through tsx (CONVSCOPE_CLI_BUNDLE=0), on a snapshot copy of this checkout (other edits in the tree would make
 * the bundle stale mid-run). Per round, alternating tsx / bundle: `convscope --help`, and `convscope scan` of
 * the demo network over N demo images with --workers W (each worker process starts the CLI again); the best of
 * the rounds counts. Also: the bundle's freshness check (every input stat'ed) and a build, in this process;
 * with --tests, the wall time of CLI-heavy unit test files (they run bin/convscope.mjs as subprocesses).
 *
 *   node --import tsx bench/cliStartup.ts [--rounds 3] [--images 200] [--workers 2] [--tests test/unit/cli.test.ts,...] [--out FILE]
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { copyCheckout, CHECKOUT } from '../test/helpers/checkoutCopy'
import { demoImages } from './demoImages'
import { gitCommit } from './gitCommit'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    images: { type: 'string', default: '200' },
    workers: { type: 'string', default: '2' },
    tests: { type: 'string', default: '' },
    out: { type: 'string' },
  },
})
const rounds = Number(values.rounds)
const images = Number(values.images)
const workers = values.workers
const load1 = () => Number(loadavg()[0]!.toFixed(2))
const ENTRIES = ['src/main', 'src/shared', 'bin', 'resources', 'package.json', 'tsconfig.node.json']

type How = 'tsx' | 'bundle'
const env = (how: How) => ({ ...process.env, CONVSCOPE_CLI_BUNDLE: how === 'tsx' ? '0' : '1', CONVSCOPE_DEBUG: '1' })

/** CPU seconds (user + system) of this process's finished children and theirs (Linux /proc; NaN elsewhere). */
function childrenCpuSeconds(): number {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[13]) + Number(fields[14])) / 100 // cutime + cstime, in USER_HZ ticks (100 on Linux)
  } catch {
    return NaN
  }
}

/** Wall and CPU seconds of `node <bin> args` in `cwd`; fails when it fails or when it had to build the bundle (the run measures starts, not builds). */
function timed(bin: string, args: string[], how: How, cwd: string, cpu: number[]): number {
  const start = performance.now()
  const cpuStart = childrenCpuSeconds()
  const r = spawnSync(process.execPath, [bin, ...args], { env: env(how), cwd, encoding: 'utf8', maxBuffer: 1 << 26 })
  const seconds = (performance.now() - start) / 1000
  cpu.push(Number((childrenCpuSeconds() - cpuStart).toFixed(2)))
  if (r.status !== 0) throw new Error(`${how} ${args.join(' ')} failed (${r.status}):\n${r.stderr.slice(-2000)}`)
  if (/built the CLI bundle|running the sources with tsx/.test(r.stderr)) throw new Error(`${how} ${args[0]} did not run a ready bundle:\n${r.stderr.slice(-2000)}`)
  return seconds
}

interface Series {
  seconds: number[]
  /** user + system CPU seconds of the command's process tree: less at the mercy of the machine's load than wall time */
  cpuSeconds: number[]
  loads: number[]
}
const series = (): Series => ({ seconds: [], cpuSeconds: [], loads: [] })
const best = (s: Series) => Math.min(...s.seconds)

async function main(): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), 'convscope-cli-startup-'))
  try {
    const copy = await copyCheckout(join(scratch, 'checkout'), ENTRIES)
    const bin = join(copy, 'bin', 'convscope.mjs')
    const data = await demoImages(128, Math.ceil(images / 14))
    const gap = join(copy, 'resources', 'demo-models', 'gap')

    // The bundle's own costs, measured in a child so that its module state is fresh: a build, then the check.
    const costs = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', `
        import { rmSync } from 'node:fs'
        const { cliBundle } = await import(${JSON.stringify(join(copy, 'bin', 'cliBundle.mjs'))})
        rmSync(${JSON.stringify(join(copy, 'out', 'cli'))}, { recursive: true, force: true })
        let t = performance.now(); await cliBundle(); const buildMs = performance.now() - t
        const checks = []
        for (let i = 0; i < 20; i++) { t = performance.now(); await cliBundle(); checks.push(performance.now() - t) }
        console.log(JSON.stringify({ buildMs, checkMs: Math.min(...checks), checkMedianMs: checks.sort((a, b) => a - b)[10] }))
      `], { encoding: 'utf8' }),
    ) as { buildMs: number; checkMs: number; checkMedianMs: number }
    const inputs = (JSON.parse(await readFile(join(copy, 'out', 'cli', 'current.json'), 'utf8')) as { inputs: unknown[] }).inputs.length
    process.stderr.write(`bundle: build ${costs.buildMs.toFixed(0)} ms, freshness check of ${inputs} files ${costs.checkMs.toFixed(1)} ms (load ${load1()})\n`)

    const help = { tsx: series(), bundle: series() }
    const scan = { tsx: series(), bundle: series() }
    const scanArgs = (out: string) => ['scan', '--model', gap, '--data', data, '--out', out, '--workers', workers, '--limit', String(images)]
    for (let round = 0; round < rounds; round++) {
      const order: How[] = round % 2 === 0 ? ['tsx', 'bundle'] : ['bundle', 'tsx']
      for (const how of order) {
        help[how].loads.push(load1())
        help[how].seconds.push(timed(bin, ['--help'], how, copy, help[how].cpuSeconds))
      }
      for (const how of order) {
        const out = join(scratch, `scan-${how}-${round}`)
        scan[how].loads.push(load1())
        scan[how].seconds.push(timed(bin, scanArgs(out), how, copy, scan[how].cpuSeconds))
        await rm(out, { recursive: true, force: true })
      }
      process.stderr.write(`round ${round + 1}: --help tsx ${help.tsx.seconds.at(-1)!.toFixed(2)} s, bundle ${help.bundle.seconds.at(-1)!.toFixed(2)} s; scan tsx ${scan.tsx.seconds.at(-1)!.toFixed(2)} s, bundle ${scan.bundle.seconds.at(-1)!.toFixed(2)} s (load ${load1()})\n`)
    }

    // Test files run in the real checkout: the bundle there is built first (untimed), and may be rebuilt when others edit sources.
    const tests: Record<string, { tsx: Series; bundle: Series }> = {}
    for (const file of values.tests.split(',').filter(Boolean)) {
      tests[file] = { tsx: series(), bundle: series() }
      spawnSync(process.execPath, [join(CHECKOUT, 'bin', 'convscope.mjs'), '--help'], { stdio: 'ignore' })
      for (const how of ['tsx', 'bundle'] as const) {
        tests[file]![how].loads.push(load1())
        const start = performance.now()
        const cpuStart = childrenCpuSeconds()
        const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', file], { cwd: CHECKOUT, env: { ...process.env, CONVSCOPE_CLI_BUNDLE: how === 'tsx' ? '0' : '1' }, encoding: 'utf8' })
        tests[file]![how].seconds.push((performance.now() - start) / 1000)
        tests[file]![how].cpuSeconds.push(Number((childrenCpuSeconds() - cpuStart).toFixed(2)))
        if (r.status !== 0) throw new Error(`${file} failed under ${how}:\n${r.stdout.slice(-3000)}`)
        process.stderr.write(`${file}: ${how} ${tests[file]![how].seconds.at(-1)!.toFixed(1)} s (load ${load1()})\n`)
      }
    }

    const summary = (s: { tsx: Series; bundle: Series }) => ({
      tsxBestS: Number(best(s.tsx).toFixed(3)),
      bundleBestS: Number(best(s.bundle).toFixed(3)),
      speedup: Number((best(s.tsx) / best(s.bundle)).toFixed(2)),
      tsxBestCpuS: Math.min(...s.tsx.cpuSeconds),
      bundleBestCpuS: Math.min(...s.bundle.cpuSeconds),
      runs: s,
    })
    const result = {
      date: new Date().toISOString(),
      commit: gitCommit(),
      machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
      method: 'wall (and CPU) seconds of bin/convscope.mjs as a subprocess on a snapshot copy of the checkout; tsx = CONVSCOPE_CLI_BUNDLE=0; runs alternate tsx/bundle, best of the rounds',
      rounds,
      bundle: { inputs, buildMs: Math.round(costs.buildMs), freshnessCheckMs: Number(costs.checkMs.toFixed(2)), freshnessCheckMedianMs: Number(costs.checkMedianMs.toFixed(2)) },
      help: summary(help),
      scan: { images, workers, model: 'demo gap', ...summary(scan) },
      testFiles: Object.fromEntries(Object.entries(tests).map(([f, s]) => [f, summary(s)])),
      loadAverageEnd: load1(),
    }
    const file = values.out ?? join(CHECKOUT, 'bench', 'results', `cli-startup-${result.date.slice(0, 10)}.json`)
    await mkdir(join(file, '..'), { recursive: true })
    await writeFile(file, JSON.stringify(result, null, 2) + '\n')
    process.stderr.write(`--help ${result.help.tsxBestS} → ${result.help.bundleBestS} s (${result.help.speedup}×); scan ${result.scan.tsxBestS} → ${result.scan.bundleBestS} s (${result.scan.speedup}×); wrote ${file}\n`)
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

await main()
