/**
 * Activations of one layer for one image: the values, each channel's spatial max and where it occurs,
 * and the model's top-5 predictions, from a single forward pass (on onnxruntime where the model has a runtime
 * source: executors/forward.ts), read as values: the channel maxima are one JS pass, not backend ops.
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ActivationData } from '../../../shared/api'
import { readImage, type ReadImageOptions } from '../images/readImage'
import { forwardLayers } from '../executors/forward'
import { toInputValues, toModelInput } from '../images/preprocess'
import { outputProbabilities } from '../maps/classScores'
import { OUTPUT, type LoadedModel } from '../model'
import { spatialMaxOf } from '../scan/spatialMax'

const TOP_K = 5

export async function computeActivations(
  model: LoadedModel,
  layer: string,
  imagePath: string,
  options: ReadImageOptions = {},
): Promise<ActivationData> {
  model.graph.get(layer) // an unknown layer fails before the image is read
  const image = await readImage(imagePath, options)
  const input = await toModelInput(image, model.info.preprocessing)

  const { values: outputs } = await forwardLayers(model, toInputValues(input), [layer, OUTPUT])
  const [act, out] = outputs
  if (!act || !out) throw new ConvscopeError('INTERNAL', `forward() returned ${outputs.length} values for 2 requested`)
  const shape = act.shape.slice(1) // one image: the batch axis dropped
  // Its own copy: the forward's array may be shared (the same tensor asked twice) or a view of a larger buffer.
  const values = Float32Array.from(act.data)
  // Per channel over space, in one JS pass over the values (ties: the first position, as tf.argMax), not tfjs ops.
  const maxima = shape.length >= 2 ? spatialMaxOf(values, 1, values.length / shape[shape.length - 1]!, shape[shape.length - 1]!) : null
  const channelMax = maxima ? Float32Array.from(maxima.max) : values
  const channelArgmax = maxima ? Array.from(maxima.arg) : new Array<number>(values.length).fill(0)

  // The top classes stay on tfjs: its softmax and topk (tie order) are the ones the other views show.
  const predictions: ActivationData['predictions'] = []
  if (out.shape.length === 2) {
    const top = tf.tidy(() => tf.topk(outputProbabilities(model, tf.tensor(out.data, out.shape)).reshape([-1]), Math.min(TOP_K, out.data.length)))
    try {
      const [scores, indices] = await Promise.all([top.values.data(), top.indices.data() as Promise<Int32Array>])
      const labels = model.info.labels
      indices.forEach((index, i) => predictions.push({ index, label: labels?.[index] ?? null, score: scores[i]! }))
    } finally {
      tf.dispose([top.values, top.indices])
    }
  }
  return { layer, image: image.facts, shape, values, channelMax, channelArgmax, predictions }
}
