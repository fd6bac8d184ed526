/**
 * A Gaussian blur of an image (HWC float values), as torchvision's `gaussian_blur` computes it on a tensor: the
 * kernel exp(−x² / 2σ²) sampled at the integers −r … r and normalised to sum 1, applied along rows then columns
 * (separable: the same as its 2-D kernel), edges padded by reflection (numpy's / torch's 'reflect': the edge
 * pixel is not repeated).
 */

/** The normalised 1-D kernel of radius `radius` (2r + 1 taps). */
export function gaussianKernel(sigma: number, radius: number): Float64Array {
  const k = new Float64Array(2 * radius + 1)
  let sum = 0
  for (let i = -radius; i <= radius; i++) sum += k[i + radius] = Math.exp(-0.5 * (i / sigma) ** 2)
  for (let i = 0; i < k.length; i++) k[i]! /= sum
  return k
}

/** Radius ⌈3σ⌉, cut to fit reflection padding (radius < the image's shorter side). */
export function blurRadius(sigma: number, height: number, width: number): number {
  return Math.max(0, Math.min(Math.ceil(3 * sigma), Math.min(height, width) - 1))
}

/** Index `i` reflected into 0 … n − 1 (i within one radius < n of the edges). */
const reflect = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i)

/** The blurred copy of `data` (height × width × channels, row-major). */
export function gaussianBlur(data: Float32Array, height: number, width: number, channels: number, sigma: number): Float32Array {
  const radius = blurRadius(sigma, height, width)
  const k = gaussianKernel(sigma, radius)
  const rows = new Float32Array(data.length)
  // Along each row (x), then along each column (y) of the result.
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        let s = 0
        for (let d = -radius; d <= radius; d++) s += k[d + radius]! * data[(y * width + reflect(x + d, width)) * channels + c]!
        rows[(y * width + x) * channels + c] = s
      }
    }
  }
  const out = new Float32Array(data.length)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        let s = 0
        for (let d = -radius; d <= radius; d++) s += k[d + radius]! * rows[(reflect(y + d, height) * width + x) * channels + c]!
        out[(y * width + x) * channels + c] = s
      }
    }
  }
  return out
}
