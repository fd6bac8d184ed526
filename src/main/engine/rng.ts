/**
 * Seeded randomness: the demo dataset generator, training's shuffle and augmentation, and the faithfulness
 * curves' random order all draw from named streams, never Math.random, so every result can be remade.
 * The demo generator draws each image from its own stream, derived from (seed, split, class, index), so any
 * subset of images can be made in any order, on any number of workers, and still come out byte-identical.
 */

/** cyrb128: hashes strings and integers into four 32-bit words, the seed of one sfc32 stream. */
export function hashParts(parts: readonly (string | number)[]): [number, number, number, number] {
  const text = parts.map((p) => (typeof p === 'number' ? `#${p}` : `$${p}`)).join('\u0000')
  let h1 = 1779033703
  let h2 = 3144134277
  let h3 = 1013904242
  let h4 = 2773480762
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i)
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067)
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233)
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213)
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179)
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067)
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233)
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213)
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179)
  h1 ^= h2 ^ h3 ^ h4
  h2 ^= h1
  h3 ^= h1
  h4 ^= h1
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0]
}

/** A small fast PRNG (sfc32, from PractRand) with the draws the generator needs. */
export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(seed: readonly [number, number, number, number]) {
    ;[this.a, this.b, this.c, this.d] = seed
    for (let i = 0; i < 12; i++) this.u32() // warm up: spread weak seeds
  }

  /** A stream named by its parts, e.g. `Rng.from(seed, 'train', 'c00_striped_triangle', 17)`. */
  static from(...parts: (string | number)[]): Rng {
    return new Rng(hashParts(parts))
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next()
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  /** Integer in [lo, hi], both included. */
  intIn(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  /** Standard normal (Box–Muller; one value per call keeps the stream simple to reason about). */
  normal(): number {
    const u = 1 - this.next()
    const v = this.next()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  /** A permutation of 0 … n−1 (Fisher–Yates from the end, one int() per swap). */
  permutation(n: number): Int32Array {
    const order = Int32Array.from({ length: n }, (_, i) => i)
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const t = order[i]!
      order[i] = order[j]!
      order[j] = t
    }
    return order
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list')
    return items[this.int(items.length)]!
  }

  /** A 32-bit integer seed for the hash-based noise functions. */
  seed32(): number {
    return this.u32() | 0
  }
}
