/**
 * getImageGrid end to end (methods/embeddings/grid.ts) on a small synthetic codes folder: three clusters of
 * codes whose images are solid colours by class, two unreadable images, the PCA map made through the embedding
 * store. The grid holds codes rows (never the unreadable ones), each cell of the PNG shows its image's colour,
 * empty cells are dark grey, the cost is the squared distances recomputed by hand, a lasso selection is
 * honoured, and a missing map or a bad index is a clear error. Also the PNG writer's rows, filters and CRCs
 * (read back by sharp) and the `convscope grid` command.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, mkdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import sharp from 'sharp'
import { parseParams } from '../../src/shared/api'
import { noopContext } from '../../src/main/engine/context'
import { embedCodes } from '../../src/main/engine/embeddings/embeddingStore'
import { EMPTY_CELL_RGB } from '../../src/main/engine/embeddings/gridPng'
import { filterRow, writePngByBands } from '../../src/main/engine/embeddings/pngByBands'
import { getImageGrid } from '../../src/main/engine/methods/embeddings/grid'
import { main } from '../../src/main/cli/index'
import { writeCodesFolder } from '../fixtures/codesFolder'

const COUNT = 30
const DIM = 6
const SKIPPED = [4, 17]
const CLASS_RGB: Record<string, [number, number, number]> = { class0: [220, 30, 30], class1: [30, 200, 40], class2: [40, 60, 230] }
let root = ''
let codesDir = ''

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'convscope-grid-'))
  codesDir = join(root, 'codes')
  // Row i belongs to class i % 3; its code is its class's corner of the cube plus a small spread.
  const codes = new Float32Array(COUNT * DIM)
  for (let i = 0; i < COUNT; i++) for (let d = 0; d < DIM; d++) codes[i * DIM + d] = (d === i % 3 ? 10 : 0) + ((i * 7 + d * 3) % 5) * 0.1
  const { paths } = await writeCodesFolder(codesDir, { codes, count: COUNT, dim: DIM, skipped: SKIPPED, dataRoot: join(root, 'images') })
  for (const [i, path] of paths.entries()) {
    if (SKIPPED.includes(i)) continue
    const [r, g, b] = CLASS_RGB[`class${i % 3}`]!
    await mkdir(dirname(path), { recursive: true })
    await sharp({ create: { width: 40 + i, height: 30, channels: 3, background: { r, g, b } } }).png().toFile(path)
  }
})

after(async () => {
  await rm(root, { recursive: true, force: true })
})

const params = (extra: Record<string, unknown> = {}) => parseParams('getImageGrid', { codesDir, method: 'pca', cols: 6, rows: 5, cell: 16, ...extra })

async function pixels(png: string): Promise<{ width: number; height: number; at: (x: number, y: number) => number[] }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  return { width: info.width, height: info.height, at: (x, y) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)] }
}

test('without the map first: a clear error naming what to run', async () => {
  await assert.rejects(getImageGrid(params(), noopContext()), /no finished 2-D pca map.*startEmbedding/)
})

test('a 6 × 5 grid of 28 readable images: codes rows in cells, each cell its image, 2 cells dark grey, the cost by hand', async () => {
  const embedding = await embedCodes(codesDir, 'pca', {}, 2, noopContext())
  const grid = await getImageGrid(params(), noopContext())
  assert.equal(grid.cells.length, 30)
  const shown = grid.cells.filter((c) => c !== -1)
  assert.deepEqual([...shown].sort((a, b) => a - b), Array.from({ length: COUNT }, (_, i) => i).filter((i) => !SKIPPED.includes(i)))
  const png = await pixels(grid.png)
  assert.deepEqual([png.width, png.height], [6 * 16, 5 * 16])
  grid.cells.forEach((row, k) => {
    const [x, y] = [(k % 6) * 16 + 8, Math.floor(k / 6) * 16 + 8]
    assert.deepEqual(png.at(x, y), row === -1 ? [...EMPTY_CELL_RGB] : CLASS_RGB[`class${row % 3}`], `cell ${k} (row ${row})`)
  })
  // The map scaled onto the cell centres by hand: x from [min, max] to 0.5 … 5.5, y from [max, min] to 0.5 … 4.5.
  const p = embedding.points
  const ok = shown.map((r) => [p[2 * r]!, p[2 * r + 1]!] as const)
  const [x0, x1] = [Math.min(...ok.map((q) => q[0])), Math.max(...ok.map((q) => q[0]))]
  const [y0, y1] = [Math.min(...ok.map((q) => q[1])), Math.max(...ok.map((q) => q[1]))]
  let cost = 0
  grid.cells.forEach((r, k) => {
    if (r === -1) return
    const gx = 0.5 + ((p[2 * r]! - x0) / (x1 - x0)) * 5
    const gy = 0.5 + ((y1 - p[2 * r + 1]!) / (y1 - y0)) * 4
    cost += (gx - ((k % 6) + 0.5)) ** 2 + (gy - (Math.floor(k / 6) + 0.5)) ** 2
  })
  assert.ok(Math.abs(cost - grid.cost) < 1e-6, `${grid.cost} vs ${cost}`)
  assert.ok(grid.png.startsWith(join(codesDir, 'grids')))
})

test('a lasso selection: only its readable rows, fewer than the cells; a bad index is refused', async () => {
  const grid = await getImageGrid(params({ indices: [0, 3, 4, 6, 9, 3], cols: 3, rows: 2 }), noopContext())
  assert.deepEqual(grid.cells.filter((c) => c !== -1).sort((a, b) => a - b), [0, 3, 6, 9], 'row 4 is unreadable, 3 once')
  assert.equal(grid.cells.length, 6)
  await assert.rejects(getImageGrid(params({ indices: [1, 30] }), noopContext()), /image index 30 is not a row.*0 … 29/)
})

test('more images than cells: a 3 × 3 grid shows 9 distinct readable images', async () => {
  const grid = await getImageGrid(params({ cols: 3, rows: undefined }), noopContext())
  assert.equal(grid.rows, 3)
  const shown = grid.cells.filter((c) => c !== -1)
  assert.equal(shown.length, 9)
  assert.equal(new Set(shown).size, 9)
  assert.ok(shown.every((r) => !SKIPPED.includes(r)))
})

test('the band-by-band PNG reads back byte for byte (bands of 5 rows; Sub, Up and Paeth rows among them)', async () => {
  const width = 37
  const height = 23
  const raster = new Uint8Array(width * height * 3)
  for (let i = 0; i < raster.length; i++) {
    const y = Math.floor(i / (width * 3))
    raster[i] = y % 4 === 0 ? 128 : y % 4 === 1 ? (i * 3) & 255 : y % 4 === 2 ? (i * 13 + y * 7) & 255 : (i % 7) * 30
  }
  async function* bands() {
    for (let y = 0; y < height; y += 5) yield raster.slice(y * width * 3, Math.min(height, y + 5) * width * 3)
  }
  const filters = new Set<number>()
  for (let y = 0; y < height; y++) filters.add(filterRow(raster.subarray(y * width * 3, (y + 1) * width * 3), y ? raster.subarray((y - 1) * width * 3, y * width * 3) : new Uint8Array(width * 3), 3)[0]!)
  assert.ok([1, 2, 4].every((f) => filters.has(f)), `filters used: ${[...filters]}`)
  const path = join(root, 'bands.png')
  await writePngByBands(path, width, height, bands())
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true })
  assert.deepEqual([info.width, info.height, info.channels], [width, height, 3])
  assert.ok(Buffer.from(raster).equals(data))
})

test('convscope grid: makes the missing map, writes the PNG, --json prints the cells', async () => {
  await rm(join(codesDir, 'embeddings'), { recursive: true })
  const out = join(root, 'figure.png')
  const lines: string[] = []
  const log = console.log
  console.log = (s: string) => lines.push(s)
  let code: number
  try {
    code = await main(['grid', codesDir, '--method', 'pca', '--cols', '4', '--cell', '12', '--png', out, '--json'])
  } finally {
    console.log = log
  }
  assert.equal(code, 0)
  const result = JSON.parse(lines.join('\n'))
  assert.equal(result.cells.length, 16)
  assert.equal((await stat(out)).size > 0, true)
  const png = await pixels(out)
  assert.deepEqual([png.width, png.height], [48, 48])
})
