/**
 * One image's class maps and boxes (the CAM paper's Fig. 4 for one image): the one implementation behind the
 * Classes view (getClassMaps, methods/classMaps.ts) and `convscope cam` (cli/camCommand.ts). The model's
 * ranking of the classes, per requested class (default: the top k) the map of one map method, its box at the
 * threshold on the original image, and the image's annotation when one is found, its objects mapped onto the
 * model's classes. The ranking's forward pass runs on onnxruntime where the model has a runtime source
 * (executors/forward.ts), as do the maps of forward-only methods (CAM).
 */
import { dirname, relative, resolve, sep } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../../shared/api'
import { forwardTensors } from '../executors/forward'
import type { DecodedImage } from '../images/readImage'
import { readImage } from '../images/readImage'
import { toInputTensor, toInputValues, toModelInput, type InputGeometry, type ModelInput } from '../images/preprocess'
import { outputClasses } from '../methods/classify'
import { OUTPUT, type LoadedModel } from '../model'
import { mapMethodLabel } from '../maps'
import { outputProbabilities } from '../maps/classScores'
import { checkMapScore } from '../maps/mapBase'
import type { ClassMap, ClassScore, MapMethod, MapOptions, MapResult } from '../maps/types'
import { classResolver, findAnnotation, findAnnotationDir, readAnnotationCached, sharedClassResolver, type AnnotatedObject } from './annotations'
import { classMapBox, DEFAULT_THRESHOLD, type PixelBox } from './boxes'

export interface ImageMapsRequest {
  method: MapMethod
  /** Model class indices to map; default: the top `top` predicted classes. */
  classes?: readonly number[]
  /** Default 5. */
  top?: number
  /** Boxes keep the map above this fraction of its max (default 0.2, the CAM paper's). */
  threshold?: number
  /** The layer to read maps at, for methods that need one. */
  layer?: string
  /** The class score the maps explain (default the logit; the probability where the method's `scores` allow it). */
  score?: ClassScore
  /** The image folder the image was opened from: its annotations and class names are looked for there first. */
  dataDir?: string
  /** Annotation folder; default: looked for beside the image and its class folder (annotations.ts). */
  annotations?: string
}

export interface ImageClassMap {
  /** 1 for the model's top class. */
  rank: number
  classIndex: number
  label: string | null
  /** The class's probability: the model's output after its softmax, or the softmax of its logits (maps/classScores.ts). */
  probability: number
  /** The map on its grid; map.score is the logit it explains. */
  map: ClassMap
  /** At the threshold, on the original image (0-based inclusive pixels); null for an all-zero map. */
  box: PixelBox | null
  /** The map upsampled to the image's pixels and normalised to [0, 1]. */
  normalized: Float32Array
}

export interface GroundTruth {
  annotation: string
  objects: AnnotatedObject[]
  /** Why the file could not be read (its objects are then empty): a broken annotation spoils the boxes, not the maps. */
  error: string | null
}

export interface ImageMaps {
  image: DecodedImage
  geometry: InputGeometry
  method: string
  /** The method's label on this model. */
  label: string
  layer: string | null
  threshold: number
  /** The model's outputs, and the class indices from the most probable down. */
  probabilities: Float32Array
  ranking: number[]
  maps: ImageClassMap[]
  groundTruth: GroundTruth | null
  /** Spent on the maps beyond the forward pass for the ranking (where the maps come from that pass, CAM: their own work). */
  milliseconds: number
}

/** The roots whose annotation folders are tried, in order: the open folder (when it holds the image), the image's folder, its class tree's root. */
export function annotationRoots(image: string, dataDir?: string): string[] {
  const roots = [dirname(image), dirname(dirname(image))]
  if (dataDir && !relative(resolve(dataDir), image).startsWith('..')) roots.unshift(resolve(dataDir))
  return [...new Set(roots)]
}

/** The image's annotation, its objects mapped onto the model's classes; null when no file is found. */
export async function groundTruthOf(model: LoadedModel, image: string, dataDir?: string, annotations?: string): Promise<GroundTruth | null> {
  for (const root of annotationRoots(image, dataDir)) {
    const dir = await findAnnotationDir(root, annotations)
    const file = await findAnnotation(dir, { path: image, relPath: relative(root, image).split(sep).join('/') })
    if (!file) continue
    try {
      const classes = await sharedClassResolver(model, root)
      return { annotation: file, objects: (await classes.resolve(await readAnnotationCached(file))).objects, error: null }
    } catch (e) {
      if (e instanceof ConvscopeError) return { annotation: file, objects: [], error: e.message }
      throw e
    }
  }
  return null
}

/** A class given as an index, a label or a class id (WordNet id, the dataset's classes.json id) → the model's index. */
export async function classIndexOf(model: LoadedModel, given: string, dataRoot: string): Promise<number> {
  const count = outputClasses(model)
  if (/^\d+$/.test(given)) {
    const i = Number(given)
    if (i >= count) throw new ConvscopeError('BAD_REQUEST', `Class ${i} is not a class of ${model.info.name} (it has ${count}: 0 … ${count - 1})`)
    return i
  }
  const index = await classResolver(model, dataRoot).index(given)
  if (index === null) throw new ConvscopeError('BAD_REQUEST', `"${given}" is no class of ${model.info.name}: give a class index, a label or a class id`)
  return index
}

export async function imageClassMaps(model: LoadedModel, imagePath: string, request: ImageMapsRequest): Promise<ImageMaps> {
  const { method } = request
  const path = resolve(imagePath)
  const threshold = request.threshold ?? DEFAULT_THRESHOLD
  if (!(threshold > 0 && threshold < 1)) throw new ConvscopeError('BAD_REQUEST', `The box threshold must be between 0 and 1, got ${threshold}`)
  const why = method.unsupported(model)
  if (why) throw new ConvscopeError('UNSUPPORTED_OP', `${mapMethodLabel(method, model)} cannot run on ${model.info.name}: ${why}`)
  checkMapScore(method, request.score)
  const image = await readImage(path)
  const input = await toModelInput(image, model.info.preprocessing)
  // A forward-only method (CAM) reads its maps from the pass that ranks the classes: one pass, not two.
  const shared = method.forwardNames && method.mapsFromForward ? method.forwardNames(model) : []
  const { tensors } = await forwardTensors(model, toInputValues(input), [OUTPUT, ...shared])
  try {
    const output = tf.tidy(() => outputProbabilities(model, tensors[0]!).reshape([-1]))
    const probabilities = (await output.data()) as Float32Array
    output.dispose()
    const count = probabilities.length
    const ranking = Array.from(probabilities.keys()).sort((a, b) => probabilities[b]! - probabilities[a]! || a - b)
    const classes = request.classes?.length ? [...new Set(request.classes)] : ranking.slice(0, Math.max(1, request.top ?? 5))
    for (const c of classes) {
      if (c >= count) throw new ConvscopeError('BAD_REQUEST', `Class ${c} is out of range: ${model.info.name} has ${count} classes (0–${count - 1})`)
    }
    const started = performance.now()
    const result = shared.length ? await method.mapsFromForward!(model, tensors.slice(1), classes) : await computeMaps(model, method, input, classes, { layer: request.layer, score: request.score })
    const milliseconds = performance.now() - started
    const maps = result.maps.map((map): ImageClassMap => {
      const { box, normalized } = classMapBox(map, input.geometry, threshold)
      const classIndex = map.classIndex
      return { rank: ranking.indexOf(classIndex) + 1, classIndex, label: model.info.labels?.[classIndex] ?? null, probability: probabilities[classIndex]!, map, box, normalized }
    })
    return {
      image,
      geometry: input.geometry,
      method: method.name,
      label: mapMethodLabel(method, model),
      layer: result.layer,
      threshold,
      probabilities,
      ranking,
      maps,
      groundTruth: await groundTruthOf(model, path, request.dataDir, request.annotations),
      milliseconds,
    }
  } finally {
    tf.dispose(tensors)
  }
}

/** The method's own pass on the input as a tensor. */
async function computeMaps(model: LoadedModel, method: MapMethod, input: ModelInput, classes: number[], options: MapOptions): Promise<MapResult> {
  const x = toInputTensor(input)
  try {
    return await method.compute(model, x, classes, options)
  } finally {
    x.dispose()
  }
}
