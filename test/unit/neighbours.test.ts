import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConvscopeError } from '../../src/shared/api'
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
