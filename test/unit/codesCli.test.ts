/**
 * `convscope codes` (issue 13, item 8) on the demo gap network over a few demo images: usage and errors, the
 * JSON summary, `--shard` + `convscope merge` and `--workers 2` each byte-identical to one process.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { codesCommand } from '../../src/main/cli/codesCommand'
import { mergeCommand } from '../../src/main/cli/mergeCommand'
import { generateDemoDataset } from '../../src/main/engine/demo'
import { WORKERS_DIR } from '../../src/main/engine/scan/workers'
import { runCli } from '../fixtures/cli'

const GAP = join(import.meta.dirname, '../../resources/demo-models/gap')
let scratch = ''
let data = ''

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'convscope-codes-cli-'))
  await generateDemoDataset({ out: join(scratch, 'demo'), count: { train: 0, val: 2 }, classes: 4, size: 72, seed: 2 })
  data = join(scratch, 'demo', 'val')
})
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

const args = (out: string, ...extra: string[]) => [GAP, data, '--out', out, '--batch', '3', '--backend', 'cpu', ...extra]

async function assertSameNpy(a: string, b: string) {
  const names = (await readdir(a)).filter((n) => n.endsWith('.npy')).sort()
  assert.deepEqual(names, ['codes.npy', 'pixels.npy', 'predicted.npy'])
  assert.deepEqual((await readdir(b)).filter((n) => n.endsWith('.npy')).sort(), names)
  for (const n of names) assert.ok((await readFile(join(a, n))).equals(await readFile(join(b, n))), `${n} differs`)
}

let single = ''

test('codes: usage without MODEL DATA, a clear error for a bad --dtype, the JSON summary', async () => {
  const none = await runCli(codesCommand, [])
  assert.equal(none.code, 2)
  assert.match(none.err, /usage: convscope codes MODEL DATA \[--layer L\]/)
  await assert.rejects(runCli(codesCommand, args(join(scratch, 'bad'), '--dtype', 'int8')), /--dtype is float16 or float32, got "int8"/)
  await assert.rejects(runCli(codesCommand, args(join(scratch, 'bad'), '--layer', 'nope')), /has no layer "nope"/)
  single = join(scratch, 'single')
  const r = await runCli(codesCommand, args(single, '--workers', '1', '--json'))
  assert.equal(r.code, 0)
  const summary = JSON.parse(r.out) as { images: number; layer: string; dim: number; dtype: string; executor: string; skipped: unknown[] }
  assert.deepEqual([summary.images, summary.layer, summary.dim, summary.dtype, summary.skipped.length], [8, 'gap', 192, 'float32', 0])
  assert.match(r.err, /8 images, layer gap \(192\), float32, 1 process on onnxruntime-cpu/)
})

test('codes --shard i/n merged by convscope merge, and --workers 2, equal one process byte for byte', async () => {
  const parts = ['0/2', '1/2'].map((s, i) => ({ s, dir: join(scratch, `part${i}`) }))
  for (const p of parts) assert.equal((await runCli(codesCommand, args(p.dir, '--shard', p.s, '--workers', '1'))).code, 0)
  const merged = join(scratch, 'merged')
  const m = await runCli(mergeCommand, [...parts.map((p) => p.dir), '--out', merged])
  assert.match(m.out, /merged 2 shard\(s\) into .*: codes of gap for 8 images, 0 skipped/)
  await assertSameNpy(merged, single)
  const workers = join(scratch, 'workers')
  const w = await runCli(codesCommand, args(workers, '--workers', '2'))
  assert.equal(w.code, 0, w.err)
  assert.match(w.err, /8 images, layer gap, float32, 2 workers on backend cpu/)
  await assertSameNpy(workers, single)
  assert.ok(!(await readdir(workers)).includes(WORKERS_DIR), 'the worker folders are removed')
})
