/**
 * One image's class maps and boxes (the CAM paper's Fig. 4 for one image), for `convscope cam`: the top-k
 * predictions (or the classes asked for), each class's map through one map method, its box at the
 * threshold on the original image, and the image's annotation when one is found (with each box's IoU
 * against the ground truth of its class).
 */
import { dirname, relative, resolve, sep } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../../shared/api'
import { toInputTensor, toModelInput } from '../images/preprocess'
import { readImage } from '../images/readImage'
import { outputClasses } from '../methods/classify'
import { OUTPUT, type LoadedModel } from '../model'
import type { MapMethod } from '../maps/types'
import { classResolver, findAnnotation, findAnnotationDir, readAnnotation, type AnnotatedObject } from './annotations'
import { bestIou, componentsAt, DEFAULT_THRESHOLD, mapToImage, normalizeMap, type PixelBox } from './boxes'

export interface ImageMapsOptions {
  method: MapMethod
  /** Classes to map: indices, labels, or class ids (WordNet ids, the dataset's classes.json ids). Default: the top `top`. */
  classes?: readonly string[]
  top?: number
  threshold?: number
  /** Annotation folder; default: looked for beside the image and its class folder (annotations.ts). */
  annotations?: string
  layer?: string
}

export interface ImageClassMap {
  rank: number | null
  classIndex: number
  label: string | null
  probability: number
  /** The class score the map explains (the logit). */
  score: number
  /** The map's grid size and raw values' range. */
  gridHeight: number
  gridWidth: number
  min: number
  max: number
  /** At the threshold, on the original image (0-based inclusive pixels), and its IoU with the ground truth of the class (null when the image has none of it). */
  box: PixelBox | null
  iou: number | null
  /** The upsampled, normalised map on the image's pixels (not in the JSON output). */
  normalized: Float32Array
}

export interface ImageMaps {
  image: string
  width: number
  height: number
  rgb: Uint8Array
  method: string
  label: string
  layer: string | null
  threshold: number
  annotation: string | null
  truth: AnnotatedObject[]
  maps: ImageClassMap[]
}

/** A class given as an index, a label or a class id → the model's index. */
async function classIndex(model: LoadedModel, given: string, dataRoot: string): Promise<number> {
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

/** The image's annotation: beside it, or in the annotation folder of its folder or of its class tree's root. */
async function annotationOf(model: LoadedModel, image: string, annotations?: string) {
  for (const root of [dirname(image), dirname(dirname(image))]) {
    const dir = await findAnnotationDir(root, annotations)
    const file = await findAnnotation(dir, { path: image, relPath: relative(root, image).split(sep).join('/') })
    if (file) return { file, annotation: await classResolver(model, root).resolve(await readAnnotation(file)) }
  }
  return null
}

export async function imageClassMaps(model: LoadedModel, imagePath: string, options: ImageMapsOptions): Promise<ImageMaps> {
  const image = resolve(imagePath)
  const threshold = options.threshold ?? DEFAULT_THRESHOLD
  if (!(threshold > 0 && threshold < 1)) throw new ConvscopeError('BAD_REQUEST', `The box threshold must be between 0 and 1, got ${threshold}`)
  const why = options.method.unsupported(model)
  if (why) throw new ConvscopeError('UNSUPPORTED_OP', `${options.method.label} cannot run on ${model.info.name}: ${why}`)
  const count = outputClasses(model)
  const decoded = await readImage(image)
  const input = await toModelInput(decoded, model.info.preprocessing)
  const found = await annotationOf(model, image, options.annotations)
  const x = toInputTensor(input)
  try {
    const probs = tf.tidy(() => model.forward(x, [OUTPUT])[0]!.reshape([count]))
    const probabilities = Array.from(await probs.data())
    probs.dispose()
    const ranking = probabilities.map((p, i) => ({ p, i })).sort((a, b) => b.p - a.p || a.i - b.i).map((e) => e.i)
    const top = Math.min(Math.max(1, options.top ?? 5), count)
    const classes = options.classes?.length ? [...new Set(await Promise.all(options.classes.map((c) => classIndex(model, c, dirname(dirname(image))))))] : ranking.slice(0, top)
    const result = await options.method.compute(model, x, classes, options.layer ? { layer: options.layer } : undefined)
    const maps = result.maps.map((m): ImageClassMap => {
      const up = mapToImage(m, input.geometry)
      const normalized = normalizeMap(up.values)
      const box = componentsAt(normalized, up.width, up.height, threshold)[0]?.box ?? null
      const truth = found?.annotation.objects.filter((o) => o.classIndex === m.classIndex).map((o) => o.box) ?? null
      let min = Infinity
      let max = -Infinity
      for (const v of m.values) [min, max] = [Math.min(min, v), Math.max(max, v)]
      return {
        rank: ranking.indexOf(m.classIndex) + 1,
        classIndex: m.classIndex,
        label: model.info.labels?.[m.classIndex] ?? null,
        probability: probabilities[m.classIndex]!,
        score: m.score,
        gridHeight: m.height,
        gridWidth: m.width,
        min,
        max,
        box,
        iou: truth?.length ? (box ? bestIou([box], truth) : 0) : null,
        normalized,
      }
    })
    return {
      image,
      width: decoded.width,
      height: decoded.height,
      rgb: decoded.rgb,
      method: options.method.name,
      label: options.method.label,
      layer: result.layer,
      threshold,
      annotation: found?.file ?? null,
      truth: found?.annotation.objects ?? [],
      maps,
    }
  } finally {
    x.dispose()
  }
}
