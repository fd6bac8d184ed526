/**
 * Find a CAM-able classifier head (Zhou et al. 2016, section 2): class scores that are a linear function of
 * the spatial mean of one conv feature map, so that logit_c = b_c + mean_xy Σ_k w_ck f_k(x, y) and the class
 * activation map Σ_k w_ck f_k(x, y) is exact.
 *
 * Two forms are recognised in the layer graph:
 * - pooled-dense: feature map → GlobalAveragePooling2D (or a Mean over H, W in a graph model, or an average
 *   pool covering the whole map) → [dropout / flatten / reshape] → one linear dense layer → [softmax];
 * - class-map-conv: feature map → 1×1 conv (linear; its outputs are per-class maps) → spatial mean → [softmax].
 * A structural match is then proven numerically: the head is run from the feature layer on a random map and
 * must give mean(map) · W + b. Anything else (global max pooling, flatten → fc layers) gets a reason.
 */
import * as tf from '@tensorflow/tfjs'
import type { LayerInfo } from '../../../shared/api'
import { classLogits, findLogits } from '../maps/classScores'
import type { LinearWeights, LoadedModel } from '../model'

export interface ClassifierHead {
  form: 'pooled-dense' | 'class-map-conv'
  /** The conv features f_k(x, y) [h, w, K] the class maps are made of. */
  featureLayer: string
  /** The spatial averaging layer. */
  poolLayer: string
  /** The linear layer holding w_ck: the dense layer, or the 1×1 conv. */
  classifierLayer: string
  /** Kernel ([K, C] dense, [1, 1, K, C] conv) and bias, owned by the model: never dispose them. */
  weights: LinearWeights
  /** K, the feature channels, and C, the classes. */
  channels: number
  classes: number
}

export type HeadSearch = { head: ClassifierHead; reason: null } | { head: null; reason: string }

const cache = new WeakMap<LoadedModel, HeadSearch>()

/** The model's CAM-able head, or why it has none. Cached per model. */
export function findClassifierHead(model: LoadedModel): HeadSearch {
  let found = cache.get(model)
  if (!found) {
    found = searchHead(model)
    cache.set(model, found)
  }
  return found
}

/** The [K, C'] weight columns of `classes` (all classes when omitted); the caller disposes the result. */
export function classWeights(head: ClassifierHead, classes?: number[]): tf.Tensor2D {
  return tf.tidy(() => {
    const w = head.weights.kernel.reshape([head.channels, head.classes]) as tf.Tensor2D
    return classes ? tf.gather(w, tf.tensor1d(classes, 'int32'), 1) : w.clone()
  })
}

const DROPOUT_TYPES = new Set(['Dropout', 'SpatialDropout2D', 'GaussianDropout', 'GaussianNoise', 'AlphaDropout'])
// Layer types of TF.js layers models, TF graph ops, and ONNX ops (issue 10), in that order.
const AVERAGE_GLOBAL = new Set(['GlobalAveragePooling2D', 'Mean', 'GlobalAveragePool'])
const MAX_GLOBAL = new Set(['GlobalMaxPooling2D', 'Max', 'GlobalMaxPool'])
const AVERAGE_POOL = new Set(['AveragePooling2D', 'AvgPool', 'AveragePool'])

function searchHead(model: LoadedModel): HeadSearch {
  const fail = (reason: string): HeadSearch => ({ head: null, reason })
  const graph = model.graph
  const describe = (l: LayerInfo) => `"${l.name}" (${l.type})`
  const single = (l: LayerInfo): LayerInfo | string => {
    if (l.inbound.length !== 1) return `${describe(l)} has ${l.inbound.length} inputs`
    return graph.find(l.inbound[0]!) ?? `${describe(l)} reads "${l.inbound[0]}", which is not a layer`
  }
  /** The layer feeding `l`, skipping dropout and shape-only layers. */
  const feeding = (l: LayerInfo): LayerInfo | string => {
    let p = single(l)
    while (typeof p !== 'string' && (DROPOUT_TYPES.has(p.type) || (p.kind === 'reshape' && p.outputShape.length <= 1))) p = single(p)
    return p
  }
  /** Whether `l` averages its input over the whole map: global average, or an average pool to 1×1. */
  const averagesSpace = (l: LayerInfo) =>
    (l.kind === 'global-pool' && AVERAGE_GLOBAL.has(l.type)) ||
    (l.kind === 'pool' && AVERAGE_POOL.has(l.type) && l.outputShape[0] === 1 && l.outputShape[1] === 1)
  const isMaxPooling = (l: LayerInfo) => l.kind === 'global-pool' && MAX_GLOBAL.has(l.type)

  const logits = findLogits(model)
  if (typeof logits === 'string') return fail(logits)
  if (!model.linearWeights) return fail(`Model ${model.info.name} does not expose its layer weights`)
  const scores = graph.get(logits.layer)
  const linear = scores.activation === 'linear' || scores.activation === null || logits.kind === 'dense-softmax'

  let found: Omit<ClassifierHead, 'weights' | 'channels' | 'classes'> | null = null
  if (scores.kind === 'dense') {
    if (!linear) return fail(`The class scores come from ${describe(scores)} with a ${scores.activation} activation; CAM needs a linear layer`)
    const pool = feeding(scores)
    if (typeof pool === 'string') return fail(pool)
    if (isMaxPooling(pool)) {
      return fail(`${describe(scores)} reads ${describe(pool)}: global max pooling is not linear in the features (one position per map decides), so the class score is not the mean of a class activation map; CAM needs global average pooling (use Grad-CAM)`)
    }
    if (!averagesSpace(pool)) {
      return fail(
        `${describe(scores)} reads ${describe(pool)}, not a global average pooling of conv features; CAM needs conv features → global average pooling → one linear layer (use Grad-CAM for other heads)`,
      )
    }
    const features = single(pool)
    if (typeof features === 'string') return fail(features)
    found = { form: 'pooled-dense', featureLayer: features.name, poolLayer: pool.name, classifierLayer: scores.name }
  } else if (averagesSpace(scores) || (scores.kind === 'reshape' && typeof feeding(scores) !== 'string' && averagesSpace(feeding(scores) as LayerInfo))) {
    const pool = averagesSpace(scores) ? scores : (feeding(scores) as LayerInfo)
    const conv = single(pool)
    if (typeof conv === 'string') return fail(conv)
    const kernel = conv.kind === 'conv' ? model.linearWeights(conv.name)?.kernel : undefined
    if (!kernel || kernel.rank !== 4 || kernel.shape[0] !== 1 || kernel.shape[1] !== 1) {
      return fail(`The class scores average ${describe(conv)} over space, but it is not a 1×1 convolution producing class maps`)
    }
    if (conv.activation !== 'linear' && conv.activation !== null) {
      return fail(`The 1×1 class-map convolution ${describe(conv)} has a ${conv.activation} activation; CAM needs it linear`)
    }
    const features = single(conv)
    if (typeof features === 'string') return fail(features)
    found = { form: 'class-map-conv', featureLayer: features.name, poolLayer: pool.name, classifierLayer: conv.name }
  } else {
    return fail(`The class scores come from ${describe(scores)}, not from a linear layer after global average pooling; CAM needs conv features → global average pooling → one linear layer (use Grad-CAM)`)
  }

  const featureInfo = graph.get(found.featureLayer)
  if (!featureInfo.spatial) return fail(`${describe(featureInfo)} feeds the pooling but is not a spatial map`)
  const weights = model.linearWeights(found.classifierLayer)
  if (!weights) return fail(`The weights of ${describe(graph.get(found.classifierLayer))} are not readable`)
  const channels = featureInfo.outputShape[2]!
  const classes = weights.kernel.shape[weights.kernel.rank - 1]!
  if (weights.kernel.size !== channels * classes) {
    return fail(`${describe(graph.get(found.classifierLayer))} has a kernel of shape [${weights.kernel.shape.join(', ')}], not [${channels}, classes] over the ${channels} feature channels`)
  }
  const head: ClassifierHead = { ...found, weights, channels, classes }
  const mismatch = proveLinearHead(model, head)
  if (mismatch !== null) {
    return fail(`The layers from ${describe(featureInfo)} to the class scores look like a CAM head but do not compute mean(features) · W + b (largest difference ${mismatch.toPrecision(3)} on a test map), e.g. an average pool that does not cover the whole map`)
  }
  return { head, reason: null }
}

/** Run the head from the feature layer on a random map; null when it equals mean(map) · W + b, else the largest difference. */
function proveLinearHead(model: LoadedModel, head: ClassifierHead): number | null {
  const shape = model.graph.get(head.featureLayer).outputShape as number[]
  if (shape.some((d) => d == null)) return null // sizes unknown until an image arrives: trust the structure
  const diff = tf.tidy(() => {
    const map = tf.randomUniform([1, ...shape] as [number, number, number, number], 0, 1, 'float32', 5)
    const input = tf.zeros([1, ...model.info.inputShape]) as tf.Tensor4D
    const logits = classLogits(model, input, { replace: { layer: head.featureLayer, value: map } })
    const w = classWeights(head)
    let expected: tf.Tensor2D = tf.matMul(map.mean([1, 2]) as tf.Tensor2D, w)
    if (head.weights.bias) expected = expected.add(head.weights.bias)
    const scale = expected.abs().max().add(1e-6)
    return logits.sub(expected).abs().max().div(scale).dataSync()[0]!
  })
  return diff <= 1e-4 ? null : diff
}
