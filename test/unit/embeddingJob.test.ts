import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { noopContext } from '../../src/main/engine/context'
import { embedCodes, readEmbedding } from '../../src/main/engine/embeddings/embeddingStore'
import { principalComponents } from '../../src/main/engine/projections/pca'
import { embedCommand } from '../../src/main/cli/embedCommand'
import { decodeNpy } from '../../src/main/engine/store/npy'
import { runCli } from '../fixtures/cli'
import { writeCodesFolder } from '../fixtures/codesFolder'
import { seededRandom } from '../fixtures/models'

const count = 40
const dim = 12
const skipped = [0, 7, 39]

async function folder(t: { after: (fn: () => Promise<void>) => void }) {
  const root = await mkdtemp(join(tmpdir(), 'convscope-embed-'))
  t.after(() => rm(root, { recursive: true, force: true }))
  const rand = seededRandom(5)
  const codes = Float32Array.from({ length: count * dim }, (_, i) => rand() + (i % dim) * 0.1 * Math.floor(i / dim / 10))
  const { dir } = await writeCodesFolder(join(root, 'codes'), { codes, count, dim, skipped })
  return { dir, codes }
}

test('embedCodes: PCA of the readable rows, NaN rows put back in place, stored; a second call returns it (cached)', async (t) => {
  const { dir, codes } = await folder(t)
  assert.equal(await readEmbedding(dir, 'pca', {}, 2), null)
  const first = await embedCodes(dir, 'pca', {}, 2, noopContext())
  assert.equal(first.cached, false)
  assert.equal(first.count, count)
  assert.equal(first.points.length, count * 2)
  assert.equal(first.explainedVariance?.length, 2)

  const readableRows = Array.from({ length: count }, (_, r) => r).filter((r) => !skipped.includes(r))
  const readable = new Float32Array(readableRows.length * dim)
  readableRows.forEach((r, i) => readable.set(codes.subarray(r * dim, (r + 1) * dim), i * dim))
  const direct = await principalComponents({ data: readable, count: readableRows.length, dim }, 2, noopContext())
  for (let r = 0; r < count; r++) {
    const i = readableRows.indexOf(r)
    for (let c = 0; c < 2; c++) {
      if (i < 0) assert.ok(Number.isNaN(first.points[r * 2 + c]!), `row ${r} is skipped: NaN`)
      else assert.ok(Math.abs(first.points[r * 2 + c]! - direct.points[i * 2 + c]!) < 1e-5, `row ${r}`)
    }
  }

  const second = await embedCodes(dir, 'pca', {}, 2, noopContext())
  assert.equal(second.cached, true)
  assert.equal(second.file, first.file)
  assert.deepEqual(Array.from(second.points), Array.from(first.points))
  assert.deepEqual(Array.from(second.explainedVariance!), Array.from(first.explainedVariance!))
  assert.deepEqual((await readEmbedding(dir, 'pca', {}, 2))?.points, second.points)
  // Other dims are another file.
  assert.equal(await readEmbedding(dir, 'pca', {}, 3), null)
})

test('embedCodes: cancelled before it ends, nothing is stored', async (t) => {
  const { dir } = await folder(t)
  const controller = new AbortController()
  controller.abort()
  await assert.rejects(embedCodes(dir, 'pca', {}, 2, { progress: () => {}, signal: controller.signal }), /Cancelled/)
  const files = existsSync(join(dir, 'embeddings')) ? await readdir(join(dir, 'embeddings')) : []
  assert.deepEqual(files.filter((f) => f.endsWith('.json')), [])
})

test('embedCodes refuses an unknown setting, an unknown method and too many dimensions', async (t) => {
  const { dir } = await folder(t)
  await assert.rejects(embedCodes(dir, 'pca', { perplexity: 30 }, 2, noopContext()), /pca has no setting "perplexity"/)
  await assert.rejects(embedCodes(dir, 'mds', {}, 2, noopContext()), /unknown projection "mds"/)
  await assert.rejects(embedCodes(dir, 'pca', {}, 101, noopContext()), /PCA makes 1 to 100 dimensions, not 101/)
  await assert.rejects(embedCodes(join(dir, 'nope'), 'pca', {}, 2, noopContext()), /not a finished codes folder/)
})

test('convscope embed: CSV rows path,class,predicted,x,y (empty coordinates for unreadable images), the .npy copy, --json', async (t) => {
  const { dir } = await folder(t)
  const out = join(dir, '..', 'out')
  const run = await runCli(embedCommand, [dir, '--method', 'pca', '--csv', join(out, 'map.csv'), '--npy', join(out, 'map.npy'), '--json'])
  assert.equal(run.code, 0, run.err)
  const summary = JSON.parse(run.out) as { method: string; count: number; dims: number; written: Record<string, string> }
  assert.equal(summary.count, count)
  const csv = (await readFile(join(out, 'map.csv'), 'utf8')).trim().split('\n')
  assert.equal(csv[0], 'path,class,predicted,x,y')
  assert.equal(csv.length, count + 1)
  const embedding = (await readEmbedding(dir, 'pca', {}, 2))!
  const row1 = csv[2]!.split(',')
  assert.match(row1[0]!, /class1\/img1\.png$/)
  assert.deepEqual(row1.slice(1, 3), ['class1', 'b'])
  assert.deepEqual(row1.slice(3).map(Number), Array.from(embedding.points.subarray(2, 4)))
  assert.deepEqual(csv[1]!.split(',').slice(3), ['', ''], 'row 0 was skipped')
  const npy = decodeNpy(await readFile(join(out, 'map.npy')))
  assert.deepEqual(npy.shape, [count, 2])
  await assert.rejects(runCli(embedCommand, [dir, '--method', 'pca', '--dims', '3', '--png', join(out, 'x.png')]), /--png draws a 2-D map/)
})
