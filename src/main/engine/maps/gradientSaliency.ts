/**
 * Gradient saliency (Simonyan et al. 2014; the "Backprop" baseline of Zhou et al. 2016, Table 2):
 * |d logit_c / d input| maximised over colour channels, on the input grid. One backward pass for all
 * requested classes (the input tiled one row per class, as in the Grad-CAM family).
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../../shared/api'
import { withoutFilterGradients } from '../wasmGradients'
import { classLogits, findLogits, pickedScoreSum } from './classScores'
import { checkMapRequest, checkMapScore, readClassMaps } from './mapBase'
import type { MapMethod } from './types'

export const gradientSaliency: MapMethod = {
  name: 'backprop',
  label: 'Gradient (backprop)',
  needs: { layer: false, gradient: true, globalPoolingHead: false },
  returns: 'one-channel',
  grid: 'input',
  cost: 'one forward and one backward pass to the input (all classes in one batch)',
  comparedByDefault: true,
  scores: ['logit', 'probability'],
  unsupported(model) {
    const logits = findLogits(model)
    return typeof logits === 'string' ? logits : null
  },
  async compute(model, input, classes, options = {}) {
    const logitsSource = findLogits(model)
    if (typeof logitsSource === 'string') throw new ConvscopeError('UNSUPPORTED_OP', `Gradient saliency cannot run on model ${model.info.name}: ${logitsSource}`)
    checkMapRequest(model, input, classes, model.graph.get(logitsSource.layer).outputShape[0]!)
    checkMapScore(this, options.score)
    if (classes.length === 0) return { layer: null, maps: [] }
    const logits = classLogits(model, input)
    let maps: tf.Tensor3D | undefined
    try {
      maps = tf.tidy(() => {
        const images = tf.tile(input, [classes.length, 1, 1, 1])
        const score = (x: tf.Tensor) => pickedScoreSum(classLogits(model, x as tf.Tensor4D), classes, options.score)
        const gradients = withoutFilterGradients(() => tf.grad(score)(images))
        return gradients.abs().max(3) as tf.Tensor3D
      })
      return { layer: null, maps: await readClassMaps(maps, logits, classes) }
    } finally {
      tf.dispose([logits, ...(maps ? [maps] : [])])
    }
  },
}
