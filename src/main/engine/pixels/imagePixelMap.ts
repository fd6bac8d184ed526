/**
 * One image file's pixel map, as getPixelMap and `convscope saliency` return it: the image read and preprocessed
 * as every method reads it (readModelInput), the target planned, the method's map computed on the network input,
 * its channels put in RGB order (a BGR network's gradient is flipped), and the input's 8-bit pixels kept for
 * drawing the map over them.
 */
import { resolve } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import type { PixelMap, Target } from '../../../shared/api'
import { readModelInput } from '../images/readImage'
import type { LoadedModel } from '../model'
import { planTarget } from '../targets'
import { pixelMethod } from './index'

export interface ImagePixelMapRequest {
  image: string
  method: string
  target: Target
  /** guided-gradcam: its Grad-CAM layer. */
  layer?: string
}

export interface ImagePixelMap {
  map: PixelMap
  /** The network input's pixels before normalisation: height × width × 3 bytes, RGB. */
  inputRgb: Uint8Array
}

export async function imagePixelMap(model: LoadedModel, request: ImagePixelMapRequest): Promise<ImagePixelMap> {
  const method = pixelMethod(request.method)
  const plan = planTarget(model, request.target)
  const pre = model.info.preprocessing
  const { input } = await readModelInput(resolve(request.image), pre)
  const x = tf.tensor4d(input.data, [1, ...input.shape], 'float32')
  const started = performance.now()
  try {
    const result = await method.compute(model, x, plan, { layer: request.layer })
    const milliseconds = performance.now() - started
    if (pre.channelOrder === 'BGR') swapRedBlue(result.values)
    const map: PixelMap = { method: method.name, label: method.label, target: result.resolved, height: result.height, width: result.width, values: result.values, milliseconds }
    return { map, inputRgb: input.rgb }
  } finally {
    x.dispose()
  }
}

/** HWC channels 0 and 2 exchanged in place. */
function swapRedBlue(values: Float32Array): void {
  for (let i = 0; i < values.length; i += 3) [values[i], values[i + 2]] = [values[i + 2]!, values[i]!]
}
