/**
 * The one interface every pixel-map method implements (issue 12): one file per method under engine/pixels/, one
 * line in the registry (pixels/index.ts). A pixel map is d target / d input of one image, on the input grid, with
 * the method's backward rule at every ReLU of the network (graph/ops/reluRule.ts).
 */
import type * as tf from '@tensorflow/tfjs'
import type { ResolvedTarget } from '../../../shared/api'
import type { LoadedModel } from '../model'
import type { TargetPlan } from '../targets'

/** One image's map: height × width × 3 (HWC, row-major), signed and raw, on the network input's grid. */
export interface PixelMapResult {
  values: Float32Array<ArrayBuffer>
  height: number
  width: number
  resolved: ResolvedTarget
}

export interface PixelMapOptions {
  /** guided-gradcam: the layer of its Grad-CAM (default: the last spatial layer before the head; a unit's own layer). */
  layer?: string
}

export interface PixelMethod {
  /** 'backprop' | 'deconvnet' | 'guided' | 'guided-gradcam' */
  name: string
  label: string
  /** The backward rule at every ReLU, in the lecture's notation, e.g. "(f>0)·(R>0)·R". */
  rule: string
  /** How ReLU6 and leaky ReLU are treated. */
  otherActivations: string
  cost: string
  /** Why the method cannot run on this model, null when it can. */
  unsupported(model: LoadedModel): string | null
  /**
   * input: one preprocessed image [1, h, w, c] (the caller disposes it); the map of d target / d input under the
   * method's ReLU rule, h×w×3 HWC signed raw; a unit at 'max' is located first (targets.ts locateTarget).
   */
  compute(model: LoadedModel, input: tf.Tensor4D, plan: TargetPlan, options?: PixelMapOptions): Promise<PixelMapResult>
}
