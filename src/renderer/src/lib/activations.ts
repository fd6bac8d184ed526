/** Reading and painting activations (ActivationData: [h, w, c] row-major for spatial layers, [units] otherwise). */
import type { ActivationData } from '@shared/api'
import { lutIndex, type Lut } from './colormap'

export type ActivationNorm = 'channel' | 'layer'

export const isSpatial = (ad: ActivationData): boolean => ad.shape.length === 3

export const channelCount = (ad: ActivationData): number => ad.shape[ad.shape.length - 1]

export function valueAt(ad: ActivationData, channel: number, y: number, x: number): number {
  const [, w, c] = ad.shape
  return ad.values[(y * w + x) * c + channel]
}

/** Where channel k has its maximum over space (from channelArgmax's flat y * width + x). */
export function argmaxAt(ad: ActivationData, channel: number): { y: number; x: number } {
  const w = ad.shape[1]
  const flat = ad.channelArgmax[channel]
  return { y: Math.floor(flat / w), x: flat % w }
}

export interface Range {
  lo: number
  hi: number
}

/** Per-channel [min, max] over space, for every channel in one pass. */
export function channelRanges(ad: ActivationData): Range[] {
  const c = channelCount(ad)
  const lo = new Float32Array(c).fill(Infinity)
  const hi = new Float32Array(c).fill(-Infinity)
  for (let i = 0; i < ad.values.length; i++) {
    const v = ad.values[i]
    const k = i % c
    if (v < lo[k]) lo[k] = v
    if (v > hi[k]) hi[k] = v
  }
  return Array.from(lo, (l, k) => ({ lo: l, hi: hi[k] }))
}

/** The layer's [min, max] over all channels. */
export function layerRange(ranges: Range[]): Range {
  return ranges.reduce((a, r) => ({ lo: Math.min(a.lo, r.lo), hi: Math.max(a.hi, r.hi) }), { lo: Infinity, hi: -Infinity })
}

/** Paint one channel of a spatial activation into `canvas` at its native h × w (CSS scales it, pixelated). */
export function paintChannel(canvas: HTMLCanvasElement, ad: ActivationData, channel: number, range: Range, lut: Lut): void {
  const [h, w, c] = ad.shape
  canvas.width = w
  canvas.height = h
  const ctx = canvas.getContext('2d')!
  const img = ctx.createImageData(w, h)
  for (let i = 0; i < h * w; i++) {
    const k = 3 * lutIndex(ad.values[i * c + channel], range.lo, range.hi)
    img.data[4 * i] = lut[k]
    img.data[4 * i + 1] = lut[k + 1]
    img.data[4 * i + 2] = lut[k + 2]
    img.data[4 * i + 3] = 255
  }
  ctx.putImageData(img, 0, 0)
}
