/**
 * The window's drawing of pixel and occlusion maps (src/renderer/src/lib/pixelMaps.ts), by hand-checked
 * cases: signed RGB (0 → grey, ±bound → the channel full / off), |v| as the max over colours, the bounds,
 * the .npy download equal byte for byte to the engine's writer (store/npy.ts, itself equal to numpy.save),
 * and where an occlusion grid lies on the input.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeNpy, encodeNpy } from '../../src/main/engine/store/npy'
import { absBound, clipped, grayRgba, largestDrop, magnitude, npyFloat32, occlusionDrop, occlusionGridBox, signedRgba } from '../../src/renderer/src/lib/pixelMaps'

// A 1×2 map (HWC): pixel 0 = (+2, 0, −2), pixel 1 = (1, −0.5, 0).
const values = new Float32Array([2, 0, -2, 1, -0.5, 0])

test('signed RGB: 0 is mid-grey, +bound the channel full, −bound off, beyond the bound clipped; opaque', () => {
  assert.deepEqual(Array.from(signedRgba(values, 1, 2, 2)), [255, 128, 1, 255, 192, 96, 128, 255])
  assert.deepEqual(Array.from(signedRgba(values, 1, 2, 1)).slice(0, 4), [255, 128, 1, 255], 'clipped at ±bound')
})

test('|v| is the max over the colour channels of the absolute value (Simonyan et al.)', () => {
  assert.deepEqual(Array.from(magnitude(values, 1, 2)), [2, 1])
  assert.deepEqual(Array.from(grayRgba(new Float32Array([0, 1, 4]), 2)), [0, 0, 0, 255, 128, 128, 128, 255, 255, 255, 255, 255])
  assert.deepEqual(Array.from(clipped(new Float32Array([-3, 1, 3]), 2)), [-2, 1, 2])
})

test('bounds: max |v|, or the 99.5th percentile of |v| (not 0 for a sparse map, 1 for an all-zero map)', () => {
  assert.equal(absBound(values, 'max'), 2)
  const many = new Float32Array(1000).map((_, i) => (i % 2 ? -1 : 1) * i) // |v| = 0..999
  assert.equal(absBound(many, 'p99.5'), 994) // floor(0.995 · 999) = 994th of the sorted |v|
  const sparse = new Float32Array(1000)
  sparse[7] = -0.25 // a unit's map: zero outside its receptive field
  assert.equal(absBound(sparse, 'p99.5'), 0.25)
  assert.equal(absBound(new Float32Array(12), 'p99.5'), 1)
  assert.equal(absBound(new Float32Array(12), 'max'), 1)
})

test('the .npy download is the engine writer’s file byte for byte, and reads back as h×w×3 float32', () => {
  const map = new Float32Array(4 * 5 * 3).map((_, i) => Math.sin(i) * 1e-3)
  const bytes = npyFloat32(map, [4, 5, 3])
  assert.deepEqual(Buffer.from(bytes), encodeNpy({ dtype: 'float32', shape: [4, 5, 3], data: map }))
  const back = decodeNpy(Buffer.from(bytes))
  assert.deepEqual(back.shape, [4, 5, 3])
  assert.deepEqual(Array.from(back.data), Array.from(map))
  assert.throws(() => npyFloat32(map, [4, 5, 2]), /holds 40 values, the map has 60/)
})

test('occlusion grid: drops against the baseline, cells centred on their squares, the largest drop', () => {
  // 2 × 3 positions of a 8-px square, stride 4: squares at x 0, 4, 8 (centres 4, 8, 12) → cells [2, 14) wide 4 each.
  const grid = { rows: 2, cols: 3, size: 8, stride: 4, values: new Float32Array([5, 4, 5, 1, 5, 6]) }
  assert.deepEqual(Array.from(occlusionDrop(grid, 5)), [0, 1, 0, 4, 0, -1])
  assert.deepEqual(occlusionGridBox(grid), { x0: 2, y0: 2, x1: 14, y1: 10 })
  assert.deepEqual(largestDrop(grid, 5), { row: 1, col: 0, drop: 4 })
  // stride = size: cells are the squares themselves
  assert.deepEqual(occlusionGridBox({ ...grid, stride: 8 }), { x0: 0, y0: 0, x1: 24, y1: 16 })
})
