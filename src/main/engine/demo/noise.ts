/**
 * Hash-based value noise: smooth random fields with no stored lattice, so a field is just a seed.
 * Used for background clouds, blotches, speckled textures and blob outlines.
 */

/** A well-mixed hash of a lattice point to [0, 1). */
export function hash2(seed: number, ix: number, iy: number): number {
  let h = (Math.imul(ix, 0x27d4eb2d) ^ Math.imul(iy, 0x165667b1) ^ seed) | 0
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  h ^= h >>> 16
  return (h >>> 0) / 4294967296
}

/** Value noise in [0, 1) with a smootherstep fade: continuous, with continuous first derivatives. */
export function valueNoise(seed: number, x: number, y: number): number {
  const ix = Math.floor(x)
  const iy = Math.floor(y)
  const fx = x - ix
  const fy = y - iy
  const ux = fx * fx * fx * (fx * (fx * 6 - 15) + 10)
  const uy = fy * fy * fy * (fy * (fy * 6 - 15) + 10)
  const a = hash2(seed, ix, iy)
  const b = hash2(seed, ix + 1, iy)
  const c = hash2(seed, ix, iy + 1)
  const d = hash2(seed, ix + 1, iy + 1)
  const top = a + (b - a) * ux
  const bottom = c + (d - c) * ux
  return top + (bottom - top) * uy
}

/** Fractal sum of `octaves` value-noise layers, normalised back to [0, 1). */
export function fbm(seed: number, x: number, y: number, octaves: number, gain = 0.5): number {
  let sum = 0
  let norm = 0
  let amp = 1
  let freq = 1
  for (let o = 0; o < octaves; o++) {
    sum += amp * valueNoise(seed + o * 1013, x * freq, y * freq)
    norm += amp
    amp *= gain
    freq *= 2
  }
  return sum / norm
}

/** Periodic 1-D value noise on [0, 1) (a closed outline's radius as a function of angle). */
export function periodicNoise(seed: number, t: number, period: number): number {
  const x = (((t % 1) + 1) % 1) * period
  const i = Math.floor(x)
  const f = x - i
  const u = f * f * (3 - 2 * f)
  const a = hash2(seed, i % period, 0)
  const b = hash2(seed, (i + 1) % period, 0)
  return a + (b - a) * u
}
