/** Colours as RGB triples in [0, 1] (sRGB values, no gamma handling: these are synthetic pictures). */
import type { Rng } from '../rng'

export type Rgb = [number, number, number]

/** HSV → RGB; h in degrees (any value, wrapped), s and v in [0, 1]. */
export function hsv(h: number, s: number, v: number): Rgb {
  const hh = (((h % 360) + 360) % 360) / 60
  const c = v * s
  const x = c * (1 - Math.abs((hh % 2) - 1))
  const m = v - c
  let r = 0
  let g = 0
  let b = 0
  if (hh < 1) [r, g, b] = [c, x, 0]
  else if (hh < 2) [r, g, b] = [x, c, 0]
  else if (hh < 3) [r, g, b] = [0, c, x]
  else if (hh < 4) [r, g, b] = [0, x, c]
  else if (hh < 5) [r, g, b] = [x, 0, c]
  else [r, g, b] = [c, 0, x]
  return [r + m, g + m, b + m]
}

/** Rec. 601 luma. */
export function luma(c: Rgb): number {
  return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

export function distance(a: Rgb, b: Rgb): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2])
}

/** A hue range in degrees (lo may exceed hi to wrap through red: [340, 20]). */
export type HueRange = readonly [number, number]

/** How a class colours its instances. */
export interface Palette {
  /** Hue ranges the base colour is drawn from; empty = any hue. */
  hues: readonly HueRange[]
  saturation: readonly [number, number]
  value: readonly [number, number]
}

export const ANY_COLOUR: Palette = { hues: [], saturation: [0.35, 1], value: [0.3, 1] }

export function drawHue(rng: Rng, ranges: readonly HueRange[]): number {
  if (ranges.length === 0) return rng.uniform(0, 360)
  const [lo, hi] = rng.pick(ranges)
  const span = hi >= lo ? hi - lo : hi + 360 - lo
  return lo + rng.uniform(0, span)
}

export function drawColour(rng: Rng, palette: Palette): Rgb {
  return hsv(drawHue(rng, palette.hues), rng.uniform(...palette.saturation), rng.uniform(...palette.value))
}

/** A second colour that stands out from `base` in lightness, so a pattern stays visible. */
export function contrastingColour(rng: Rng, base: Rgb, minLumaGap = 0.28): Rgb {
  for (let attempt = 0; attempt < 16; attempt++) {
    const c = hsv(rng.uniform(0, 360), rng.uniform(0, 1), rng.uniform(0, 1))
    if (Math.abs(luma(c) - luma(base)) >= minLumaGap) return c
  }
  return luma(base) > 0.5 ? hsv(rng.uniform(0, 360), rng.uniform(0, 0.6), rng.uniform(0, 0.2)) : hsv(rng.uniform(0, 360), rng.uniform(0, 0.4), rng.uniform(0.85, 1))
}
