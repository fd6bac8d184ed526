/**
 * Composition of one image: backdrop → clutter → objects (with soft shadows) → camera blur → sensor noise.
 * Objects are painted last and never overlap one another, so each object's mask is its whole shape
 * (clipped by the image border) and no object hides another.
 */
import { contrastingColour, distance, drawColour, type Rgb } from './color'
import type { DemoClass } from './classes'
import { paintBackdrop, paintShapeDistractor, paintStrokeDistractor } from './background'
import { makePattern, patternShader } from './patterns'
import { addPixelNoise, Canvas, gaussianBlur, paintShape, solidShader, toUint8, type Placement, type Shape } from './raster'
import type { Rng } from '../rng'
import { SHAPES } from './shapes'

/** A box as 0-based inclusive pixel indices: columns xmin..xmax, rows ymin..ymax. */
export interface PixelBox {
  xmin: number
  ymin: number
  xmax: number
  ymax: number
}

export interface SceneObject {
  classIndex: number
  /** The object's value in the mask image (1-based, in painting order). */
  maskId: number
  /** Tight box of the object's mask pixels. */
  box: PixelBox
  /** Mask pixel count. */
  area: number
  /** The mask touches the image border (the shape may run past it). */
  truncated: boolean
}

export interface Scene {
  width: number
  height: number
  /** Interleaved RGB, 8 bits per channel. */
  rgb: Uint8Array
  /** One byte per pixel: 0 background, k for object k. */
  mask: Uint8Array
  objects: SceneObject[]
}

/** Object size: diameter of the shape's bounding disk over the image side. */
export const OBJECT_DIAMETER_RANGE: readonly [number, number] = [0.2, 0.6]

interface Slot {
  cx: number
  cy: number
  r: number
}

/** Non-overlapping bounding disks for `n` objects; an object may stick out of the frame by 15% of its radius. */
function placeObjects(rng: Rng, size: number, n: number): Slot[] {
  const [lo, hi] = OBJECT_DIAMETER_RANGE
  // Several objects share the frame: shrink the upper end so they fit side by side.
  const top = n === 1 ? hi : Math.max(lo * 1.2, hi / Math.sqrt(n) * 1.05)
  const slots: Slot[] = []
  for (let k = 0; k < n; k++) {
    // Skewed towards the large end (mean 2/3 of the way up): small objects stay, but as the hard cases.
    const u = 1 - (1 - rng.next()) ** 2
    let r = ((lo + (top - lo) * u) * size) / 2
    for (let attempt = 0; ; attempt++) {
      const margin = Math.min(r * 0.85, size / 2)
      const cx = rng.uniform(margin, size - margin)
      const cy = rng.uniform(margin, size - margin)
      if (slots.every((s) => Math.hypot(s.cx - cx, s.cy - cy) >= s.r + r + 1)) {
        slots.push({ cx, cy, r })
        break
      }
      if (attempt % 20 === 19) r *= 0.85
      if (attempt > 400) throw new Error(`cannot place ${n} objects in a ${size}px image`)
    }
  }
  return slots
}

/** Mean colour of the canvas over a disk: the object's colour should stand out from it. */
function meanColour(canvas: Canvas, slot: Slot): Rgb {
  const { width, height, rgb } = canvas
  const sum: Rgb = [0, 0, 0]
  let n = 0
  const step = Math.max(1, Math.floor(slot.r / 6))
  for (let y = Math.max(0, Math.floor(slot.cy - slot.r)); y < Math.min(height, slot.cy + slot.r); y += step) {
    for (let x = Math.max(0, Math.floor(slot.cx - slot.r)); x < Math.min(width, slot.cx + slot.r); x += step) {
      const i = (y * width + x) * 3
      sum[0] += rgb[i]!
      sum[1] += rgb[i + 1]!
      sum[2] += rgb[i + 2]!
      n++
    }
  }
  return n === 0 ? [0.5, 0.5, 0.5] : [sum[0] / n, sum[1] / n, sum[2] / n]
}

function objectColours(rng: Rng, cls: DemoClass, backdrop: Rgb): { base: Rgb; ink: Rgb } {
  let base = drawColour(rng, cls.palette)
  for (let attempt = 0; attempt < 12 && distance(base, backdrop) < 0.4; attempt++) base = drawColour(rng, cls.palette)
  const ink = cls.ink === 'darker' ? ([base[0] * 0.5, base[1] * 0.5, base[2] * 0.55] as Rgb) : contrastingColour(rng, base, rng.uniform(0.3, 0.5))
  return { base, ink }
}

function paintObject(canvas: Canvas, rng: Rng, cls: DemoClass, slot: Slot, mask: Uint8Array, maskId: number): void {
  const shape: Shape = SHAPES[cls.shape](rng, slot.r)
  const placement: Placement = { cx: slot.cx, cy: slot.cy, scale: slot.r, angle: rng.uniform(0, 2 * Math.PI) }
  const { base, ink } = objectColours(rng, cls, meanColour(canvas, slot))
  // At least 6 px (at 128²) per pattern repeat: finer patterns blur into a flat colour after JPEG.
  const period = Math.max(rng.uniform(...cls.period), (6 * canvas.width) / 128 / slot.r)
  const pattern = makePattern(cls.pattern, rng, period, cls.alignPattern)
  if (rng.chance(0.7)) {
    const side = canvas.width
    const a = rng.uniform(0, 2 * Math.PI)
    const off = side * rng.uniform(0.01, 0.035)
    paintShape(canvas, shape, { ...placement, cx: slot.cx + Math.cos(a) * off, cy: slot.cy + Math.sin(a) * off }, solidShader([0, 0, 0]), {
      alpha: rng.uniform(0.2, 0.45),
      softness: (side / 128) * rng.uniform(2, 5),
    })
  }
  const shader = patternShader(pattern, base, ink, rng.uniform(0, 0.25), rng.uniform(0, 2 * Math.PI))
  paintShape(canvas, shape, placement, shader, { mask: { data: mask, id: maskId } })
}

function boxes(mask: Uint8Array, width: number, height: number, n: number): { box: PixelBox; area: number }[] {
  const out = Array.from({ length: n }, () => ({ box: { xmin: width, ymin: height, xmax: -1, ymax: -1 }, area: 0 }))
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const id = mask[y * width + x]!
      if (id === 0) continue
      const o = out[id - 1]!
      o.area++
      if (x < o.box.xmin) o.box.xmin = x
      if (x > o.box.xmax) o.box.xmax = x
      if (y < o.box.ymin) o.box.ymin = y
      if (y > o.box.ymax) o.box.ymax = y
    }
  }
  return out
}

/**
 * Renders one scene with one object per entry of `objectClasses` (painted in that order, mask ids 1..n).
 * All randomness comes from `rng`, so the same stream gives the same pixels.
 */
export function renderScene(rng: Rng, size: number, objectClasses: readonly DemoClass[]): Scene {
  const canvas = new Canvas(size, size)
  paintBackdrop(canvas, rng)
  if (rng.chance(0.3)) paintShapeDistractor(canvas, rng, rng.uniform(0.25, 0.45), true)
  const strokes = rng.intIn(0, 4)
  for (let k = 0; k < strokes; k++) paintStrokeDistractor(canvas, rng)
  const smallShapes = rng.intIn(0, 4)
  for (let k = 0; k < smallShapes; k++) paintShapeDistractor(canvas, rng, rng.uniform(0.025, 0.07))
  // Sometimes a distractor as large as a small object: the subject is not simply the largest thing.
  if (rng.chance(0.25)) paintShapeDistractor(canvas, rng, rng.uniform(0.07, 0.12))

  const mask = new Uint8Array(size * size)
  const slots = placeObjects(rng, size, objectClasses.length)
  objectClasses.forEach((cls, k) => paintObject(canvas, rng, cls, slots[k]!, mask, k + 1))

  gaussianBlur(canvas, rng.uniform(0.3, 0.85) * (size / 128))
  addPixelNoise(canvas, rng, rng.uniform(0.005, 0.03))

  const found = boxes(mask, size, size, objectClasses.length)
  const objects = objectClasses.map((cls, k): SceneObject => {
    const { box, area } = found[k]!
    if (area === 0) throw new Error(`object ${k + 1} (${cls.id}) has an empty mask`)
    return {
      classIndex: cls.index,
      maskId: k + 1,
      box,
      area,
      truncated: box.xmin === 0 || box.ymin === 0 || box.xmax === size - 1 || box.ymax === size - 1,
    }
  })
  return { width: size, height: size, rgb: toUint8(canvas), mask, objects }
}
