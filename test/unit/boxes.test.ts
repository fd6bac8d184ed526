import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as tf from '@tensorflow/tfjs'
import { planResize } from '../../src/main/engine/images/preprocess'
import {
  bestIou,
  boxArea,
  classMapBox,
  componentSweep,
  componentsAt,
  iou,
  largestBox,
  largestComponent,
  mapToImage,
  normalizeMap,
  type PixelBox,
} from '../../src/main/engine/localization/boxes'
import { blendHeatmap, drawBox, jet } from '../../src/main/engine/localization/heatmapImage'
import type { ClassMap } from '../../src/main/engine/maps/types'

const box = (xmin: number, ymin: number, xmax: number, ymax: number): PixelBox => ({ xmin, ymin, xmax, ymax })
const classMap = (height: number, width: number, values: number[]): ClassMap => ({ classIndex: 0, score: 0, height, width, values: Float32Array.from(values) })
const geometry = (imageWidth: number, imageHeight: number, inputSize: [number, number], resize: 'stretch' | 'center-crop' | 'pad') =>
  planResize(imageWidth, imageHeight, { inputSize, resize }).geometry
const close = (actual: ArrayLike<number>, expected: number[], tol = 1e-6) => {
  assert.equal(actual.length, expected.length)
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `value ${i}: ${actual[i]} vs ${expected[i]}`)
}

test('IoU of inclusive pixel boxes: a 2×2 box and one shifted by (1, 1) share 1 of 7 pixels', () => {
  assert.equal(boxArea(box(0, 0, 1, 1)), 4)
  assert.equal(boxArea(box(3, 5, 3, 5)), 1)
  assert.equal(iou(box(0, 0, 1, 1), box(1, 1, 2, 2)), 1 / 7)
  assert.equal(iou(box(2, 3, 9, 7), box(2, 3, 9, 7)), 1)
  // Adjacent, not overlapping: 0.
  assert.equal(iou(box(0, 0, 1, 1), box(2, 0, 3, 1)), 0)
  // Containment: 4×4 = 16 pixels inside 10×10 = 100.
  assert.equal(iou(box(0, 0, 9, 9), box(3, 3, 6, 6)), 16 / 100)
  // Half overlap along x: 10×10 boxes, 5 columns shared → 50 / 150.
  assert.equal(iou(box(0, 0, 9, 9), box(5, 0, 14, 9)), 50 / 150)
  assert.equal(bestIou([box(0, 0, 1, 1), box(5, 0, 14, 9)], [box(0, 0, 9, 9)]), 50 / 150)
  assert.equal(bestIou([], [box(0, 0, 1, 1)]), 0)
})

test('bilinear upsampling of a 2×2 map onto 4×4 pixels, by hand and against tf.image.resizeBilinear (half-pixel centres)', () => {
  const map = classMap(2, 2, [0, 1, 2, 3])
  const up = mapToImage(map, geometry(4, 4, [4, 4], 'stretch'))
  // Pixel centres fall at grid coordinates -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
  close(up.values, [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3])
  const reference = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d([0, 1, 2, 3], [1, 2, 2, 1]), [4, 4], false, true).dataSync())
  close(up.values, [...reference], 1e-6)
  // Through a stretch from a 64×64 input onto a 12×8 image: the same as resizing straight to 12×8.
  const map3 = classMap(3, 3, [1, -2, 3, 0, 5, -1, 2, 2, 4])
  const stretched = mapToImage(map3, geometry(12, 8, [64, 64], 'stretch'))
  const direct = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d([...map3.values], [1, 3, 3, 1]), [8, 12], false, true).dataSync())
  close(stretched.values, [...direct], 1e-5)
})

test('center-crop: image pixels outside the crop get the map minimum; pad: the letterbox is part of the grid', () => {
  // 8 wide × 4 high into 4×4: scale 1, columns 2..5 are the crop.
  const cropped = mapToImage(classMap(1, 2, [-1, 5]), geometry(8, 4, [4, 4], 'center-crop'))
  // Inside the crop the 1×2 map upsampled to 4 columns: 5 * [0, .25, .75, 1] + -1 * [1, .75, .25, 0] = [-1, 0.5, 3.5, 5].
  close(cropped.values.subarray(0, 8), [-1, -1, -1, 0.5, 3.5, 5, -1, -1])
  // 4 wide × 2 high into 4×4: one black row above and below; image row 0 is input row 1.
  const padded = mapToImage(classMap(2, 1, [0, 8]), geometry(4, 2, [4, 4], 'pad'))
  // Input rows 1 and 2 (centres 1.5, 2.5) are grid coordinates 0.25 and 0.75: values 2 and 6.
  close(padded.values, [2, 2, 2, 2, 6, 6, 6, 6])
})

test('normalisation: min → 0, max → 1 (negative values too); a constant map is all zeros', () => {
  close(normalizeMap(Float32Array.from([-2, 0, 2, 1])), [0, 0.5, 1, 0.75])
  close(normalizeMap(Float32Array.from([3, 3, 3])), [0, 0, 0])
})

test('8-connected components: diagonal neighbours join; sorted by area, ties by first pixel', () => {
  // prettier-ignore
  const m = Float32Array.from([
    1, 0, 0, 0, 0,
    0, 1, 0, 0, 1,
    0, 0, 0, 0, 1,
    0, 0, 0, 0, 0,
    1, 1, 1, 0, 0,
  ])
  const comps = componentsAt(m, 5, 5, 0.5)
  assert.deepEqual(comps, [
    { area: 3, box: box(0, 4, 2, 4) },
    { area: 2, box: box(0, 0, 1, 1) },
    { area: 2, box: box(4, 1, 4, 2) },
  ])
  assert.deepEqual(largestBox(m, 5, 5, 0.5), box(0, 4, 2, 4))
  // τ = 0: every pixel, one component, the whole image.
  assert.deepEqual(componentsAt(m, 5, 5, 0), [{ area: 25, box: box(0, 0, 4, 4) }])
  // Nothing passes τ above the max.
  assert.equal(largestBox(m, 5, 5, 1.01), null)
})

/** Reference labelling: a flood fill per threshold. */
function floodComponents(m: Float32Array, w: number, h: number, t: number): { area: number; box: PixelBox }[] {
  const seen = new Uint8Array(w * h)
  const out: { area: number; box: PixelBox; first: number }[] = []
  for (let s = 0; s < w * h; s++) {
    if (seen[s] || m[s]! < t) continue
    const stack = [s]
    seen[s] = 1
    const c = { area: 0, box: box(w, h, -1, -1), first: s }
    while (stack.length) {
      const p = stack.pop()!
      const x = p % w
      const y = Math.floor(p / w)
      c.area++
      c.box = box(Math.min(c.box.xmin, x), Math.min(c.box.ymin, y), Math.max(c.box.xmax, x), Math.max(c.box.ymax, y))
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx
          const yy = y + dy
          if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue
          const q = yy * w + xx
          if (!seen[q] && m[q]! >= t) {
            seen[q] = 1
            stack.push(q)
          }
        }
    }
    out.push(c)
  }
  out.sort((a, b) => b.area - a.area || a.first - b.first)
  return out.map(({ area, box }) => ({ area, box }))
}

test('the one-pass threshold sweep equals a flood fill at every threshold (random maps)', () => {
  let seed = 7
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648)
  const thresholds = Array.from({ length: 21 }, (_, i) => i / 20)
  for (let trial = 0; trial < 20; trial++) {
    const w = 5 + Math.floor(rand() * 20)
    const h = 5 + Math.floor(rand() * 20)
    const m = normalizeMap(Float32Array.from({ length: w * h }, () => rand()))
    const sweep = componentSweep(m, w, h, [...thresholds].reverse())
    thresholds.forEach((t, i) => assert.deepEqual(sweep[thresholds.length - 1 - i], floodComponents(m, w, h, t), `trial ${trial}, τ ${t}`))
  }
})

test('the one-threshold labelling (largestComponent, largestBox) equals the largest component of the sweep: noisy, smooth, tied and empty maps', () => {
  let seed = 11
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648)
  const same = (m: Float32Array, w: number, h: number, t: number, what: string) => {
    const expected = componentsAt(m, w, h, t)[0] ?? null
    assert.deepEqual(largestComponent(m, w, h, t), expected, what)
    assert.deepEqual(largestBox(m, w, h, t), expected?.box ?? null, what)
  }
  for (let trial = 0; trial < 60; trial++) {
    const w = 1 + Math.floor(rand() * 40)
    const h = 1 + Math.floor(rand() * 40)
    const noisy = normalizeMap(Float32Array.from({ length: w * h }, () => rand()))
    // Smooth: a small random grid upsampled as class maps are (few, large components).
    const grid = classMap(3, 3, Array.from({ length: 9 }, () => rand() * 2 - 1))
    const smooth = normalizeMap(mapToImage(grid, geometry(w, h, [6, 6], 'stretch')).values)
    // Tied: 0/1 pixels (many components of equal area; the first in raster order wins).
    const tied = Float32Array.from({ length: w * h }, () => (rand() < 0.3 ? 1 : 0))
    for (const t of [0.05, 0.2, 0.5, 0.8, 1, 1.01]) {
      same(noisy, w, h, t, `noisy trial ${trial}, ${w}×${h}, τ ${t}`)
      same(smooth, w, h, t, `smooth trial ${trial}, ${w}×${h}, τ ${t}`)
      same(tied, w, h, t, `tied trial ${trial}, ${w}×${h}, τ ${t}`)
    }
  }
  // A U shape joins at the bottom; two diagonal pixels are one component (8-connected); equal areas: the first wins.
  const u = Float32Array.from([1, 0, 1, 1, 0, 1, 1, 1, 1])
  assert.deepEqual(largestComponent(u, 3, 3, 0.5), { area: 7, box: box(0, 0, 2, 2) })
  assert.deepEqual(largestComponent(Float32Array.from([1, 0, 0, 1]), 2, 2, 0.5), { area: 2, box: box(0, 0, 1, 1) })
  assert.deepEqual(largestComponent(Float32Array.from([1, 0, 1, 0, 0, 0, 0, 1, 1]), 3, 3, 0.5), { area: 2, box: box(1, 2, 2, 2) })
  assert.deepEqual(largestComponent(Float32Array.from([1, 0, 1]), 3, 1, 0.5), { area: 1, box: box(0, 0, 0, 0) })
  assert.equal(largestComponent(Float32Array.from([NaN, 0.1]), 2, 1, 0.2), null)
})

test('a class map to its box: upsample, normalise, 20 % of the max, largest component', () => {
  // 2×2 map with one hot cell onto 4×4 pixels: rows [1 .75 .25 0] [.75 .5625 .1875 0] [.25 .1875 .0625 0] [0 0 0 0].
  const map = classMap(2, 2, [1, 0, 0, 0])
  const g = geometry(4, 4, [4, 4], 'stretch')
  assert.deepEqual(classMapBox(map, g, 0.5).box, box(0, 0, 1, 1))
  assert.deepEqual(classMapBox(map, g, 0.2).box, box(0, 0, 2, 2))
  assert.deepEqual(classMapBox(map, g).box, box(0, 0, 2, 2))
  // The same map with an offset and a scale (CAM values can be negative): the same boxes.
  assert.deepEqual(classMapBox(classMap(2, 2, [3, -5, -5, -5]), g, 0.5).box, box(0, 0, 1, 1))
})

test('heat-map drawing: jet end points, 50 % blend, box outlines clipped to the image', () => {
  assert.deepEqual(jet(0), [0, 0, 128])
  assert.deepEqual(jet(0.5), [128, 255, 128])
  assert.deepEqual(jet(1), [128, 0, 0])
  const rgb = new Uint8Array(4 * 4 * 3).fill(100)
  const blended = blendHeatmap(rgb, new Float32Array(16).fill(1), 4, 4)
  assert.deepEqual([...blended.subarray(0, 3)], [114, 50, 50])
  const canvas = new Uint8Array(4 * 4 * 3)
  // A box from (1, 1) to (4, 4), past the right and bottom edges: only its left and top sides are drawn.
  drawBox(canvas, 4, 4, box(1, 1, 4, 4), [255, 0, 0])
  const red = [...Array(16).keys()].filter((p) => canvas[p * 3] === 255).map((p) => [p % 4, Math.floor(p / 4)])
  assert.deepEqual(red, [[1, 1], [2, 1], [3, 1], [1, 2], [1, 3]])
})
