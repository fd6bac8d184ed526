/**
 * The map PNG of `embed --png` (engine/embeddings/mapPng.ts) by hand-placed points: where a point lands (both
 * axes one scale, y up, the larger extent filling the plot less the dot's inset), its colour from the shared
 * class palette, NaN rows left out (their label's colour appears nowhere), and thumbnails drawn at the points.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { mapPng } from '../../src/main/engine/embeddings/mapPng'
import { CLASS_COLOURS, UNLABELLED_COLOUR } from '../../src/shared/classPalette'

async function decode(png: Buffer): Promise<{ width: number; height: number; at: (x: number, y: number) => string; has: (hex: string) => boolean }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  const hexAt = (o: number) => '#' + [0, 1, 2].map((c) => data[o + c]!.toString(16).padStart(2, '0')).join('')
  return {
    width: info.width,
    height: info.height,
    at: (x, y) => hexAt((y * info.width + x) * 3),
    has: (hex) => {
      for (let o = 0; o < data.length; o += 3) if (hexAt(o) === hex) return true
      return false
    },
  }
}

// (0,0) 'a', (10,0) 'b', (0,10) unlabelled, (NaN, 5) 'c'. Plot 200 px at (12, 12), dot radius 4, inset 5:
// scale (200 − 2·5) / 10 = 19 px per unit, so x = 0 → 17, x = 10 → 207, y = 0 → 207, y = 10 → 17.
const points = new Float32Array([0, 0, 10, 0, 0, 10, NaN, 5])
const labels = ['a', 'b', null, 'c']

test('dots land at their scaled places in their label colours (sorted labels take the palette in order), y up', async () => {
  const png = await decode(await mapPng(points, labels, { size: 200, dotRadius: 4 }))
  assert.equal(png.height, 12 + 200 + 12)
  assert.ok(png.width > 12 + 200 + 12, 'a legend to the right')
  assert.equal(png.at(17, 207), CLASS_COLOURS[0])
  assert.equal(png.at(207, 207), CLASS_COLOURS[1])
  assert.equal(png.at(17, 17), UNLABELLED_COLOUR)
  assert.equal(png.at(20, 207), CLASS_COLOURS[0], 'inside the radius')
  assert.equal(png.at(22, 207), '#ffffff', 'outside the radius')
  assert.equal(png.at(112, 112), '#ffffff', 'nothing at the centre')
})

test('NaN rows are left out of the plot and the legend, and keep no colour elsewhere', async () => {
  const png = await decode(await mapPng(points, labels, { size: 200, dotRadius: 4 }))
  assert.equal(png.has(CLASS_COLOURS[2]!), false, "'c' (only a NaN row) is not drawn nor in the legend")
  assert.equal(png.has(CLASS_COLOURS[1]!), true)
})

test('a title adds its band above the plot; a wrong-length input is a clear error', async () => {
  const png = await decode(await mapPng(points, labels, { size: 200, dotRadius: 4, title: 'codes' }))
  assert.equal(png.height, 28 + 200 + 12)
  assert.equal(png.at(17, 207 + 16), CLASS_COLOURS[0])
  await assert.rejects(mapPng(points, ['a'], {}), /2 coordinates per label/)
})

test('thumbnails: each image cover-resized and centred on its point; no legend', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'convscope-mappng-'))
  try {
    const red = join(dir, 'red.png')
    const blue = join(dir, 'blue.png')
    await sharp({ create: { width: 30, height: 20, channels: 3, background: '#ff0000' } }).png().toFile(red)
    await sharp({ create: { width: 20, height: 20, channels: 3, background: '#0000ff' } }).png().toFile(blue)
    const png = await decode(await mapPng(new Float32Array([0, 0, 10, 10]), ['a', 'b'], { size: 200, thumbnails: [red, blue], thumbnailSize: 10 }))
    assert.equal(png.width, 12 + 200 + 12)
    // inset 10 / 2 + 1 = 6, scale 188 / 10: (0, 0) → (18, 206), (10, 10) → (206, 18); tiles 10 px from (13, 201), (201, 13).
    assert.equal(png.at(18, 206), '#ff0000')
    assert.equal(png.at(13, 201), '#ff0000')
    assert.equal(png.at(22, 210), '#ff0000')
    assert.equal(png.at(206, 18), '#0000ff')
    assert.equal(png.at(12, 200), '#ffffff', 'outside the tile')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
