/**
 * One batch of codes (issue 13): the images decoded once into the network's input and a 32 × 32 thumbnail, one
 * forward pass to the code layer and the model's output, the map averaged over space (in JS, the same loop for
 * both executors, so tfjs and onnxruntime codes differ only by their maps' float rounding) and the top-1 class.
 * A row depends on its image only, never on the rest of its batch or its size (onnxruntime: runOnnxRuntime's
 * batchInvariant): that is what makes shards, resumed runs and imageCode give exactly the bytes of one run.
 * The job (scan/runScan.ts with `codes`) and imageCode.ts both come here, so a dropped-in image gets exactly the
 * code a folder image gets.
 */
import * as tf from '@tensorflow/tfjs'
import sharp from 'sharp'
import type { Preprocessing } from '../../../shared/api'
import { Skip } from '../datasets/datasetLoop'
import { skipReason } from '../datasets/decodeImage'
import { isOnnxRuntime, runOnnxRuntime, type ExecutorName } from '../executors/onnxRuntime'
import { readImage } from '../images/readImage'
import { toInputTensor, toInputValues, toModelInput, type ModelInput } from '../images/preprocess'
import { OUTPUT, type LoadedModel } from '../model'
import type { CodeLayer } from './codeLayer'

/** Side of the pixel-space thumbnails (the lecture compares neighbours of 32 × 32 images in pixel space). */
export const THUMBNAIL_SIDE = 32
/** Bytes of one thumbnail: 32 × 32 RGB, row-major HWC. */
export const THUMBNAIL_BYTES = THUMBNAIL_SIDE * THUMBNAIL_SIDE * 3

export interface CodeImageInput {
  input: ModelInput
  /** THUMBNAIL_BYTES of 8-bit sRGB. */
  pixels: Uint8Array
  /** The file's own size. */
  width: number
  height: number
}

/**
 * The whole decoded image squashed to 32 × 32 (aspect ratio ignored, nothing cropped) by sharp's default
 * Lanczos-3 resampling, from the same 8-bit sRGB pixels the network's input is made of (alpha flattened on white).
 */
export async function thumbnail(rgb: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  const { data, info } = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .resize(THUMBNAIL_SIDE, THUMBNAIL_SIDE, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true })
  if (info.channels !== 3 || data.length !== THUMBNAIL_BYTES) throw new Error(`thumbnail came out ${info.width}×${info.height}×${info.channels}`)
  return new Uint8Array(data.buffer, data.byteOffset, data.length)
}

/** Decode a file once into the network's input (toModelInput of readImage: readModelInput's bytes) and its thumbnail. */
export async function readCodeImage(path: string, pre: Preprocessing): Promise<CodeImageInput> {
  const image = await readImage(path)
  const [input, pixels] = await Promise.all([toModelInput(image, pre), thumbnail(image.rgb, image.width, image.height)])
  return { input, pixels, width: image.width, height: image.height }
}

/** readCodeImage for the dataset loop: a file that cannot be read is a Skip with its reason. */
export async function decodeCodeImage(path: string, pre: Preprocessing): Promise<CodeImageInput | Skip> {
  try {
    return await readCodeImage(path, pre)
  } catch (e) {
    return new Skip(skipReason(path, e))
  }
}

/** The classes of the model's output when it is a class-score vector (more than one entry), else null. */
export function outputClassCount(model: Pick<LoadedModel, 'info'>): number | null {
  const shape = model.info.layers.at(-1)?.outputShape
  return shape && shape.length === 1 && shape[0] != null && shape[0] > 1 ? shape[0] : null
}

/** Mean over the positions of NHWC data [n, positions, dim], summed in float64 in position order. */
export function poolCodes(data: Float32Array, n: number, positions: number, dim: number): Float32Array {
  if (data.length !== n * positions * dim) throw new Error(`poolCodes: ${data.length} values, expected ${n} × ${positions} × ${dim}`)
  if (positions === 1) return Float32Array.from(data)
  const out = new Float32Array(n * dim)
  const sum = new Float64Array(dim)
  for (let b = 0; b < n; b++) {
    sum.fill(0)
    let base = b * positions * dim
    for (let p = 0; p < positions; p++, base += dim) for (let u = 0; u < dim; u++) sum[u]! += data[base + u]!
    for (let u = 0; u < dim; u++) out[b * dim + u] = sum[u]! / positions
  }
  return out
}

/** Top-1 class per row of [n, classes] scores (the first on ties; -1 for a row with NaN). */
export function topClass(scores: Float32Array, n: number, classes: number): Int32Array {
  const out = new Int32Array(n)
  for (let b = 0; b < n; b++) {
    let best = -1
    let value = -Infinity
    for (let c = 0; c < classes; c++) {
      const v = scores[b * classes + c]!
      if (Number.isNaN(v)) {
        best = -1
        break
      }
      if (v > value || best < 0) (best = c), (value = v)
    }
    out[b] = best
  }
  return out
}

export interface BatchCodes {
  /** [n, dim] row-major. */
  codes: Float32Array
  /** [n]: top-1 class, -1 when the model has no class-score output. */
  predicted: Int32Array
}

/** Codes and top-1 classes of a batch of inputs, in one forward pass on `executor`. */
export async function codesOfBatch(model: LoadedModel, inputs: readonly ModelInput[], layer: CodeLayer, executor: ExecutorName): Promise<BatchCodes> {
  const n = inputs.length
  const classes = outputClassCount(model)
  let map: Float32Array
  let scores: Float32Array | null = null
  if (isOnnxRuntime(executor)) {
    // batchInvariant: onnxruntime sums an NHWC ReduceMean otherwise in a batch of fewer than max(2, threads) images
    // (executors/onnxRuntime.ts header; 1.535225511 alone, 1.535225749 in a batch of two), so such a batch runs padded.
    const result = await runOnnxRuntime(model, toInputValues([...inputs]), [layer.name], { batchInvariant: true })
    map = result.layers[0]!.data
    if (classes !== null) scores = result.output.data
  } else {
    const x = toInputTensor([...inputs])
    const outs = model.forward(x, classes !== null ? [layer.name, OUTPUT] : [layer.name])
    try {
      map = (await outs[0]!.data()) as Float32Array
      if (classes !== null) scores = (await outs[1]!.data()) as Float32Array
    } finally {
      tf.dispose([x, ...outs])
    }
  }
  const positions = layer.height * layer.width
  if (map.length !== n * positions * layer.dim) throw new Error(`layer ${layer.name} gave ${map.length / n} values per image, expected ${positions} × ${layer.dim}`)
  const predicted = classes !== null && scores !== null && scores.length === n * classes ? topClass(scores, n, classes) : new Int32Array(n).fill(-1)
  return { codes: poolCodes(map, n, positions, layer.dim), predicted }
}
