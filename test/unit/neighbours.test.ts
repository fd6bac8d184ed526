import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { ConvscopeError } from '../../src/shared/api'
import { neighboursCommand } from '../../src/main/cli/neighboursCommand'
import { runCli } from '../fixtures/cli'
import { findNeighbours } from '../../src/main/engine/methods/embeddings/neighbours'
import { writeCodesFolder } from '../fixtures/codesFolder'
import { seededRandom } from '../fixtures/models'

const noModel = async (): Promise<never> => {
  throw new ConvscopeError('NOT_FOUND', 'No model with id synthetic-model has been opened in this workspace; open its folder first')
}

test('neighbours of an image of the folder: its code and pixel neighbours by brute force, itself and skipped images left out', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'convscope-nn-'))
  t.after(() => rm(root, { recursive: true, force: true }))
  const rand = seededRandom(3)
  const count = 30
  const dim = 6
  const codes = Float32Array.from({ length: count * dim }, () => rand() - 0.5)
  const pixels = Uint8Array.from({ length: count * 3072 }, () => Math.floor(rand() * 256))
  const { dir, paths } = await writeCodesFolder(join(root, 'codes'), { codes, count, dim, pixels, skipped: [4] })

  const got = await findNeighbours(dir, paths[2]!, 5, 'cosine', noModel)
  assert.equal(got.index, 2)
  const cos = (i: number) => {
    let dot = 0
    let a = 0
    let b = 0
    for (let c = 0; c < dim; c++) {
      dot += codes[2 * dim + c]! * codes[i * dim + c]!
      a += codes[2 * dim + c]! ** 2
      b += codes[i * dim + c]! ** 2
    }
    return 1 - dot / Math.sqrt(a * b)
  }
  const pix = (i: number) => Math.sqrt(Array.from({ length: 3072 }, (_, c) => (pixels[2 * 3072 + c]! - pixels[i * 3072 + c]!) ** 2).reduce((x, y) => x + y))
  const others = Array.from({ length: count }, (_, i) => i).filter((i) => i !== 2 && i !== 4)
  const byCode = [...others].sort((a, b) => cos(a) - cos(b)).slice(0, 5)
  const byPixel = [...others].sort((a, b) => pix(a) - pix(b)).slice(0, 5)
  assert.deepEqual(got.code.map((n) => n.index), byCode)
  assert.deepEqual(got.pixel.map((n) => n.index), byPixel)
  got.code.forEach((n) => assert.ok(Math.abs(n.distance - cos(n.index)) < 1e-5))
  got.pixel.forEach((n) => assert.ok(Math.abs(n.distance - pix(n.index)) < 1e-2))
  assert.equal(got.code[0]!.path, paths[byCode[0]!])
  assert.equal(got.code[0]!.className, `class${byCode[0]! % 3}`)

  // A second call reuses the resident matrices and agrees.
  const again = await findNeighbours(dir, paths[2]!, 5, 'cosine', noModel)
  assert.deepEqual(again.code, got.code)

  await assert.rejects(findNeighbours(dir, paths[4]!, 5, 'l2', noModel), /could not be read when the codes were made/)
  await assert.rejects(findNeighbours(dir, join(root, 'elsewhere.png'), 5, 'l2', noModel), /is not in .*its code needs the folder's model \(synthetic-model\): No model with id/)
})

test('convscope neighbours: --json result and --png figure (query + k tiles in two rows; missing images grey)', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'convscope-nn-cli-'))
  t.after(() => rm(root, { recursive: true, force: true }))
  const rand = seededRandom(4)
  const count = 12
  const dim = 4
  const { dir, paths } = await writeCodesFolder(join(root, 'codes'), { codes: Float32Array.from({ length: count * dim }, () => rand()), count, dim })
  const png = join(root, 'figure.png')
  const run = await runCli(neighboursCommand, [dir, paths[5]!, '--k', '3', '--metric', 'l2', '--png', png, '--json'])
  assert.equal(run.code, 0, run.err)
  const result = JSON.parse(run.out) as { index: number; metric: string; code: unknown[]; pixel: unknown[] }
  assert.equal(result.index, 5)
  assert.equal(result.metric, 'l2')
  assert.equal(result.code.length, 3)
  assert.equal(result.pixel.length, 3)
  const meta = await sharp(png).metadata()
  // Two rows of 96-pixel tiles: query + 3 neighbours across.
  assert.equal(meta.width, 12 * 2 + 96 + 20 + 3 * 96 + 2 * 4)
  await assert.rejects(runCli(neighboursCommand, [dir, paths[5]!, '--metric', 'dot']), /--metric must be cosine or l2/)
})
