import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as tf from '@tensorflow/tfjs'
import { Preprocessing } from '../../src/shared/api'
import {
  imageToInput,
  inputToImage,
  normalize,
  planResize,
  toInputTensor,
  toModelInput,
  type RgbImage,
} from '../../src/main/engine/images/preprocess'

// 2×2 image, HWC: row 0 = (0,20,40) (100,120,140); row 1 = (200,220,240) (40,60,80).
const tiny: RgbImage = { width: 2, height: 2, rgb: Uint8Array.from([0, 20, 40, 100, 120, 140, 200, 220, 240, 40, 60, 80]) }
const pre = (p: Partial<Preprocessing> & Pick<Preprocessing, 'inputSize'>): Preprocessing => Preprocessing.parse(p)
/** Model input back in 0–255 units (range [0, 255], no mean/std) so values read like pixels. */
const pixels = async (image: RgbImage, p: Partial<Preprocessing> & Pick<Preprocessing, 'inputSize'>) =>
  Array.from((await toModelInput(image, pre({ range: [0, 255], ...p }))).data, (v) => Math.round(v))

test('stretch: same size is the identity; 2×2 → 1×1 is the mean; 2×2 → 2 rows × 1 column averages each row', async () => {
  assert.deepEqual(await pixels(tiny, { inputSize: [2, 2] }), [...tiny.rgb])
  assert.deepEqual(await pixels(tiny, { inputSize: [1, 1] }), [85, 105, 125])
  assert.deepEqual(await pixels(tiny, { inputSize: [2, 1] }), [50, 70, 90, 120, 140, 160])
})

test('center-crop: 2×2 into 1 row × 2 columns keeps the top row; into 1×1 is the mean', async () => {
  // Scale 1 covers 1×2, the centre row window starts at floor((2 - 1) / 2) = 0.
  assert.deepEqual(await pixels(tiny, { inputSize: [1, 2], resize: 'center-crop' }), [0, 20, 40, 100, 120, 140])
  assert.deepEqual(await pixels(tiny, { inputSize: [1, 1], resize: 'center-crop' }), [85, 105, 125])
  // A 2 × 4 image into 2×2: the middle two columns.
  const wide: RgbImage = { width: 4, height: 2, rgb: Uint8Array.from({ length: 24 }, (_, i) => i * 10) }
  assert.deepEqual(await pixels(wide, { inputSize: [2, 2], resize: 'center-crop' }), [30, 40, 50, 60, 70, 80, 150, 160, 170, 180, 190, 200])
})

test('pad: 2×2 into 2 rows × 4 columns gets a black column on each side', async () => {
  const z = [0, 0, 0]
  assert.deepEqual(await pixels(tiny, { inputSize: [2, 4], resize: 'pad' }), [...z, 0, 20, 40, 100, 120, 140, ...z, ...z, 200, 220, 240, 40, 60, 80, ...z])
  assert.deepEqual(await pixels(tiny, { inputSize: [1, 1], resize: 'pad' }), [85, 105, 125])
})

test('BGR order, range, then (x - mean) / std in the model channel order', async () => {
  assert.deepEqual(await pixels(tiny, { inputSize: [2, 2], channelOrder: 'BGR' }), [40, 20, 0, 140, 120, 100, 240, 220, 200, 80, 60, 40])
  const p = pre({ inputSize: [2, 2], channelOrder: 'BGR', range: [0, 255], mean: [10, 20, 30], std: [2, 4, 5] })
  const out = (await toModelInput(tiny, p)).data
  // First pixel in BGR: (40, 20, 0) → ((40-10)/2, (20-20)/4, (0-30)/5)
  assert.deepEqual(Array.from(out.subarray(0, 3)), [15, 0, -6])
  const unit = normalize(Uint8Array.from([0, 255, 51]), pre({ inputSize: [1, 1], range: [-1, 1] }))
  assert.deepEqual(Array.from(unit, (v) => Number(v.toFixed(6))), [-1, 1, -0.6])
  const torch = normalize(Uint8Array.from([255, 0, 128]), pre({ inputSize: [1, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }))
  const want = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (128 / 255 - 0.406) / 0.225]
  torch.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-6))
})

test('geometry: scale and offset map model-input boxes back onto the image', () => {
  const stretch = planResize(2, 2, { inputSize: [1, 2], resize: 'stretch' }).geometry
  assert.deepEqual([stretch.scaleX, stretch.scaleY, stretch.offsetX, stretch.offsetY], [1, 2, 0, 0])
  const pad = planResize(2, 2, { inputSize: [2, 4], resize: 'pad' }).geometry
  assert.deepEqual(pad.content, { x: 1, y: 0, width: 2, height: 2 })
  assert.deepEqual(inputToImage(pad, { x: 1, y: 0, width: 2, height: 2 }), { x: 0, y: 0, width: 2, height: 2 })
  assert.deepEqual(inputToImage(pad, { x: 0, y: 0, width: 4, height: 2 }, { clip: false }), { x: -1, y: 0, width: 4, height: 2 })
  assert.deepEqual(inputToImage(pad, { x: 0, y: 0, width: 4, height: 2 }), { x: 0, y: 0, width: 2, height: 2 })

  // A 500×375 photo into 224×224.
  const crop = planResize(500, 375, { inputSize: [224, 224], resize: 'center-crop' })
  assert.deepEqual([crop.resizeWidth, crop.resizeHeight, crop.crop], [299, 224, { x: 37, y: 0, width: 224, height: 224 }])
  assert.equal(crop.geometry.offsetX, (37 * 500) / 299)
  const letterbox = planResize(500, 375, { inputSize: [224, 224], resize: 'pad' })
  assert.deepEqual([letterbox.resizeWidth, letterbox.resizeHeight, letterbox.pad], [224, 168, { top: 28, bottom: 28, left: 0, right: 0 }])
  assert.equal(letterbox.geometry.offsetY, -62.5)
  for (const g of [crop.geometry, letterbox.geometry]) {
    const box = { x: 10, y: 20, width: 30, height: 40 }
    const back = imageToInput(g, inputToImage(g, box, { clip: false }))
    for (const k of ['x', 'y', 'width', 'height'] as const) assert.ok(Math.abs(back[k] - box[k]) < 1e-9)
  }
})

test('geometry agrees with sharp: a red square lands where inputToImage says', async () => {
  // 500×375 grey photo with a red 40×40 square whose top-left is at (300, 100).
  const width = 500
  const height = 375
  const rgb = new Uint8Array(width * height * 3).fill(128)
  for (let y = 100; y < 140; y++) for (let x = 300; x < 340; x++) rgb.set([255, 0, 0], (y * width + x) * 3)
  for (const resize of ['stretch', 'center-crop', 'pad'] as const) {
    const input = await toModelInput({ rgb, width, height }, pre({ inputSize: [112, 96], resize, range: [0, 255] }))
    // Centroid of strongly red pixels, in model-input pixel-edge coordinates.
    let sx = 0
    let sy = 0
    let n = 0
    for (let y = 0; y < 112; y++) {
      for (let x = 0; x < 96; x++) {
        const i = (y * 96 + x) * 3
        if (input.data[i]! > 200 && input.data[i + 1]! < 60) (sx += x + 0.5), (sy += y + 0.5), n++
      }
    }
    assert.ok(n > 0, `${resize}: red square visible`)
    const centre = inputToImage(input.geometry, { x: sx / n, y: sy / n, width: 0, height: 0 })
    assert.ok(Math.abs(centre.x - 320) < 3 && Math.abs(centre.y - 120) < 3, `${resize}: centre maps to (${centre.x}, ${centre.y}), want (320, 120)`)
  }
})

test('toInputTensor stacks inputs into [n, h, w, 3]', async () => {
  await tf.setBackend('cpu')
  const a = await toModelInput(tiny, pre({ inputSize: [2, 2] }))
  const t = toInputTensor([a, a])
  assert.deepEqual(t.shape, [2, 2, 2, 3])
  assert.deepEqual(Array.from(t.dataSync().subarray(12, 15)), Array.from(a.data.subarray(0, 3)))
  t.dispose()
})
