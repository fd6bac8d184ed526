/**
 * The shared machinery of the gradient maps read at a layer (Selvaraju et al. 2017): one forward pass to the
 * layer's activations A and the logits, the gradient of each requested class's logit with respect to A, and a
 * map on the layer's grid from the two (the one thing a method decides: LayerGradientMap.mapsFrom). The
 * Grad-CAM family (GradCamFamily) makes it ReLU(Σ_k w_k A_k) from channel weights w_k.
 *
 * The gradients of all requested classes come from one backward pass: A is tiled into a batch of one row per
 * class and the scalar Σ_i logit_{c_i}(row i) is differentiated, so row i of the gradient is class c_i's.
 * The network is run from the layer on (LoadedModel.forward with `replace`), not from the image.
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../../shared/api'
import type { LoadedModel } from '../model'
import { withoutFilterGradients } from '../wasmGradients'
import { classLogits, findLogits, forwardWithLogits, pickedScoreSum } from './classScores'
import { checkMapRequest, checkMapScore, readClassMaps } from './mapBase'
import { defaultMapLayer } from './mapLayers'
import type { MapMethod, MapMethodNeeds, MapOptions, MapResult } from './types'

export abstract class LayerGradientMap implements MapMethod {
  abstract readonly name: string
  abstract readonly label: string
  readonly needs: MapMethodNeeds = { layer: true, gradient: true, globalPoolingHead: false }
  readonly returns = 'one-channel' as const
  readonly grid = 'layer' as const
  readonly cost: string = 'one forward and one backward pass (all classes in one batch)'
  readonly comparedByDefault: boolean = true
  readonly scores: ('logit' | 'probability')[] = ['logit', 'probability']

  /** Maps [n, h, w] from the gradients [n, h, w, K] (row i: class i's) and the activations [1, h, w, K]. Runs inside a tidy. */
  protected abstract mapsFrom(gradients: tf.Tensor4D, activations: tf.Tensor4D): tf.Tensor3D

  unsupported(model: LoadedModel): string | null {
    const logits = findLogits(model)
    if (typeof logits === 'string') return logits
    if (defaultMapLayer(model) === null) return `Model ${model.info.name} has no spatial layer to read a map at`
    return null
  }

  async compute(model: LoadedModel, input: tf.Tensor4D, classes: number[], options: MapOptions = {}): Promise<MapResult> {
    const why = this.unsupported(model)
    if (why) throw new ConvscopeError('UNSUPPORTED_OP', `${this.label} cannot run on model ${model.info.name}: ${why}`)
    checkMapScore(this, options.score)
    const layer = options.layer ?? defaultMapLayer(model)!
    const info = model.graph.get(layer)
    if (!info.spatial || info.kind === 'input') {
      throw new ConvscopeError('BAD_REQUEST', `${this.label} reads maps at a spatial layer after the input; "${layer}" has shape [${info.outputShape.join(', ')}]`)
    }
    const scores = model.graph.get((findLogits(model) as { layer: string }).layer)
    checkMapRequest(model, input, classes, scores.outputShape[0]!)
    if (classes.length === 0) return { layer, maps: [] }
    const {
      outputs: [activations],
      logits,
    } = forwardWithLogits(model, input, [layer])
    let maps: tf.Tensor3D | undefined
    try {
      maps = tf.tidy(() => {
        const a = activations as tf.Tensor4D
        const n = classes.length
        const tiled = tf.tile(a, [n, 1, 1, 1])
        const images = tf.tile(input, [n, 1, 1, 1])
        const score = (value: tf.Tensor) => pickedScoreSum(classLogits(model, images, { replace: { layer, value } }), classes, options.score)
        // Only d score / d A is wanted: skip the filter gradients tfjs' fused convs would compute eagerly.
        const gradients = withoutFilterGradients(() => tf.grad(score)(tiled)) as tf.Tensor4D
        return this.mapsFrom(gradients, a)
      })
      return { layer, maps: await readClassMaps(maps, logits, classes) }
    } finally {
      tf.dispose([activations!, logits, ...(maps ? [maps] : [])])
    }
  }
}

/** The Grad-CAM family: ReLU(Σ_k w_k A_k) with channel weights w_k from the gradients (the one thing a variant decides). */
export abstract class GradCamFamily extends LayerGradientMap {
  /**
   * Channel weights [n, K] from the gradients [n, h, w, K] (row i: class i's) and the activations [1, h, w, K].
   * Runs inside a tidy.
   */
  protected abstract channelWeights(gradients: tf.Tensor4D, activations: tf.Tensor4D): tf.Tensor2D

  protected mapsFrom(gradients: tf.Tensor4D, activations: tf.Tensor4D): tf.Tensor3D {
    const [n, h, w, k] = gradients.shape
    const weights = this.channelWeights(gradients, activations)
    return tf.relu(tf.matMul(weights, activations.reshape([h * w, k]) as tf.Tensor2D, false, true)).reshape([n, h, w]) as tf.Tensor3D
  }
}
