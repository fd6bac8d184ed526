/**
 * `convscope scan --workers W` (workers.ts) on a tiny CNN and 41 small PNGs (one of them broken): the
 * merged result of 2 workers is byte-identical to one process, with --shard the workers' result is exactly
 * that shard's and merges with the other shards into the one-run result, a crashing worker fails the command
 * with its error, and a run whose parent and workers are all killed with SIGKILL resumes every worker and ends
 * identical, its worker folders removed.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { mkdtemp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { scanCommand } from '../../src/main/cli/scanCommand'
import { mergeCommand } from '../../src/main/cli/mergeCommand'
import { MANIFEST_FILE, readManifest, type ScanManifest } from '../../src/main/engine/scan/manifest'
import { WORKERS_DIR, workerDir, workerShard } from '../../src/main/engine/scan/workers'
import { runCli } from '../fixtures/cli'
import { writeNoiseImageTree } from '../fixtures/images'
import { makeTinyCnn } from '../fixtures/models'
import { checkpointPosition as checkpointAt, watchChild, type ChildEnd } from '../helpers/killableRun'

const BIN = join(import.meta.dirname, '../../bin/convscope.mjs')
let root: string
let data: string
let modelDir: string

before(async () => {
  await tf.setBackend('cpu')
  root = await mkdtemp(join(tmpdir(), 'convscope-workers-'))
  modelDir = join(root, 'model')
  await makeTinyCnn(modelDir, { sidecar: { inputSize: [32, 32], range: [0, 1], resize: 'center-crop' } })
  data = join(root, 'data')
  await writeNoiseImageTree(data, { classes: ['cats', 'dogs'], perClass: 20, seed: 11, size: (i) => (i % 5 === 4 ? [40, 40] : [64, 48]) })
  await writeFile(join(data, 'dogs', 'img07b.png'), 'not a png')
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

// tfjs on the cpu backend: this file tests the worker processes, and the kill scenario needs a scan slow enough to
// be killed mid-way (on onnxruntime the tiny model's workers finish between a kill point and the kill).
const scanArgs = (out: string, ...extra: string[]) => ['--model', modelDir, '--data', data, '--out', out, '--top', '5', '--batch', '3', '--backend', 'cpu', '--executor', 'tfjs', ...extra]

const cli = runCli

/** Every .npy of a result folder, by name, as raw bytes. */
async function npyFiles(dir: string): Promise<Map<string, Buffer>> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.npy')).sort()
  return new Map(await Promise.all(names.map(async (n) => [n, await readFile(join(dir, n))] as [string, Buffer])))
}

const withoutTiming = ({ timing: _, ...rest }: ScanManifest) => rest

/** Same .npy bytes and the same manifest except its timing. */
async function assertSameResult(a: string, b: string) {
  const fa = await npyFiles(a)
  const fb = await npyFiles(b)
  assert.deepEqual([...fa.keys()], [...fb.keys()])
  assert.equal(fa.size, 5 * 4, 'five default layers, four arrays each')
  for (const [name, bytes] of fa) assert.ok(bytes.equals(fb.get(name)!), `${name} differs`)
  assert.deepEqual(withoutTiming(await readManifest(a)), withoutTiming(await readManifest(b)))
}

const exists = (p: string) => stat(p).then(() => true, () => false)
let single: string

test('worker w of W scans shard (i + n·w)/(n·W), a partition of shard i/n', () => {
  const shard = { index: 1, count: 3 }
  const parts = [0, 1, 2, 3].map((w) => workerShard(shard, w, 4))
  assert.deepEqual(parts, [{ index: 1, count: 12 }, { index: 4, count: 12 }, { index: 7, count: 12 }, { index: 10, count: 12 }])
  const covered = parts.flatMap((p) => Array.from({ length: 50 }, (_, i) => i).filter((i) => i % p.count === p.index)).sort((a, b) => a - b)
  assert.deepEqual(covered, Array.from({ length: 50 }, (_, i) => i).filter((i) => i % 3 === 1))
})

test('--workers 2 writes exactly the result of --workers 1, reports progress and skipped files, and removes its worker folders', async () => {
  single = join(root, 'one')
  const one = await cli(scanCommand, scanArgs(single, '--workers', '1'))
  assert.equal(one.code, 0, one.err)
  const out = join(root, 'two')
  const two = await cli(scanCommand, scanArgs(out, '--workers', '2'))
  assert.equal(two.code, 0, two.err)
  // The default layers (issue 9: the activation outputs).
  assert.match(two.err, /41 images, layers conv1, dw2, pw2, relu3, conv4, top 5, 2 workers on backend cpu/)
  assert.match(two.err, /41\/41 {2}100% {2}\d+ img\/s/, 'one bar over both workers')
  assert.match(two.err, /skipped 1 unreadable file\(s\) so far/)
  assert.match(two.out, /skipped 1 file\(s\):\n {2}dogs\/img07b\.png: /)
  await assertSameResult(out, single)
  const manifest = await readManifest(out)
  assert.deepEqual(manifest.shard, { index: 0, count: 1 })
  assert.equal(manifest.skipped.length, 1)
  assert.equal(await exists(join(out, WORKERS_DIR)), false, 'worker folders removed after the merge')
  // Run again: the finished result is reused as it is, whatever the worker count.
  const again = await cli(scanCommand, scanArgs(out, '--workers', '2'))
  assert.equal(again.code, 0, again.err)
  assert.deepEqual(await readManifest(out), manifest)
})

test('--shard 1/2 --workers 2 is exactly shard 1/2, and merges with shard 0/2 into the one-run result', async () => {
  const byWorkers = join(root, 'shard1-workers')
  const r = await cli(scanCommand, scanArgs(byWorkers, '--shard', '1/2', '--workers', '2'))
  assert.equal(r.code, 0, r.err)
  const direct = join(root, 'shard1-direct')
  assert.equal((await cli(scanCommand, scanArgs(direct, '--shard', '1/2'))).code, 0)
  await assertSameResult(byWorkers, direct)
  assert.deepEqual((await readManifest(byWorkers)).shard, { index: 1, count: 2 })

  const shard0 = join(root, 'shard0')
  assert.equal((await cli(scanCommand, scanArgs(shard0, '--shard', '0/2', '--batch', '4'))).code, 0)
  const merged = join(root, 'merged')
  const m = await cli(mergeCommand, [shard0, byWorkers, '--out', merged])
  assert.equal(m.code, 0, m.err)
  await assertSameResult(merged, single)
})

test('a worker that fails makes the command fail with its stderr; other worker counts and folders are refused', async () => {
  const out = join(root, 'bad-layer')
  await assert.rejects(cli(scanCommand, scanArgs(out, '--workers', '2', '--layers', 'conv3,nope')), (e: Error) => {
    assert.match(e.message, /worker \d of 2 \(shard \d\/2\) failed \(exit code 2\); its last output:\n[^]*has no layer "nope"/)
    return true
  })
  // Its workers stopped; the unfinished worker scan is not resumed by another worker count.
  await mkdir(workerDir(out, 0, 3), { recursive: true })
  await mkdir(workerDir(out, 1, 2), { recursive: true })
  await assert.rejects(cli(scanCommand, scanArgs(out, '--workers', '2')), /holds worker folders of several worker counts \(3, 2\)|\(2, 3\)/)
  await rm(workerDir(out, 1, 2), { recursive: true })
  await assert.rejects(cli(scanCommand, scanArgs(out, '--workers', '2')), /unfinished scan with --workers 3; run it again with --workers 3/)
  // An explicit other count is refused (without --workers the unfinished count is resumed: scanDefaults.test.ts).
  await assert.rejects(cli(scanCommand, scanArgs(out, '--workers', '1')), /unfinished scan with --workers 3/)
  await assert.rejects(cli(scanCommand, scanArgs(out, '--workers', 'many')), /--workers must be a whole number/)
})

/** Images done according to a checkpoint; null while there is none. */
const checkpointPosition = (dir: string): Promise<number | null> => checkpointAt(dir).catch(() => null)

const RUN_LIMIT_MS = 180_000

/** `convscope scan --workers 2` as its own process group (checkpoint after every image); `kill` is called once, when `when` says so. */
function cliRun(out: string, when?: () => Promise<boolean>, kill: (pid: number) => void = (pid) => process.kill(-pid, 'SIGKILL')): Promise<ChildEnd> {
  const child = spawn(process.execPath, [BIN, 'scan', ...scanArgs(out, '--workers', '2', '--batch', '1')], {
    detached: true,
    env: { ...process.env, CONVSCOPE_CHECKPOINT_MS: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  // A run that hangs fails the test with what its processes were doing, instead of blocking it.
  const stop = (pid: number) => {
    const ps = execFileSync('ps', ['-o', 'pid,stat,etime,args', '-g', String(pid)], { encoding: 'utf8' })
    process.kill(-pid, 'SIGKILL')
    return `\n[test] still running after ${RUN_LIMIT_MS / 1000} s; processes:\n${ps}`
  }
  return watchChild(child, { killWhen: when, kill, limit: { ms: RUN_LIMIT_MS, stop } })
}

/** The pid of the process whose command line holds `text`. */
function pidOf(text: string): number {
  const pids = execFileSync('pgrep', ['-f', text], { encoding: 'utf8' }).trim().split('\n').map(Number)
  assert.equal(pids.length, 1, `one process runs ${text}`)
  return pids[0]!
}

test('a crashed worker fails the command; a run killed with SIGKILL (parent and workers) resumes every worker and ends identical', async () => {
  // The kill points are races with the workers (on a loaded machine one worker can finish before the other has
  // started): a scenario whose run ended before its kill point is tried again in a fresh folder.
  const attempts = 3
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (await killScenario(join(root, `killed-${attempt}`))) return
  }
  assert.fail(`in ${attempts} attempts a run always ended before its kill point`)
})

/** The scenario of the test above; false when a run ended before it could be killed where the scenario needs it. */
async function killScenario(out: string): Promise<boolean> {
  const dirs = [0, 1].map((w) => workerDir(out, w, 2))
  const state = async () => ({
    positions: await Promise.all(dirs.map((d) => checkpointPosition(d))),
    finished: await Promise.all(dirs.map((d) => exists(join(d, MANIFEST_FILE)))),
  })
  // Run 1: worker 1 of 2 dies (SIGKILL) once both workers are under way; the other one is stopped.
  const crash = await cliRun(
    out,
    async () => {
      const { positions, finished } = await state()
      return positions.every((p) => p !== null && p > 0) && !finished.some(Boolean)
    },
    () => process.kill(pidOf(dirs[0]!), 'SIGKILL'),
  )
  // A worker that finished between the kill point and the kill (its checkpoint removed) is a race lost, not a failure.
  if (!crash.killed || (await state()).finished.some(Boolean)) return false
  assert.equal(crash.code, 1, crash.stderr)
  assert.match(crash.stderr, /convscope scan: worker 1 of 2 \(shard 0\/2\) was killed by SIGKILL/)
  assert.equal(spawnSync('pgrep', ['-g', String(crash.pid)]).status, 1, 'the other worker was stopped before the command ended')
  const afterCrash = (await state()).positions
  assert.ok(afterCrash.every((p) => p !== null && p > 0), `both workers checkpointed (${afterCrash.join(', ')})`)

  // Run 2: everything killed with SIGKILL once both workers went further (or finished), one at least unfinished.
  const first = await cliRun(out, async () => {
    const { positions, finished } = await state()
    return positions.every((p, w) => (p !== null && p > afterCrash[w]!) || finished[w]) && positions.some((p, w) => p !== null && !finished[w])
  })
  if (!first.killed) return false
  assert.equal(await exists(join(out, MANIFEST_FILE)), false, 'killed before the merge')
  const at = (await state()).positions
  assert.ok(at.some((p, w) => p !== null && p > afterCrash[w]! && p < 21), `killed mid-way (worker checkpoints at ${at.join(', ')})`)

  // Run 3: to the end.
  const second = await cliRun(out)
  assert.equal(second.code, 0, second.stderr)
  const manifest = await readManifest(out)
  assert.equal(manifest.timing.resumed, true)
  await assertSameResult(out, single)
  assert.deepEqual((await readdir(out)).filter((n) => !n.endsWith('.npy') && n !== MANIFEST_FILE), [], 'no worker folder, checkpoint or temp file is left')
  return true
}
