/**
 * A tiny anti-aliased rasterizer into an RGB Float32 canvas.
 *
 * A shape is a signed distance function in its own local frame (negative inside, in local units); a
 * placement maps that frame onto the image (centre, pixels per local unit, rotation). Coverage of a pixel
 * is the box-filter estimate clamp(0.5 − d, 0, 1) from the signed distance d of its centre in pixels, exact
 * for straight edges and close elsewhere. The mask of a shape is where coverage ≥ 0.5, i.e. where the pixel
 * centre lies inside the shape (d ≤ 0): the annotation boxes are the tight boxes of that mask.
 */
import type { Rgb } from './color'
import type { Rng } from '../rng'

export class Canvas {
  readonly rgb: Float32Array

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.rgb = new Float32Array(width * height * 3)
  }
}

/** A region given by its signed distance (local units, < 0 inside) and the radius of a disk that holds it. */
export interface Shape {
  sdf(x: number, y: number): number
  /** Every point with sdf ≤ 0 lies within this distance of the local origin. */
  readonly radius: number
}

/** Where a shape goes: centre in pixels (image x right, y down), scale in pixels per local unit, angle in radians. */
export interface Placement {
  cx: number
  cy: number
  scale: number
  angle: number
}

/**
 * Colour of a shape at local point (x, y); `px` is the size of one pixel in local units (for the
 * shader's own anti-aliasing). Writes r, g, b into out[0..2].
 */
export type Shader = (x: number, y: number, px: number, out: Float32Array) => void

export interface PaintOptions {
  /** Opacity of the paint, 0..1. */
  alpha?: number
  /** Width in pixels of the edge ramp: 1 = crisp anti-aliased edge, larger = soft edge (shadows). */
  softness?: number
  /** Write `id` into `mask` where the pixel centre is inside the shape (coverage ≥ 0.5). */
  mask?: { data: Uint8Array; id: number }
}

export function solidShader(c: Rgb): Shader {
  return (_x, _y, _px, out) => {
    out[0] = c[0]
    out[1] = c[1]
    out[2] = c[2]
  }
}

/** Paints `shape` at `placement`, blending `shader`'s colour by coverage × alpha. Returns the pixel count of its mask. */
export function paintShape(canvas: Canvas, shape: Shape, placement: Placement, shader: Shader, options: PaintOptions = {}): number {
  const { width, height, rgb } = canvas
  const alpha = options.alpha ?? 1
  const softness = options.softness ?? 1
  const mask = options.mask
  const { cx, cy, scale, angle } = placement
  const cos = Math.cos(angle)
  const sin = Math.sin(angle)
  const inv = 1 / scale
  const reach = shape.radius * scale + softness + 1
  const x0 = Math.max(0, Math.floor(cx - reach))
  const x1 = Math.min(width - 1, Math.ceil(cx + reach))
  const y0 = Math.max(0, Math.floor(cy - reach))
  const y1 = Math.min(height - 1, Math.ceil(cy + reach))
  const colour = new Float32Array(3)
  let inside = 0
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - cy
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - cx
      // Inverse rotation takes the image offset into the shape's frame.
      const lx = (dx * cos + dy * sin) * inv
      const ly = (-dx * sin + dy * cos) * inv
      const d = shape.sdf(lx, ly) * scale
      if (d <= 0) {
        inside++
        if (mask) mask.data[y * width + x] = mask.id
      }
      const coverage = d <= -softness ? 1 : d >= softness ? 0 : Math.min(1, Math.max(0, 0.5 - d / softness))
      if (coverage <= 0) continue
      shader(lx, ly, inv, colour)
      const a = coverage * alpha
      const i = (y * width + x) * 3
      rgb[i] += (colour[0]! - rgb[i]!) * a
      rgb[i + 1] += (colour[1]! - rgb[i + 1]!) * a
      rgb[i + 2] += (colour[2]! - rgb[i + 2]!) * a
    }
  }
  return inside
}

/** Separable Gaussian blur with clamped edges (a slightly soft camera). */
export function gaussianBlur(canvas: Canvas, sigma: number): void {
  if (sigma < 0.1) return
  const radius = Math.max(1, Math.ceil(sigma * 3))
  const kernel = new Float32Array(2 * radius + 1)
  let sum = 0
  for (let k = -radius; k <= radius; k++) {
    const v = Math.exp(-(k * k) / (2 * sigma * sigma))
    kernel[k + radius] = v
    sum += v
  }
  for (let k = 0; k < kernel.length; k++) kernel[k]! /= sum
  const { width, height, rgb } = canvas
  const tmp = new Float32Array(rgb.length)
  blurAxis(rgb, tmp, width, height, kernel, 'x')
  blurAxis(tmp, rgb, width, height, kernel, 'y')
}

/** One pass of a separable blur along x or y, edges clamped. */
function blurAxis(src: Float32Array, dst: Float32Array, width: number, height: number, kernel: Float32Array, axis: 'x' | 'y'): void {
  const radius = (kernel.length - 1) / 2
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0
      let g = 0
      let b = 0
      for (let k = -radius; k <= radius; k++) {
        const xx = axis === 'x' ? Math.min(width - 1, Math.max(0, x + k)) : x
        const yy = axis === 'y' ? Math.min(height - 1, Math.max(0, y + k)) : y
        const w = kernel[k + radius]!
        const j = (yy * width + xx) * 3
        r += src[j]! * w
        g += src[j + 1]! * w
        b += src[j + 2]! * w
      }
      const i = (y * width + x) * 3
      dst[i] = r
      dst[i + 1] = g
      dst[i + 2] = b
    }
  }
}

/**
 * Sensor-like noise: a shared luminance part plus a part per channel. Each draw is a triangular variate
 * (sum of two uniforms, scaled to unit variance): close enough to Gaussian for noise, and much cheaper.
 */
export function addPixelNoise(canvas: Canvas, rng: Rng, sigma: number): void {
  const { rgb } = canvas
  const k = Math.sqrt(6) * sigma
  const shared = 0.7 * k
  const own = 0.5 * k
  for (let i = 0; i < rgb.length; i += 3) {
    const s = (rng.next() + rng.next() - 1) * shared
    rgb[i] += s + (rng.next() + rng.next() - 1) * own
    rgb[i + 1] += s + (rng.next() + rng.next() - 1) * own
    rgb[i + 2] += s + (rng.next() + rng.next() - 1) * own
  }
}

export function toUint8(canvas: Canvas): Uint8Array {
  const { rgb } = canvas
  const out = new Uint8Array(rgb.length)
  for (let i = 0; i < rgb.length; i++) {
    const v = rgb[i]!
    out[i] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255)
  }
  return out
}
