/**
 * What covers the occluding square: a whole "fill image" the size of the network input, whose pixels the square
 * takes where it lies (so every fill is one rule: copy[y, x] = fill[y, x] inside the square, the image elsewhere).
 * Values are the network's (preprocessed) input values.
 *
 * - grey: mid-grey, pixel value 128 in every channel, through the model's preprocessing (range, mean, std);
 * - mean: the image's own mean colour, per channel of the preprocessed input (letterbox padding included);
 * - blur: a Gaussian blur of the preprocessed image with σ = size / 2 (blur.ts: radius ⌈3σ⌉ cut to fit the input,
 *   reflected edges), so the square keeps the region's colours but loses its detail at the square's scale.
 *   The preprocessing is affine per channel, so this equals blurring the pixels, then preprocessing.
 */
import type { Preprocessing } from '../../../shared/api'
import { normalize } from '../images/preprocess'
import { gaussianBlur } from './blur'

export type OcclusionFill = 'grey' | 'mean' | 'blur'

export const OCCLUSION_FILLS: Record<OcclusionFill, string> = {
  grey: 'mid-grey (pixel 128 in every channel, preprocessed as the model input)',
  mean: "the image's mean colour per channel",
  blur: 'a Gaussian blur of the image, σ = size / 2 input pixels',
}

/** σ of the blur fill for a square of `size` pixels. */
export const blurSigma = (size: number): number => size / 2

/** The fill image for `image` (height × width × 3 preprocessed values, HWC). */
export function fillImage(image: Float32Array, height: number, width: number, fill: OcclusionFill, size: number, pre: Preprocessing): Float32Array {
  if (fill === 'blur') return gaussianBlur(image, height, width, 3, blurSigma(size))
  const colour = fill === 'grey' ? normalize(Uint8Array.of(128, 128, 128), pre) : meanColour(image)
  const out = new Float32Array(image.length)
  for (let i = 0; i < out.length; i += 3) out.set(colour, i)
  return out
}

/** The mean of each channel of an HWC image (summed in float64). */
function meanColour(image: Float32Array): Float32Array {
  const sum = [0, 0, 0]
  for (let i = 0; i < image.length; i += 3) for (let c = 0; c < 3; c++) sum[c]! += image[i + c]!
  const n = image.length / 3
  return Float32Array.from(sum, (s) => s / n)
}
