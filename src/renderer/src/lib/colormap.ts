/** Colour lookup tables (256 × RGB, packed) for painting maps into ImageData. */
export type Lut = Uint8ClampedArray

function lutFromStops(stops: string[]): Lut {
  const rgb = stops.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)))
  const lut = new Uint8ClampedArray(256 * 3)
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (rgb.length - 1)
    const k = Math.min(rgb.length - 2, Math.floor(t))
    const f = t - k
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = Math.round(rgb[k][c] * (1 - f) + rgb[k + 1][c] * f)
  }
  return lut
}

/** Viridis (van der Walt & Smith, matplotlib): perceptually uniform, readable in grayscale print. */
export const viridis: Lut = lutFromStops(['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#fde725'])

/** Index into a LUT for value v mapped from [lo, hi] to [0, 255]; a flat map (e.g. a dead ReLU) is all 0. */
export function lutIndex(v: number, lo: number, hi: number): number {
  if (!(hi > lo)) return 0
  const t = (v - lo) / (hi - lo)
  return t <= 0 ? 0 : t >= 1 ? 255 : Math.round(t * 255)
}
