/** Where the network's input lies on the original image, for drawing maps of the input grid over the image. */
import type { ImageBox, Preprocessing } from '@shared/api'
import { inputBoxToImage } from './geometry'

/**
 * The whole input's box in image pixels, not clipped (a letterboxed input extends past the image, a
 * centre crop lies inside it). The resize policy is an axis-aligned scale + offset, read from
 * geometry.ts's inputBoxToImage on a box in the input's centre (inside the image for every policy).
 */
export function inputOnImage(pre: Preprocessing, imageWidth: number, imageHeight: number): ImageBox {
  const [h, w] = pre.inputSize
  const probe = inputBoxToImage({ x0: w / 2 - 1, x1: w / 2 + 1, y0: h / 2 - 1, y1: h / 2 + 1 }, pre, imageWidth, imageHeight)
  const kx = (probe.x1 - probe.x0) / 2 // image pixels per input pixel
  const ky = (probe.y1 - probe.y0) / 2
  const x = probe.x0 - (w / 2 - 1) * kx
  const y = probe.y0 - (h / 2 - 1) * ky
  return { x, y, width: w * kx, height: h * ky }
}

/** A box in input pixels (edges) on the image, with the same mapping. */
export function inputBoxOnImage(box: { x0: number; y0: number; x1: number; y1: number }, input: ImageBox, inputSize: [number, number]): ImageBox {
  const kx = input.width / inputSize[1]
  const ky = input.height / inputSize[0]
  return { x: input.x + box.x0 * kx, y: input.y + box.y0 * ky, width: (box.x1 - box.x0) * kx, height: (box.y1 - box.y0) * ky }
}
