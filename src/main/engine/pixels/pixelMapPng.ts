/**
 * A pixel map as the papers print it, for `convscope saliency --png`: three panels side by side on the network
 * input's grid — the signed map as RGB (0.5 + v / (2·max|v|): grey is zero), |v| (max over the colours) in grey,
 * and |v| in the jet colour map blended over the input image (localization/heatmapImage.ts).
 */
import sharp from 'sharp'
import { blendHeatmap } from '../localization/heatmapImage'

/** A signed HWC map as bytes: 0.5 + v / (2·max|v|) per value, so grey is zero (a zero map is uniform grey). */
export function signedMapRgb(map: Float32Array): Uint8Array {
  let max = 0
  for (const v of map) max = Math.max(max, Math.abs(v))
  const out = new Uint8Array(map.length)
  for (let i = 0; i < map.length; i++) out[i] = Math.round(255 * (max > 0 ? 0.5 + map[i]! / (2 * max) : 0.5))
  return out
}

/** The three panels' pixels: (3·width) × height × 3 bytes. */
export function pixelMapPanels(values: Float32Array, width: number, height: number, inputRgb: Uint8Array): Uint8Array {
  const n = width * height
  if (values.length !== n * 3 || inputRgb.length !== n * 3) throw new Error(`pixelMapPanels: sizes differ from ${width}×${height}×3`)
  let peak = 0
  for (const v of values) peak = Math.max(peak, Math.abs(v))
  const scale = peak > 0 ? 1 / peak : 0
  const magnitude = new Float32Array(n)
  for (let i = 0; i < n; i++) magnitude[i] = Math.max(Math.abs(values[3 * i]!), Math.abs(values[3 * i + 1]!), Math.abs(values[3 * i + 2]!)) * scale
  const overlay = blendHeatmap(inputRgb, magnitude, width, height)
  const signed = signedMapRgb(values)
  const out = new Uint8Array(n * 9)
  const byte = (v: number) => Math.round(Math.min(Math.max(v, 0), 1) * 255)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x
      const row = y * width * 9
      for (let k = 0; k < 3; k++) {
        out[row + x * 3 + k] = signed[3 * i + k]!
        out[row + (width + x) * 3 + k] = byte(magnitude[i]!)
        out[row + (2 * width + x) * 3 + k] = overlay[3 * i + k]!
      }
    }
  }
  return out
}

export async function writePixelMapPng(path: string, values: Float32Array, width: number, height: number, inputRgb: Uint8Array): Promise<void> {
  await sharp(pixelMapPanels(values, width, height, inputRgb), { raw: { width: 3 * width, height, channels: 3 } })
    .png()
    .toFile(path)
}
