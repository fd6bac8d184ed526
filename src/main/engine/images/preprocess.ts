/**
 * From a decoded image to the network's input: resize (stretch / center-crop / pad / shorter-side), channel
 * order, value range, then (x - mean) / std. Also returns the geometry that maps model-input pixels back
 * onto the original image, for drawing receptive-field boxes on it.
 *
 * Conventions:
 * - Coordinates are pixel edges: pixel i covers [i, i + 1).
 * - Two resamplers. With `resize: "shorter-side"` or an `interpolation` in the sidecar: PIL's Image.resize
 *   to the byte (pilResample.ts), i.e. torchvision's Resize on a PIL image; centred samples, so the
 *   geometry is exact. Otherwise (the older sidecars): sharp's 'linear' kernel (triangle filter,
 *   antialiased when shrinking), close to PIL's bilinear but not equal (mean |Δ| ≈ 0.15–0.25 / 255 when
 *   shrinking photos, ≈ 8 / 255 when enlarging); kept as the default there so that older results stay
 *   reproducible and the one-pipeline decode + resize stays fast. When enlarging, libvips places
 *   samples half an output pixel off the centred convention: the geometry is exact for shrinking and
 *   within half an input pixel when enlarging.
 * - `pad` letterboxes with black pixels (0, 0, 0) before normalisation, like tf.image.resize_with_pad.
 * - `mean` and `std` are given in the model's channel order (for BGR models: [B, G, R]), as in Keras'
 *   caffe-style preprocess_input.
 */
import * as tf from '@tensorflow/tfjs'
import sharp, { type Sharp } from 'sharp'
import type { Preprocessing } from '../../../shared/api'
import { pilResize } from './pilResample'
import { vipsReduce, vipsReducible } from './vipsReduce'

export interface Box {
  x: number
  y: number
  width: number
  height: number
}

/** How model-input pixels relate to original-image pixels: image = offset + input * scale, per axis. */
export interface InputGeometry {
  policy: Preprocessing['resize']
  imageWidth: number
  imageHeight: number
  inputWidth: number
  inputHeight: number
  /** Original-image pixels per model-input pixel. */
  scaleX: number
  scaleY: number
  /** Original-image coordinate of the model input's top-left edge: > 0 after a crop, < 0 with padding. */
  offsetX: number
  offsetY: number
  /** The part of the model input that shows the image (all of it, except letterbox padding). */
  content: Box
}

export interface ResizePlan {
  /** Size the whole image is resized to. */
  resizeWidth: number
  resizeHeight: number
  /** center-crop, shorter-side: the window taken from the resized image. */
  crop: Box | null
  /** pad (and shorter-side where the crop is larger than the resized image): black borders added after the crop. */
  pad: { top: number; bottom: number; left: number; right: number } | null
  geometry: InputGeometry
}

export interface ModelInput {
  /** [height, width, 3] row-major, normalised, in the model's channel order. */
  data: Float32Array
  shape: [number, number, 3]
  geometry: InputGeometry
  /** The same pixels before normalisation: height × width × 3 bytes, RGB (what a map is drawn over). */
  rgb: Uint8Array
}

/** What toModelInput needs of a decoded image (see readImage). */
export interface RgbImage {
  rgb: Uint8Array
  width: number
  height: number
}

type PlanFields = Pick<Preprocessing, 'inputSize' | 'resize'> & Partial<Pick<Preprocessing, 'resizeSize'>>

/** The resize, crop or pad that fits a width×height image to the model's input size. */
export function planResize(width: number, height: number, pre: PlanFields): ResizePlan {
  const [H, W] = pre.inputSize
  const base = { policy: pre.resize, imageWidth: width, imageHeight: height, inputWidth: W, inputHeight: H }
  const full: Box = { x: 0, y: 0, width: W, height: H }
  switch (pre.resize) {
    case 'stretch':
      return {
        resizeWidth: W,
        resizeHeight: H,
        crop: null,
        pad: null,
        geometry: { ...base, scaleX: width / W, scaleY: height / H, offsetX: 0, offsetY: 0, content: full },
      }
    case 'center-crop': {
      // Scale so the image covers the input, then take the centre.
      const s = Math.max(W / width, H / height)
      const rw = Math.max(W, Math.round(width * s))
      const rh = Math.max(H, Math.round(height * s))
      const left = Math.floor((rw - W) / 2)
      const top = Math.floor((rh - H) / 2)
      const scaleX = width / rw
      const scaleY = height / rh
      return {
        resizeWidth: rw,
        resizeHeight: rh,
        crop: { x: left, y: top, width: W, height: H },
        pad: null,
        geometry: { ...base, scaleX, scaleY, offsetX: left * scaleX, offsetY: top * scaleY, content: full },
      }
    }
    case 'pad': {
      // Scale so the image fits inside the input, then centre it on black.
      const s = Math.min(W / width, H / height)
      const rw = Math.min(W, Math.max(1, Math.round(width * s)))
      const rh = Math.min(H, Math.max(1, Math.round(height * s)))
      const left = Math.floor((W - rw) / 2)
      const top = Math.floor((H - rh) / 2)
      const scaleX = width / rw
      const scaleY = height / rh
      return {
        resizeWidth: rw,
        resizeHeight: rh,
        crop: null,
        pad: { top, bottom: H - rh - top, left, right: W - rw - left },
        geometry: { ...base, scaleX, scaleY, offsetX: -left * scaleX, offsetY: -top * scaleY, content: { x: left, y: top, width: rw, height: rh } },
      }
    }
    case 'shorter-side': {
      const [rw, rh] = shorterSideSize(width, height, pre.resizeSize ?? Math.min(W, H))
      const x = centerCropAxis(rw, W)
      const y = centerCropAxis(rh, H)
      const scaleX = width / rw
      const scaleY = height / rh
      const padded = x.padBefore + x.padAfter + y.padBefore + y.padAfter > 0
      return {
        resizeWidth: rw,
        resizeHeight: rh,
        crop: { x: x.offset, y: y.offset, width: x.length, height: y.length },
        pad: padded ? { top: y.padBefore, bottom: y.padAfter, left: x.padBefore, right: x.padAfter } : null,
        geometry: {
          ...base,
          scaleX,
          scaleY,
          offsetX: (x.offset - x.padBefore) * scaleX,
          offsetY: (y.offset - y.padBefore) * scaleY,
          content: { x: x.padBefore, y: y.padBefore, width: x.length, height: y.length },
        },
      }
    }
  }
}

/** torchvision 0.14's Resize(int) output [width, height]: the shorter side (width on a tie) becomes `size`. */
export function shorterSideSize(width: number, height: number, size: number): [number, number] {
  // int(size * long / short) as Python computes it: multiply, divide, truncate.
  if (width <= height) return [size, Math.trunc((size * height) / width)]
  return [Math.trunc((size * width) / height), size]
}

/**
 * torchvision's CenterCrop along one axis of length `size`: where the crop is larger, zero padding of
 * (crop − size) // 2 before and the rest after; else the window at int(round((size − crop) / 2)), Python's
 * round (half to even).
 */
export function centerCropAxis(size: number, crop: number): { offset: number; length: number; padBefore: number; padAfter: number } {
  if (crop > size) {
    const padBefore = Math.floor((crop - size) / 2)
    return { offset: 0, length: size, padBefore, padAfter: crop - size - padBefore }
  }
  return { offset: roundHalfEven((size - crop) / 2), length: crop, padBefore: 0, padAfter: 0 }
}

function roundHalfEven(x: number): number {
  const r = Math.round(x)
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/**
 * Whether `pre` asks for PIL's resampling (pilResample.ts) rather than sharp's: torchvision's shorter-side
 * recipe, or any sidecar that names an interpolation.
 */
export function usesPilResample(pre: Pick<Preprocessing, 'resize' | 'interpolation'>): boolean {
  return pre.resize === 'shorter-side' || pre.interpolation !== undefined
}

/**
 * `pre` at another input size (fully-convolutional maps on a larger input): shorter-side keeps its
 * resize-to-crop ratio (Resize(256) + CenterCrop(224) at 448 is Resize(512) + CenterCrop(448)), the
 * other modes only change the size.
 */
export function atInputSize(pre: Preprocessing, inputSize: [number, number]): Preprocessing {
  if (pre.resize !== 'shorter-side' || pre.resizeSize === undefined) return { ...pre, inputSize }
  const resizeSize = Math.round((pre.resizeSize * Math.min(...inputSize)) / Math.min(...pre.inputSize))
  return { ...pre, inputSize, resizeSize }
}

/** Map a box in model-input pixels onto the original image; clipped to the image unless `clip` is false. */
export function inputToImage(g: InputGeometry, box: Box, options: { clip?: boolean } = {}): Box {
  const x0 = g.offsetX + box.x * g.scaleX
  const y0 = g.offsetY + box.y * g.scaleY
  const mapped = { x: x0, y: y0, width: box.width * g.scaleX, height: box.height * g.scaleY }
  return options.clip === false ? mapped : clipBox(mapped, g.imageWidth, g.imageHeight)
}

/** Map a box in original-image pixels into model-input pixels (not clipped). */
export function imageToInput(g: InputGeometry, box: Box): Box {
  return {
    x: (box.x - g.offsetX) / g.scaleX,
    y: (box.y - g.offsetY) / g.scaleY,
    width: box.width / g.scaleX,
    height: box.height / g.scaleY,
  }
}

function clipBox(b: Box, width: number, height: number): Box {
  const x0 = Math.min(Math.max(b.x, 0), width)
  const y0 = Math.min(Math.max(b.y, 0), height)
  const x1 = Math.min(Math.max(b.x + b.width, 0), width)
  const y1 = Math.min(Math.max(b.y + b.height, 0), height)
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }
}

/**
 * Resize (and crop or pad) 8-bit RGB to the model's input size; returns W×H×3 bytes. sharp's linear shrinks that
 * vipsReduce.ts reproduces to the byte run in JS (a sharp call costs more than the shrink), the rest in sharp.
 */
export async function resizeForModel(
  image: RgbImage,
  pre: PlanFields & Partial<Pick<Preprocessing, 'interpolation'>>,
): Promise<{ rgb: Uint8Array; plan: ResizePlan }> {
  const plan = planResize(image.width, image.height, pre)
  const identity = plan.resizeWidth === image.width && plan.resizeHeight === image.height && !plan.crop && !plan.pad
  if (identity) return { rgb: image.rgb, plan }
  if (usesPilResample(pre)) {
    const crop = plan.crop ?? { x: 0, y: 0, width: plan.resizeWidth, height: plan.resizeHeight }
    const cropped = pilResize(image, plan.resizeWidth, plan.resizeHeight, pre.interpolation ?? 'bilinear', crop)
    return { rgb: plan.pad ? padRgb(cropped, crop.width, crop.height, plan.pad) : cropped, plan }
  }
  if (vipsReducible(image.width, image.height, plan.resizeWidth, plan.resizeHeight)) {
    return { rgb: cropAndPad(vipsReduce(image.rgb, image.width, image.height, plan.resizeWidth, plan.resizeHeight), plan), plan }
  }

  const pipeline = withResizePlan(sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } }), plan)
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true })
  checkResized(info, pre)
  return { rgb: data, plan }
}

/**
 * The resize, crop and pad of `plan` added to a sharp pipeline (whose image is plan.geometry's size): the
 * same steps for decoded pixels (resizeForModel) and for a file decoded in the same pipeline (readImage.ts,
 * readModelInput).
 */
export function withResizePlan(pipeline: Sharp, plan: ResizePlan, kernel: 'linear' | 'cubic' = 'linear'): Sharp {
  const g = plan.geometry
  if (plan.resizeWidth !== g.imageWidth || plan.resizeHeight !== g.imageHeight) {
    pipeline = pipeline.resize(plan.resizeWidth, plan.resizeHeight, { fit: 'fill', kernel })
  }
  if (plan.crop) pipeline = pipeline.extract({ left: plan.crop.x, top: plan.crop.y, width: plan.crop.width, height: plan.crop.height })
  if (plan.pad) pipeline = pipeline.extend({ ...plan.pad, background: { r: 0, g: 0, b: 0 } })
  return pipeline
}

/** The crop, then the pad, of `plan` on its resized image (resizeWidth × resizeHeight RGB), as withResizePlan does them. */
export function cropAndPad(rgb: Uint8Array, plan: ResizePlan): Uint8Array {
  let out = rgb
  let [width, height] = [plan.resizeWidth, plan.resizeHeight]
  const c = plan.crop
  if (c && (c.x !== 0 || c.y !== 0 || c.width !== width || c.height !== height)) {
    out = new Uint8Array(c.width * c.height * 3)
    for (let y = 0; y < c.height; y++) out.set(rgb.subarray(((c.y + y) * width + c.x) * 3, ((c.y + y) * width + c.x + c.width) * 3), y * c.width * 3)
    ;[width, height] = [c.width, c.height]
  }
  return plan.pad ? padRgb(out, width, height, plan.pad) : out
}

/** Black borders around width×height RGB. */
function padRgb(rgb: Uint8Array, width: number, height: number, pad: NonNullable<ResizePlan['pad']>): Uint8Array {
  const outWidth = width + pad.left + pad.right
  const out = new Uint8Array(outWidth * (height + pad.top + pad.bottom) * 3)
  for (let y = 0; y < height; y++) out.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), ((y + pad.top) * outWidth + pad.left) * 3)
  return out
}

/** Throws unless a resize result is the model's input size with 3 channels. */
export function checkResized(info: { width: number; height: number; channels: number }, pre: Pick<Preprocessing, 'inputSize'>): void {
  const [H, W] = pre.inputSize
  if (info.width !== W || info.height !== H || info.channels !== 3) {
    throw new Error(`resize produced ${info.width}×${info.height}×${info.channels}, expected ${W}×${H}×3`)
  }
}

/** 8-bit RGB (HWC) → float32 in the model's channel order, scaled to `range`, then (x - mean) / std. */
export function normalize(rgb: Uint8Array, pre: Pick<Preprocessing, 'channelOrder' | 'range' | 'mean' | 'std'>): Float32Array {
  const [lo, hi] = pre.range
  const source = pre.channelOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2]
  // One 256-entry table per output channel: the same arithmetic for every pixel, done once.
  const tables = [0, 1, 2].map((c) => {
    const t = new Float32Array(256)
    for (let v = 0; v < 256; v++) t[v] = (lo + (v / 255) * (hi - lo) - pre.mean[c]!) / pre.std[c]!
    return t
  })
  const out = new Float32Array(rgb.length)
  const [t0, t1, t2] = tables as [Float32Array, Float32Array, Float32Array]
  const [s0, s1, s2] = source as [number, number, number]
  for (let i = 0; i < rgb.length; i += 3) {
    out[i] = t0[rgb[i + s0]!]!
    out[i + 1] = t1[rgb[i + s1]!]!
    out[i + 2] = t2[rgb[i + s2]!]!
  }
  return out
}

/** The network input for one decoded image, with the geometry back to the image. */
export async function toModelInput(image: RgbImage, pre: Preprocessing): Promise<ModelInput> {
  const { rgb, plan } = await resizeForModel(image, pre)
  return modelInputOf(rgb, plan, pre)
}

/** The network input from its 8-bit pixels at the input size (resizeForModel's, or readImage.ts's one-pipeline ones). */
export function modelInputOf(rgb: Uint8Array, plan: ResizePlan, pre: Preprocessing): ModelInput {
  const [H, W] = pre.inputSize
  return { data: normalize(rgb, pre), shape: [H, W, 3], geometry: plan.geometry, rgb }
}

/** Stack model inputs into one [n, h, w, 3] batch of values (what onnxruntime is fed; executors/forward.ts). */
export function toInputValues(inputs: ModelInput | ModelInput[]): { data: Float32Array; shape: [number, number, number, 3] } {
  const list = Array.isArray(inputs) ? inputs : [inputs]
  if (list.length === 0) throw new Error('toInputTensor needs at least one input')
  const [h, w] = list[0]!.shape
  const batch = new Float32Array(list.length * h * w * 3)
  list.forEach((input, i) => {
    if (input.shape[0] !== h || input.shape[1] !== w) throw new Error('toInputTensor: inputs differ in size')
    batch.set(input.data, i * h * w * 3)
  })
  return { data: batch, shape: [list.length, h, w, 3] }
}

/** Stack model inputs into one [n, h, w, 3] batch tensor (the caller disposes it). */
export function toInputTensor(inputs: ModelInput | ModelInput[]): tf.Tensor4D {
  const { data, shape } = toInputValues(inputs)
  return tf.tensor4d(data, shape, 'float32')
}
