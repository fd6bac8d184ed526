/**
 * Reading and painting conv kernels (FilterData: [kh, kw, in, out] row-major; depthwise: [kh, kw, channels,
 * multiplier], where output o = channel * multiplier + m sees only input channel floor(o / multiplier)).
 */
import type { FilterData } from '@shared/api'

export type NormScope = 'layer' | 'filter'

/** Output filters (= output channels) of the layer. */
export const filterCount = (fd: FilterData): number => (fd.depthwise ? fd.shape[2] * fd.shape[3] : fd.shape[3])

/** Input channels one output filter sees: one for depthwise kernels. */
export const inputsPerFilter = (fd: FilterData): number => (fd.depthwise ? 1 : fd.shape[2])

/** Weight of output filter o, at its input channel c (0 for depthwise), kernel row y, column x. */
export function kernelValue(fd: FilterData, o: number, c: number, y: number, x: number): number {
  const [, kw, inC, last] = fd.shape
  if (fd.depthwise) return fd.weights[((y * kw + x) * inC + Math.floor(o / last)) * last + (o % last)]
  return fd.weights[((y * kw + x) * inC + c) * last + o]
}

/** The input channel output filter o of a depthwise layer reads. */
export const depthwiseChannel = (fd: FilterData, o: number): number => Math.floor(o / fd.shape[3])

/** Largest |w| of one output filter. */
export function filterBound(fd: FilterData, o: number): number {
  const [kh, kw] = fd.shape
  let m = 0
  for (let c = 0; c < inputsPerFilter(fd); c++)
    for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) m = Math.max(m, Math.abs(kernelValue(fd, o, c, y, x)))
  return m
}

/** Largest |w| of the whole layer. */
export function layerBound(fd: FilterData): number {
  let m = 0
  for (const w of fd.weights) m = Math.max(m, Math.abs(w))
  return m
}

/**
 * Symmetric normalization: w ↦ (w / bound + 1) / 2, so 0 is mid-gray, +bound white (or full colour) and
 * −bound black, and the sign of a weight stays readable (what "min/max symmetric around 0" means).
 */
export const normalizeSymmetric = (w: number, bound: number): number => (bound > 0 ? Math.min(1, Math.max(0, (w / bound + 1) / 2)) : 0.5)

/**
 * Paint output filter o of a first layer over the 3 image channels as one colour image, kh × kw.
 * `rgbChannels` lists the input channels that hold red, green and blue ([2, 1, 0] for BGR models).
 */
export function paintRgbFilter(canvas: HTMLCanvasElement, fd: FilterData, o: number, bound: number, rgbChannels: readonly number[]): void {
  const [kh, kw] = fd.shape
  canvas.width = kw
  canvas.height = kh
  const ctx = canvas.getContext('2d')!
  const img = ctx.createImageData(kw, kh)
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++) {
      const p = (y * kw + x) * 4
      for (let k = 0; k < 3; k++) img.data[p + k] = Math.round(255 * normalizeSymmetric(kernelValue(fd, o, rgbChannels[k], y, x), bound))
      img.data[p + 3] = 255
    }
  ctx.putImageData(img, 0, 0)
}

/**
 * Layout of one filter's input channels side by side, `cols` per line: each channel a kh × kw block of
 * `scale`-pixel cells (nearest-neighbour), blocks `gap` pixels apart.
 */
export interface ChannelGrid {
  cols: number
  rows: number
  scale: number
  gap: number
  width: number
  height: number
}

export function channelGrid(fd: FilterData, cols: number, scale: number, gap: number): ChannelGrid {
  const [kh, kw] = fd.shape
  const n = inputsPerFilter(fd)
  const c = Math.max(1, Math.min(cols, n))
  const rows = Math.ceil(n / c)
  return { cols: c, rows, scale, gap, width: c * (kw * scale + gap) - gap, height: rows * (kh * scale + gap) - gap }
}

/** Which input channel and kernel cell lie under canvas pixel (px, py) of a channel grid; null on a gap. */
export function cellAt(fd: FilterData, grid: ChannelGrid, px: number, py: number): { c: number; y: number; x: number } | null {
  const [kh, kw] = fd.shape
  const pitchX = kw * grid.scale + grid.gap
  const pitchY = kh * grid.scale + grid.gap
  const col = Math.floor(px / pitchX)
  const row = Math.floor(py / pitchY)
  const x = Math.floor((px - col * pitchX) / grid.scale)
  const y = Math.floor((py - row * pitchY) / grid.scale)
  const c = row * grid.cols + col
  if (px < 0 || py < 0 || x >= kw || y >= kh || col >= grid.cols || c >= inputsPerFilter(fd)) return null
  return { c, y, x }
}

/** Paint every input channel of output filter o in grayscale (0 = mid-gray), laid out by `grid`. */
export function paintGrayFilter(canvas: HTMLCanvasElement, fd: FilterData, o: number, bound: number, grid: ChannelGrid): void {
  const [kh, kw] = fd.shape
  const { scale, width, height } = grid
  canvas.width = width
  canvas.height = height
  const ctx = canvas.getContext('2d')!
  const img = ctx.createImageData(width, height) // gaps stay transparent
  for (let c = 0; c < inputsPerFilter(fd); c++) {
    const ox = (c % grid.cols) * (kw * scale + grid.gap)
    const oy = Math.floor(c / grid.cols) * (kh * scale + grid.gap)
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++) {
        const g = Math.round(255 * normalizeSymmetric(kernelValue(fd, o, c, y, x), bound))
        for (let dy = 0; dy < scale; dy++) {
          let p = ((oy + y * scale + dy) * width + ox + x * scale) * 4
          for (let dx = 0; dx < scale; dx++, p += 4) {
            img.data[p] = img.data[p + 1] = img.data[p + 2] = g
            img.data[p + 3] = 255
          }
        }
      }
  }
  ctx.putImageData(img, 0, 0)
}
