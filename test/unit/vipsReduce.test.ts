import { test } from 'node:test'
import assert from 'node:assert/strict'
import sharp from 'sharp'
import { vipsReduce, vipsReducible } from '../../src/main/engine/images/vipsReduce'
import { seededRandom } from '../fixtures/models'

/** Noise plus smooth gradients and hard edges: every rounding and clamping case shows up. */
function picture(width: number, height: number, seed: number): Uint8Array {
  const random = seededRandom(seed)
  const rgb = new Uint8Array(width * height * 3)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const i = (y * width + x) * 3 + c
        rgb[i] = c === 0 ? Math.floor(random() * 256) : c === 1 ? ((x * 7 + y * 3) % 256) : x % 9 < 4 ? 255 : 0
      }
    }
  }
  return rgb
}

const sharpResize = (rgb: Uint8Array, w: number, h: number, ow: number, oh: number) =>
  sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).resize(ow, oh, { fit: 'fill', kernel: 'linear' }).raw().toBuffer()

test("vipsReduce gives sharp's linear resize to the byte for every shrink it takes", async () => {
  // [input, output] per axis: 2×, 3×, 1.5×, 2.5× (rint to even: 5 taps), 3.75×, 1.25×, 1.015625×, none; on odd and large sizes.
  const cases: [number, number, number, number][] = [
    [128, 128, 64, 64], [96, 96, 32, 32], [96, 64, 64, 32], [80, 50, 32, 20], [60, 40, 16, 32], [40, 100, 32, 40],
    [130, 65, 128, 26], [64, 64, 64, 32], [64, 48, 32, 48], [640, 480, 320, 240], [1200, 900, 400, 600], [7, 9, 7, 3],
  ]
  let seed = 1
  for (const [w, h, ow, oh] of cases) {
    assert.ok(vipsReducible(w, h, ow, oh), `${w}×${h} → ${ow}×${oh} taken`)
    const rgb = picture(w, h, seed++)
    const got = vipsReduce(rgb, w, h, ow, oh)
    const want = await sharpResize(rgb, w, h, ow, oh)
    assert.equal(got.length, want.length, `${w}×${h} → ${ow}×${oh}: size`)
    let differ = 0
    for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) differ++
    assert.equal(differ, 0, `${w}×${h} → ${ow}×${oh}: ${differ} of ${got.length} bytes differ`)
  }
})

test('vipsReduce refuses enlarging, 4× or more, and factors that are not dyadic (sharp resizes those)', () => {
  assert.equal(vipsReducible(32, 32, 64, 64), false, 'enlarging')
  assert.equal(vipsReducible(128, 64, 64, 128), false, 'one axis enlarging')
  assert.equal(vipsReducible(256, 256, 64, 64), false, '4×: libvips box-shrinks first')
  assert.equal(vipsReducible(256, 256, 224, 224), false, '8/7 is not dyadic')
  assert.equal(vipsReducible(500, 375, 224, 224), false)
  assert.equal(vipsReducible(64, 64, 64, 64), true, 'no change')
  assert.throws(() => vipsReduce(new Uint8Array(12), 2, 2, 4, 4), /not a reduce it reproduces/)
})
