/**
 * What the pixel methods share: the target located on the image, d target / d input under a ReLU rule
 * (graph/ops/reluRule.ts), and the gradient read back as the map's HWC values.
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../../shared/api'
import { withReluRule, type ReluRule } from '../graph/ops/reluRule'
import type { LoadedModel } from '../model'
import { targetScores, type LocatedTarget, type Position, type TargetPlan } from '../targets'
import { withoutFilterGradients } from '../wasmGradients'
import type { PixelMapResult } from './types'

/** Check the input is one image [1, h, w, c]. */
export function checkOneImage(input: tf.Tensor4D): void {
  if (input.rank !== 4 || input.shape[0] !== 1) throw new ConvscopeError('BAD_REQUEST', `A pixel map explains one image [1, h, w, c]; got a tensor of shape [${input.shape.join(', ')}]`)
}

/**
 * d target / d input [1, h, w, c] with `rule` at every ReLU (a unit at 'max' read at `position`, held fixed).
 * The caller owns the result.
 */
export function ruleGradient(model: LoadedModel, input: tf.Tensor4D, plan: TargetPlan, rule: ReluRule, position: Position | undefined): tf.Tensor4D {
  const score = (x: tf.Tensor) => tf.sum(targetScores(model, x as tf.Tensor4D, plan, position))
  // Only d target / d input is wanted: skip the filter gradients tfjs' fused convs would compute eagerly.
  return withReluRule(rule, () => withoutFilterGradients(() => tf.grad(score)(input))) as tf.Tensor4D
}

/** The map of a gradient-like tensor [1, h, w, c] (c 3, or 1: repeated into the three colours). Disposes `map`. */
export async function readPixelMap(map: tf.Tensor4D, located: LocatedTarget): Promise<PixelMapResult> {
  const [, height, width, channels] = map.shape
  const rgb = channels === 1 ? tf.tile(map, [1, 1, 1, 3]) : map
  try {
    if (channels !== 3 && channels !== 1) throw new ConvscopeError('UNSUPPORTED_OP', `Pixel maps are RGB (h × w × 3); this network's input has ${channels} channels`)
    return { values: (await rgb.data()) as Float32Array<ArrayBuffer>, height, width, resolved: located.resolved }
  } finally {
    tf.dispose([map, rgb])
  }
}
