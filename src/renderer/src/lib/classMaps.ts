/** Painting class maps and the fully-convolutional class grid, and small formats for the Classes view. */
import { lutIndex, viridis } from './colormap'

/** The map as a canvas of its own grid size: viridis over min..max, alpha growing from 15 % to `opacity` with the value. */
export function paintHeatmap(map: { values: Float32Array; width: number; height: number }, opacity: number): HTMLCanvasElement {
  const { values, width, height } = map
  let lo = Infinity
  let hi = -Infinity
  for (const v of values) {
    if (v < lo) lo = v
    if (v > hi) hi = v
  }
  const canvas = document.createElement('canvas')
  canvas.width = width
  canvas.height = height
  const ctx = canvas.getContext('2d')!
  const img = ctx.createImageData(width, height)
  for (let i = 0; i < values.length; i++) {
    const k = lutIndex(values[i]!, lo, hi)
    img.data[i * 4] = viridis[k * 3]!
    img.data[i * 4 + 1] = viridis[k * 3 + 1]!
    img.data[i * 4 + 2] = viridis[k * 3 + 2]!
    img.data[i * 4 + 3] = Math.round(255 * opacity * (0.25 + (0.75 * k) / 255))
  }
  ctx.putImageData(img, 0, 0)
  return canvas
}

/**
 * Distinct colours for class indices (the argmax grid), from a golden-angle walk around the hue circle,
 * so neighbouring class indices never get similar colours.
 */
export function classColour(index: number): string {
  const hue = (index * 137.508) % 360
  return `hsl(${hue.toFixed(1)}, 62%, ${index % 2 ? 48 : 60}%)`
}

/** "12.3 %" for a fraction. */
export const percent = (f: number, digits = 1): string => `${(f * 100).toFixed(digits)} %`
