/** Optimised images out: RGB floats in [0, 1] to 8-bit PNG, several side by side. */
import sharp from 'sharp'

/** HWC RGB floats in [0, 1] (clamped) → PNG bytes. */
export async function rgbPng(values: Float32Array, width: number, height: number): Promise<Buffer> {
  const bytes = new Uint8Array(values.length)
  for (let i = 0; i < values.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, values[i]!)) * 255)
  return sharp(bytes, { raw: { width, height, channels: 3 } }).png().toBuffer()
}

export const pngDataUrl = (png: Buffer): string => `data:image/png;base64,${png.toString('base64')}`

/** Square images of side `size` in a row, `gap` white pixels between them: HWC RGB floats. */
export function sideBySide(images: readonly Float32Array[], size: number, gap = 0): { values: Float32Array; width: number; height: number } {
  const width = images.length * size + (images.length - 1) * gap
  const values = new Float32Array(width * size * 3).fill(1)
  images.forEach((image, i) => {
    for (let y = 0; y < size; y++) values.set(image.subarray(y * size * 3, (y + 1) * size * 3), (y * width + i * (size + gap)) * 3)
  })
  return { values, width, height: size }
}
