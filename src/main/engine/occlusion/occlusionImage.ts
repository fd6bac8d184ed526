/**
 * The occlusion figure (`convscope occlusion --png`, Zeiler & Fergus' Fig. 7 layout): the image, and beside it the
 * drop of the target (its value on the image − its value with the square there) drawn over the image in jet,
 * min–max normalised (red: where covering the image lowered the target most; blue: least, or raised it).
 *
 * The drop lives on the grid of square positions; each position stands at its square's centre (r · stride +
 * size / 2 input pixels), and the input pixels between centres take the bilinear blend of the nearest four
 * (clamped beyond the first and last centres). That input-pixel map goes onto the original image through the
 * preprocessing geometry (localization/boxes.ts mapToImage). Images smaller than MIN_SIDE are enlarged.
 */
import sharp from 'sharp'
import type { InputGeometry } from '../images/preprocess'
import { mapToImage, normalizeMap } from '../localization/boxes'
import { blendHeatmap } from '../localization/heatmapImage'
import type { OcclusionGrid } from './grid'

/** The figure's image is enlarged (an integer factor) until its shorter side is at least this. */
export const MIN_SIDE = 256
/** White pixels between the two panels. */
const GAP = 8

/** value − values[i] per position: how much covering that place lowered the target. */
export function occlusionDrop(values: Float32Array, value: number): Float32Array {
  return values.map((v) => value - v)
}

/** Per-position values on the network input's pixels (height × width), bilinear between the squares' centres. */
export function gridToInput(grid: OcclusionGrid, values: Float32Array): Float32Array<ArrayBuffer> {
  const axis = (n: number, count: number) => {
    const i0 = new Int32Array(n)
    const w1 = new Float32Array(n)
    for (let p = 0; p < n; p++) {
      const t = Math.min(Math.max((p + 0.5 - grid.size / 2) / grid.stride, 0), count - 1)
      i0[p] = Math.floor(t)
      w1[p] = t - Math.floor(t)
    }
    return { i0, w1 }
  }
  const ys = axis(grid.height, grid.rows)
  const xs = axis(grid.width, grid.cols)
  const out = new Float32Array(grid.height * grid.width)
  const at = (r: number, c: number) => values[Math.min(r, grid.rows - 1) * grid.cols + Math.min(c, grid.cols - 1)]!
  for (let y = 0; y < grid.height; y++) {
    const r = ys.i0[y]!
    const wy = ys.w1[y]!
    for (let x = 0; x < grid.width; x++) {
      const c = xs.i0[x]!
      const wx = xs.w1[x]!
      const top = at(r, c) * (1 - wx) + at(r, c + 1) * wx
      const bottom = at(r + 1, c) * (1 - wx) + at(r + 1, c + 1) * wx
      out[y * grid.width + x] = top * (1 - wy) + bottom * wy
    }
  }
  return out
}

/** The figure as RGB: the image (enlarged to MIN_SIDE) | white gap | the drop over the image. */
export async function occlusionFigure(
  image: { rgb: Uint8Array; width: number; height: number },
  geometry: InputGeometry,
  grid: OcclusionGrid,
  drop: Float32Array,
): Promise<{ rgb: Uint8Array; width: number; height: number }> {
  const k = Math.max(1, Math.ceil(MIN_SIDE / Math.min(image.width, image.height)))
  const width = image.width * k
  const height = image.height * k
  const rgb = k === 1 ? image.rgb : new Uint8Array(await sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } }).resize(width, height, { kernel: 'cubic' }).raw().toBuffer())
  // The enlarged image: image pixels k times smaller, the same input.
  const g: InputGeometry = { ...geometry, imageWidth: width, imageHeight: height, scaleX: geometry.scaleX * k, scaleY: geometry.scaleY * k, offsetX: geometry.offsetX * k, offsetY: geometry.offsetY * k }
  const onImage = mapToImage({ classIndex: 0, score: 0, width: grid.width, height: grid.height, values: gridToInput(grid, drop) }, g)
  const heat = blendHeatmap(rgb, normalizeMap(onImage.values), width, height)
  const outWidth = 2 * width + GAP
  const out = new Uint8Array(outWidth * height * 3).fill(255)
  for (let y = 0; y < height; y++) {
    out.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * outWidth * 3)
    out.set(heat.subarray(y * width * 3, (y + 1) * width * 3), (y * outWidth + width + GAP) * 3)
  }
  return { rgb: out, width: outWidth, height }
}

/** occlusionFigure written as a PNG. */
export async function writeOcclusionPng(path: string, ...args: Parameters<typeof occlusionFigure>): Promise<void> {
  const f = await occlusionFigure(...args)
  await sharp(f.rgb, { raw: { width: f.width, height: f.height, channels: 3 } }).png().toFile(path)
}
