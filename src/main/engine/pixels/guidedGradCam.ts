/**
 * Guided Grad-CAM (Selvaraju et al. 2017, section 3.2): the guided-backprop map times the Grad-CAM of the same
 * target, upsampled to the input. Grad-CAM = relu(Σ_k α_k A_k) at a layer, α_k = the spatial mean of
 * d target / d A_k (plain gradients), upsampled bilinearly with half-pixel centres (torch's
 * F.interpolate(align_corners=False)) and multiplied into each colour channel.
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../../shared/api'
import { defaultMapLayer } from '../maps/mapLayers'
import type { LoadedModel } from '../model'
import { locateTarget, targetScores, type Position, type TargetPlan } from '../targets'
import { withoutFilterGradients } from '../wasmGradients'
import { guided } from './guided'
import { checkOneImage, readPixelMap, ruleGradient } from './ruleGradient'
import type { PixelMethod } from './types'

/** Whether `from`'s output reaches `to` (or is it) through the layer graph. */
function feeds(model: LoadedModel, from: string, to: string): boolean {
  const seen = new Set<string>()
  const stack = [to]
  while (stack.length) {
    const name = stack.pop()!
    if (name === from) return true
    if (seen.has(name)) continue
    seen.add(name)
    const layer = model.graph.find(name)
    if (layer) stack.push(...layer.inbound)
  }
  return false
}

/**
 * The Grad-CAM layer: the one asked for, else a spatial unit's or direction's own layer (the layer after the
 * head's input need not depend on it), else the last spatial layer before the head.
 */
export function gradCamLayer(model: LoadedModel, plan: TargetPlan, asked?: string): string {
  const layer = asked ?? (plan.layer && plan.grid ? plan.layer : defaultMapLayer(model))
  if (!layer) throw new ConvscopeError('UNSUPPORTED_OP', `Guided Grad-CAM needs a spatial layer; model ${model.info.name} has none before its head`)
  const info = model.graph.get(layer)
  if (!info.spatial || info.kind === 'input') {
    throw new ConvscopeError('BAD_REQUEST', `Guided Grad-CAM reads its Grad-CAM at a spatial layer after the input; "${layer}" has shape [${info.outputShape.join(', ')}]`)
  }
  const targetLayer = plan.layer ?? model.info.layers.at(-1)!.name
  if (!feeds(model, layer, targetLayer)) {
    throw new ConvscopeError('BAD_REQUEST', `Layer "${layer}" does not feed the target (${plan.description}); Grad-CAM needs a layer on its way, e.g. "${plan.layer ?? defaultMapLayer(model)}"`)
  }
  return layer
}

/** Grad-CAM [1, h, w, 1] of the target at `layer`, on the layer's grid. */
function gradCam(model: LoadedModel, input: tf.Tensor4D, plan: TargetPlan, layer: string, position: Position | undefined): tf.Tensor4D {
  const [activations] = model.forward(input, [layer])
  try {
    return tf.tidy(() => {
      const a = activations as tf.Tensor4D
      // The model run from `layer` on, its output there replaced by `value` (paths around it read the image).
      const from = (value: tf.Tensor): LoadedModel =>
        Object.create(model, { forward: { value: (x: tf.Tensor4D, names: string[]) => model.forward(x, names, { replace: { layer, value } }) } })
      const score = (value: tf.Tensor) => tf.sum(targetScores(from(value), input, plan, position))
      const gradients = withoutFilterGradients(() => tf.grad(score)(a))
      const alpha = tf.mean(gradients, [1, 2], true) // [1, 1, 1, K]
      return tf.relu(tf.sum(tf.mul(alpha, a), 3, true)) as tf.Tensor4D
    })
  } finally {
    activations!.dispose()
  }
}

export const guidedGradCam: PixelMethod = {
  name: 'guided-gradcam',
  label: 'Guided Grad-CAM',
  rule: `${guided.rule}, times Grad-CAM`,
  otherActivations: `${guided.otherActivations} (Grad-CAM's own gradient: the plain derivative)`,
  cost: 'guided backprop, plus one forward and one backward pass from the Grad-CAM layer',
  unsupported: (model) => (defaultMapLayer(model) === null ? `Model ${model.info.name} has no spatial layer before its head to read a Grad-CAM at` : null),
  async compute(model, input, plan, options = {}) {
    checkOneImage(input)
    const layer = gradCamLayer(model, plan, options.layer)
    const located = await locateTarget(model, input, plan)
    const [, height, width] = input.shape
    const guidedMap = ruleGradient(model, input, plan, 'guided', located.position)
    let cam: tf.Tensor4D | undefined
    try {
      cam = gradCam(model, input, plan, layer, located.position)
      const camOnInput = cam
      const product = tf.tidy(() => tf.mul(guidedMap, tf.image.resizeBilinear(camOnInput, [height, width], false, true))) as tf.Tensor4D
      return await readPixelMap(product, located)
    } finally {
      tf.dispose([guidedMap, ...(cam ? [cam] : [])])
    }
  },
}
