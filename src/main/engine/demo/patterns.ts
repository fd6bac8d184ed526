/**
 * Fill patterns (textures) for objects and backgrounds. A pattern maps a point to t ∈ [0, 1], the share of
 * "ink" colour mixed into the base colour; each pattern anti-aliases itself from its signed distance to
 * the ink boundary, given the pixel size `px` in the same units.
 */
import { mix, type Rgb } from './color'
import { fbm } from './noise'
import type { Shader } from './raster'
import type { Rng } from '../rng'

export type PatternFamily = 'solid' | 'stripes' | 'dots' | 'checker' | 'grid' | 'chevrons' | 'speckle' | 'rings' | 'gradient'

export type Pattern = (x: number, y: number, px: number) => number

const clamp01 = (v: number): number => (v <= 0 ? 0 : v >= 1 ? 1 : v)
const fract = (v: number): number => v - Math.floor(v)

/** Coverage of the band fract(u) ∈ [0, duty) at u, for a pixel `w` wide in u's units. */
function band(u: number, duty: number, w: number): number {
  if (w > 0.45) return duty // finer than the pixels: the average colour
  const f = fract(u)
  const sd = f < duty ? -Math.min(f, duty - f) : Math.min(f - duty, 1 - f)
  return clamp01(0.5 - sd / w)
}

/** Ink coverage from a signed distance `sd` (< 0 in ink) for pixel size `px`. */
function fromDistance(sd: number, px: number): number {
  return clamp01(0.5 - sd / px)
}

/**
 * One pattern instance. `period` is the repeat length in the caller's units (object frame: radius 1;
 * background: pixels); `aligned` keeps lattices square to the frame (checkered squares).
 */
export function makePattern(family: PatternFamily, rng: Rng, period: number, aligned = false): Pattern {
  const angle = aligned ? 0 : rng.uniform(0, Math.PI)
  const cos = Math.cos(angle)
  const sin = Math.sin(angle)
  const phaseU = rng.next()
  const phaseV = rng.next()
  switch (family) {
    case 'solid':
      return () => 0
    case 'stripes': {
      const duty = rng.uniform(0.4, 0.6)
      return (x, y, px) => band((x * cos + y * sin) / period + phaseU, duty, px / period)
    }
    case 'dots': {
      const r = period * rng.uniform(0.24, 0.34)
      const hex = rng.chance(0.5)
      return (x, y, px) => {
        const u = (x * cos + y * sin) / period + phaseU
        let v = (-x * sin + y * cos) / period + phaseV
        const row = Math.floor(u)
        if (hex && (row & 1) === 1) v += 0.5
        const fu = fract(u) - 0.5
        const fv = fract(v) - 0.5
        return fromDistance(Math.hypot(fu, fv) * period - r, px)
      }
    }
    case 'checker':
      return (x, y, px) => {
        const u = (x * cos + y * sin) / period + phaseU
        const v = (-x * sin + y * cos) / period + phaseV
        const fu = fract(u)
        const fv = fract(v)
        const edge = Math.min(fu, 1 - fu, fv, 1 - fv) * period
        const ink = ((Math.floor(u) + Math.floor(v)) & 1) === 1
        return fromDistance(ink ? -edge : edge, px)
      }
    case 'grid': {
      const half = period * rng.uniform(0.09, 0.14)
      return (x, y, px) => {
        const u = (x * cos + y * sin) / period + phaseU
        const v = (-x * sin + y * cos) / period + phaseV
        const fu = fract(u)
        const fv = fract(v)
        const d = Math.min(fu, 1 - fu, fv, 1 - fv) * period
        return fromDistance(d - Math.max(half, 0.5 * px), px)
      }
    }
    case 'chevrons': {
      const amp = rng.uniform(0.35, 0.6)
      const wavelength = rng.uniform(0.9, 1.4)
      const slope = Math.hypot(1, (2 * amp) / wavelength)
      return (x, y, px) => {
        const u = (x * cos + y * sin) / period
        const v = (-x * sin + y * cos) / period
        const tri = Math.abs(2 * fract(u / wavelength + phaseU) - 1)
        return band(v + amp * tri + phaseV, 0.5, (px / period) * slope)
      }
    }
    case 'speckle': {
      const seed = rng.seed32()
      const threshold = rng.uniform(0.45, 0.58)
      return (x, y, px) => {
        const n = fbm(seed, x / period, y / period, 3, 0.55)
        // The noise varies by about 1.5 per period: that sets the edge width of a pixel.
        return clamp01(0.5 + (n - threshold) / Math.max(0.03, (1.5 * px) / period))
      }
    }
    case 'rings': {
      const ox = rng.uniform(-0.3, 0.3) * period
      const oy = rng.uniform(-0.3, 0.3) * period
      return (x, y, px) => band(Math.hypot(x - ox, y - oy) / period + phaseU, 0.5, px / period)
    }
    case 'gradient':
      return (x, y) => clamp01(0.5 + ((x * cos + y * sin) / period) * 0.5)
  }
}

/**
 * Base and ink mixed by a pattern, lit by a soft linear light across the frame (gain at unit distance
 * `light` along `lightAngle`) so flat fills look like surfaces, not stickers.
 */
export function patternShader(pattern: Pattern, base: Rgb, ink: Rgb, light = 0, lightAngle = 0): Shader {
  const lx = Math.cos(lightAngle) * light
  const ly = Math.sin(lightAngle) * light
  return (x, y, px, out) => {
    const c = mix(base, ink, pattern(x, y, px))
    const gain = 1 + x * lx + y * ly
    out[0] = c[0] * gain
    out[1] = c[1] * gain
    out[2] = c[2] * gain
  }
}
