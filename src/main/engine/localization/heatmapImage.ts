/**
 * A class map drawn over its image, for `convscope cam`: the image-pixel map (boxes.ts: upsampled through the
 * input geometry, normalised to [0, 1]) in the jet colour map blended at 50 % over the photo, the map's box
 * at the threshold in white and ground-truth boxes in green, written as PNG with sharp.
 */
import sharp from 'sharp'
import type { PixelBox } from './boxes'

export type Rgb = [number, number, number]

export const BOX_COLOUR: Rgb = [255, 255, 255]
export const TRUTH_COLOUR: Rgb = [0, 230, 64]

/** MATLAB's jet at v ∈ [0, 1]: dark blue → blue → cyan → yellow → red → dark red. */
export function jet(v: number): Rgb {
  const t = Math.min(Math.max(v, 0), 1) * 4
  const channel = (centre: number) => Math.round(255 * Math.min(Math.max(Math.min(t - centre + 1.5, -t + centre + 1.5), 0), 1))
  return [channel(3), channel(2), channel(1)]
}

/** Blend `normalized` (width × height, [0, 1]) in jet over the RGB image, `alpha` of the heat map. */
export function blendHeatmap(rgb: Uint8Array, normalized: Float32Array, width: number, height: number, alpha = 0.5): Uint8Array {
  if (rgb.length !== width * height * 3 || normalized.length !== width * height) throw new Error(`blendHeatmap: sizes differ from ${width}×${height}`)
  const out = new Uint8Array(rgb.length)
  for (let i = 0; i < normalized.length; i++) {
    const c = jet(normalized[i]!)
    for (let k = 0; k < 3; k++) out[i * 3 + k] = Math.round((1 - alpha) * rgb[i * 3 + k]! + alpha * c[k]!)
  }
  return out
}

/** Draw the outline of an inclusive pixel box, `thickness` pixels inwards, clipped to the image. */
export function drawBox(rgb: Uint8Array, width: number, height: number, box: PixelBox, colour: Rgb, thickness = 1): void {
  const set = (x: number, y: number) => {
    if (x >= 0 && y >= 0 && x < width && y < height) rgb.set(colour, (y * width + x) * 3)
  }
  for (let d = 0; d < thickness; d++) {
    for (let x = box.xmin + d; x <= box.xmax - d; x++) {
      set(x, box.ymin + d)
      set(x, box.ymax - d)
    }
    for (let y = box.ymin + d; y <= box.ymax - d; y++) {
      set(box.xmin + d, y)
      set(box.xmax - d, y)
    }
  }
}

/** The PNG: heat map over the image, ground truth in green, the map's box in white on top. */
export async function writeHeatmapPng(
  path: string,
  image: { rgb: Uint8Array; width: number; height: number },
  normalized: Float32Array,
  box: PixelBox | null,
  truth: readonly PixelBox[] = [],
): Promise<void> {
  const { width, height } = image
  const out = blendHeatmap(image.rgb, normalized, width, height)
  const thickness = Math.max(1, Math.round(Math.min(width, height) / 128))
  for (const t of truth) drawBox(out, width, height, t, TRUTH_COLOUR, thickness)
  if (box) drawBox(out, width, height, box, BOX_COLOUR, thickness)
  await sharp(out, { raw: { width, height, channels: 3 } }).png().toFile(path)
}
