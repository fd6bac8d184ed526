/** Mapping between network-input coordinates and the original image, and receptive-field boxes. */
import type { Preprocessing, ReceptiveField } from '@shared/api'

export interface Box {
  x0: number
  y0: number
  x1: number
  y1: number
}

/**
 * Input-pixel box of the receptive field of unit (y, x), clipped to the input (Araujo et al. 2019:
 * centre = start + index * jump, extent ± (size - 1) / 2; pixel centres, so the box adds ± 0.5).
 */
export function receptiveFieldBox(rf: ReceptiveField, y: number, x: number, inputSize: [number, number]): Box {
  const cy = rf.start[0] + y * rf.jump[0]
  const cx = rf.start[1] + x * rf.jump[1]
  const hy = (rf.size[0] - 1) / 2 + 0.5
  const hx = (rf.size[1] - 1) / 2 + 0.5
  return {
    y0: Math.max(0, cy - hy),
    y1: Math.min(inputSize[0], cy + hy),
    x0: Math.max(0, cx - hx),
    x1: Math.min(inputSize[1], cx + hx),
  }
}

/** Map a box in network-input pixels back onto the original image, undoing the resize policy. */
export function inputBoxToImage(box: Box, pre: Preprocessing, imageWidth: number, imageHeight: number): Box {
  const [inH, inW] = pre.inputSize
  let sx = inW / imageWidth
  let sy = inH / imageHeight
  if (pre.resize === 'shorter-side') {
    // torchvision's Resize(resizeSize): the shorter side becomes resizeSize, the longer int(resizeSize · long / short)
    const size = pre.resizeSize ?? Math.min(inH, inW)
    const wide = imageWidth > imageHeight
    sx = (wide ? Math.trunc((size * imageWidth) / imageHeight) : size) / imageWidth
    sy = (wide ? size : Math.trunc((size * imageHeight) / imageWidth)) / imageHeight
  } else if (pre.resize !== 'stretch') {
    // center-crop scales so the image covers the input; pad (letterbox) so it fits inside it
    const s = pre.resize === 'center-crop' ? Math.max(sx, sy) : Math.min(sx, sy)
    sx = sy = s
  }
  const ox = (inW - imageWidth * sx) / 2
  const oy = (inH - imageHeight * sy) / 2
  return {
    x0: Math.max(0, (box.x0 - ox) / sx),
    x1: Math.min(imageWidth, (box.x1 - ox) / sx),
    y0: Math.max(0, (box.y0 - oy) / sy),
    y1: Math.min(imageHeight, (box.y1 - oy) / sy),
  }
}
