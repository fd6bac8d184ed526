/**
 * What every class-map method shares: checking the request (one image, valid class indices) and turning a
 * stack of maps [classes, h, w] plus the logits into ClassMap records.
 */
import type * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../../shared/api'
import type { LoadedModel } from '../model'
import type { ClassMap, ClassScore, MapMethod } from './types'

/** Check that `input` is one image of the model's input size and `classes` are valid class indices. */
export function checkMapRequest(model: LoadedModel, input: tf.Tensor4D, classes: number[], classCount: number): void {
  if (input.rank !== 4 || input.shape[0] !== 1) {
    throw new ConvscopeError('BAD_REQUEST', `Class maps take one image [1, h, w, c]; got shape [${input.shape.join(', ')}]`)
  }
  checkClasses(model, classes, classCount)
}

/** A BAD_REQUEST unless `method` can explain `score` (CAM is the logit's decomposition; Grad-CAM++'s closed form assumes exp(logit)). */
export function checkMapScore(method: Pick<MapMethod, 'label' | 'scores'>, score: ClassScore = 'logit'): void {
  if (!method.scores.includes(score)) {
    throw new ConvscopeError('BAD_REQUEST', `${method.label} explains the ${method.scores.join(' or the ')} only, not the ${score}: its definition rests on the logit`)
  }
}

/** Check that `classes` are valid class indices of a model with `classCount` classes. */
export function checkClasses(model: LoadedModel, classes: number[], classCount: number): void {
  for (const c of classes) {
    if (!Number.isInteger(c) || c < 0 || c >= classCount) {
      throw new ConvscopeError('BAD_REQUEST', `Class ${c} is not a class of model ${model.info.name} (it has ${classCount}: 0 … ${classCount - 1})`)
    }
  }
}

/**
 * Read `maps` [classes.length, h, w] and the logits [1, C] into ClassMaps (map i is class classes[i]).
 * Does not dispose its arguments.
 */
export async function readClassMaps(maps: tf.Tensor3D, logits: tf.Tensor2D, classes: number[]): Promise<ClassMap[]> {
  const [, height, width] = maps.shape
  const [values, scores] = await Promise.all([maps.data<'float32'>(), logits.data<'float32'>()])
  const size = height * width
  return classes.map((classIndex, i) => ({
    classIndex,
    score: scores[classIndex]!,
    height,
    width,
    values: values.slice(i * size, (i + 1) * size),
  }))
}
