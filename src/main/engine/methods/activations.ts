/**
 * Activations of one layer for one image: the values, each channel's spatial max and where it occurs,
 * and the model's top-5 predictions, from a single forward pass (on onnxruntime where the model has a runtime
 * source: executors/forward.ts).
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ActivationData } from '../../../shared/api'
import { readImage, type ReadImageOptions } from '../images/readImage'
import { forwardTensors } from '../executors/forward'
import { toInputValues, toModelInput } from '../images/preprocess'
import { outputProbabilities } from '../maps/classScores'
import { OUTPUT, type LoadedModel } from '../model'

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

  const held: tf.Tensor[] = []
  try {
    const { tensors: outputs } = await forwardTensors(model, toInputValues(input), [layer, OUTPUT])
    held.push(...outputs)
    const [act, out] = outputs
    if (!act || !out) throw new ConvscopeError('INTERNAL', `forward() returned ${outputs.length} tensors for 2 requested`)

    // Reductions run on the backend; only their results come back to JS.
    const values = tf.tidy(() => act.squeeze([0]))
    held.push(values)
    let max: tf.Tensor | null = null
    let argmax: tf.Tensor | null = null
    if (values.rank >= 2) {
      // Space flattened: row p of [positions, channels] is position p = y * width + x.
      ;[max, argmax] = tf.tidy(() => {
        const flat = values.reshape([-1, values.shape[values.rank - 1]!])
        return [flat.max(0), flat.argMax(0)]
      })
      held.push(max, argmax)
    }
    const top = out.rank === 2 ? tf.tidy(() => tf.topk(outputProbabilities(model, out).reshape([-1]), Math.min(TOP_K, out.size))) : null
    if (top) held.push(top.values, top.indices)

    const valueData = Float32Array.from(await values.data())
    const channelMax = max ? Float32Array.from(await max.data()) : valueData
    const channelArgmax = argmax ? Array.from((await argmax.data()) as Int32Array) : new Array<number>(valueData.length).fill(0)
    const predictions: ActivationData['predictions'] = []
    if (top) {
      const scores = await top.values.data()
      const indices = (await top.indices.data()) as Int32Array
      const labels = model.info.labels
      indices.forEach((index, i) => predictions.push({ index, label: labels?.[index] ?? null, score: scores[i]! }))
    }
    return { layer, image: image.facts, shape: values.shape as number[], values: valueData, channelMax, channelArgmax, predictions }
  } finally {
    tf.dispose(held)
  }
}
