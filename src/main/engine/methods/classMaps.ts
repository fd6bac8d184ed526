/**
 * The Classes view's engine side (issue 5): thin adapters from the API's params to the class-map, box,
 * annotation and fully-convolutional modules, and back to JSON-able results.
 *
 * - getMapMethods: the map registry's methods as they describe themselves, which run on a model (and why not),
 *   the layers the methods that need a layer can read.
 * - getClassMaps: for one image, its top-5 predictions, per class the map (on the method's grid) and its box
 *   in image pixels at the threshold, and the boxes of the image's annotation when one is found
 *   (localization/imageMaps.ts, which `convscope cam` runs too).
 * - getClassMapGrid: the fully-convolutional form of the model (any format: models/convolutionalHead.ts) run on
 *   the image at a larger input.
 * - getClassFolders: the class each class folder holds (WordNet id, label or classes.json, as `classify`).
 * - startLocalization: the dataset evaluation (localization/evaluate.ts) for the chosen methods.
 * - getFaithfulness / startFaithfulness: deletion and insertion curves (faithfulness/deletionInsertion.ts) of
 *   one image's map, with a random pixel order as the baseline, or averaged over a folder.
 *
 * Boxes cross the API as edges in image pixels ({x, y, width, height}); the localization modules use
 * 0-based inclusive pixel indices (boxes.ts), converted here in one place.
 */
import { resolve } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ClassMapGrid, type ClassMaps, type Faithfulness, type FolderFaithfulness, type ImageBox, type LocalizationReport, type MapMethodsInfo, type Params } from '../../../shared/api'
import type { JobContext } from '../context'
import { readImage } from '../images/readImage'
import { atInputSize, toInputTensor, toModelInput, type InputGeometry } from '../images/preprocess'
import { classResolver } from '../localization/annotations'
import type { PixelBox } from '../localization/boxes'
import { evaluateLocalization } from '../localization/evaluate'
import { imageClassMaps } from '../localization/imageMaps'
import { folderFaithfulness, imageFaithfulness, randomOrderSeed } from '../faithfulness/deletionInsertion'
import { defaultMapLayer, describeMapMethod, MAP_METHOD_LIST, mapLayers, mapMethod, runnableMapMethod } from '../maps'
import { classMapGrid, type ClassGridNetwork } from '../models/classGrid'
import { convolutionalHead, planConvolutionalHead } from '../models/convolutionalHead'
import type { LoadedModel } from '../model'
import { outputClasses } from './classify'

/** An inclusive pixel box as edges. */
export const toImageBox = (b: PixelBox): ImageBox => ({ x: b.xmin, y: b.ymin, width: b.xmax - b.xmin + 1, height: b.ymax - b.ymin + 1 })

/** The part of the image the network input covers, in image pixels (outside the image for letterbox padding). */
export const inputOnImage = (g: InputGeometry): ImageBox => ({ x: g.offsetX, y: g.offsetY, width: g.inputWidth * g.scaleX, height: g.inputHeight * g.scaleY })

/** The fully-convolutional form per model (or the error saying why there is none), made and checked once. */
const rewrites = new WeakMap<LoadedModel, ClassGridNetwork | ConvscopeError>()
function fullyConvolutional(model: LoadedModel): ClassGridNetwork {
  let found = rewrites.get(model)
  if (!found) {
    try {
      found = convolutionalHead(model)
    } catch (e) {
      if (!(e instanceof ConvscopeError)) throw e
      found = e
    }
    rewrites.set(model, found)
  }
  if (found instanceof ConvscopeError) throw found
  return found
}

/**
 * Why the model has no fully-convolutional form, from its layer table alone (null: it has the head the rewrite
 * takes). Cheap, unlike building it (that reads the weights and checks the rewritten head against the model):
 * it may still refuse, with a precise reason, when the class grid is asked for.
 */
function fullyConvolutionalHint(model: LoadedModel): string | null {
  const plan = planConvolutionalHead(model)
  return typeof plan === 'string' ? plan : null
}

export async function getMapMethods(model: LoadedModel): Promise<MapMethodsInfo> {
  return {
    methods: MAP_METHOD_LIST.map((m) => describeMapMethod(m, model)),
    layers: mapLayers(model),
    defaultLayer: defaultMapLayer(model),
    fullyConvolutional: fullyConvolutionalHint(model),
  }
}

/** The predictions the view lists beside the maps. */
const TOP_PREDICTIONS = 5

export async function getClassMaps(model: LoadedModel, p: Omit<Params<'getClassMaps'>, 'modelId'>): Promise<ClassMaps> {
  const r = await imageClassMaps(model, p.image, { method: mapMethod(p.method), classes: p.classes, top: p.top, threshold: p.threshold, layer: p.layer, score: p.score, dataDir: p.dataDir, annotations: p.annotations })
  const labels = model.info.labels
  const truth = r.groundTruth
  return {
    image: r.image.facts,
    method: r.method,
    layer: r.layer,
    score: p.score ?? 'logit',
    threshold: r.threshold,
    predictions: r.ranking.slice(0, TOP_PREDICTIONS).map((index) => ({ index, label: labels?.[index] ?? null, score: r.probabilities[index]! })),
    maps: r.maps.map((m) => ({
      classIndex: m.classIndex,
      label: m.label,
      probability: m.probability,
      logit: m.map.score,
      height: m.map.height,
      width: m.map.width,
      values: Float32Array.from(m.map.values),
      box: m.box && toImageBox(m.box),
    })),
    inputOnImage: inputOnImage(r.geometry),
    groundTruth: truth && { annotation: truth.annotation, boxes: truth.objects.map((o) => ({ name: o.name, classIndex: o.classIndex, box: toImageBox(o.box) })), error: truth.error },
    milliseconds: r.milliseconds,
  }
}

export async function getClassMapGrid(model: LoadedModel, imagePath: string, size: number): Promise<ClassMapGrid> {
  const fcn = fullyConvolutional(model)
  const [h0, w0] = fcn.trainingInputSize
  if (size < Math.max(h0, w0)) throw new ConvscopeError('BAD_REQUEST', `Input size ${size} is smaller than the training input ${h0}×${w0}: no window fits`)
  const image = await readImage(resolve(imagePath))
  const input = await toModelInput(image, atInputSize(model.info.preprocessing, [size, size]))
  const x = toInputTensor(input)
  try {
    const grid = await classMapGrid(fcn, x)
    let probabilities = Float32Array.from(grid.values)
    if (fcn.outputs === 'scores') probabilities = tf.tidy(() => Float32Array.from(tf.softmax(tf.tensor2d(grid.values, [grid.height * grid.width, grid.classes])).dataSync()))
    const maxProbability = new Float32Array(grid.argmax.length)
    for (let p = 0; p < grid.argmax.length; p++) maxProbability[p] = probabilities[p * grid.classes + grid.argmax[p]!]!
    return {
      image: image.facts,
      inputSize: grid.inputSize,
      trainingInputSize: fcn.trainingInputSize,
      head: fcn.head,
      steps: fcn.steps,
      height: grid.height,
      width: grid.width,
      stride: grid.stride,
      // Receptive-field centres are pixel-centre coordinates: + 0.5 gives edges. Without a field, the window's centre.
      origin: grid.receptiveField ? [grid.receptiveField.start[0] + 0.5, grid.receptiveField.start[1] + 0.5] : [h0 / 2, w0 / 2],
      classes: grid.classes,
      argmax: Array.from(grid.argmax),
      maxProbability,
      probabilities,
      labels: model.info.labels,
      inputOnImage: inputOnImage(input.geometry),
    }
  } finally {
    x.dispose()
  }
}

export async function startLocalization(model: LoadedModel, p: Omit<Params<'startLocalization'>, 'modelId'>, ctx: JobContext): Promise<LocalizationReport> {
  const methods = p.methods.map((name) => runnableMapMethod(model, name))
  const report = await evaluateLocalization(model, resolve(p.dataDir), { methods, annotations: p.annotations, threshold: p.threshold, limit: p.limit }, ctx)
  return {
    ...report,
    failures: report.failures.map((f) => ({
      ...f,
      box: f.box && toImageBox(f.box),
      gtKnownBox: f.gtKnownBox && toImageBox(f.gtKnownBox),
      gtBoxes: f.gtBoxes.map(toImageBox),
    })),
  }
}

export async function getFaithfulness(model: LoadedModel, p: Omit<Params<'getFaithfulness'>, 'modelId'>): Promise<Faithfulness> {
  const method = runnableMapMethod(model, p.method)
  const image = await readImage(resolve(p.image))
  const x = toInputTensor(await toModelInput(image, model.info.preprocessing))
  try {
    const options = { points: p.points, classIndex: p.class, mapOptions: { layer: p.layer }, seed: randomOrderSeed(p.image) }
    const classes = outputClasses(model)
    if (p.class !== undefined && p.class >= classes) throw new ConvscopeError('BAD_REQUEST', `Class ${p.class} is out of range: ${model.info.name} has ${classes} classes (0–${classes - 1})`)
    const curves = await imageFaithfulness(model, x, method, options)
    const random = await imageFaithfulness(model, x, 'random', { ...options, classIndex: curves.classIndex })
    return {
      method: method.name,
      classIndex: curves.classIndex,
      label: model.info.labels?.[curves.classIndex] ?? null,
      deletion: curves.deletion,
      insertion: curves.insertion,
      random: { deletion: random.deletion, insertion: random.insertion },
      mapMilliseconds: curves.mapMilliseconds,
      curveMilliseconds: curves.curveMilliseconds,
    }
  } finally {
    x.dispose()
  }
}

export async function startFaithfulness(model: LoadedModel, p: Omit<Params<'startFaithfulness'>, 'modelId'>, ctx: JobContext): Promise<FolderFaithfulness> {
  const methods = [...p.methods.map((name) => runnableMapMethod(model, name)), 'random' as const]
  const r = await folderFaithfulness(model, resolve(p.dataDir), methods, { limit: p.limit, points: p.points }, ctx)
  return { dataDir: r.root, images: r.images, methods: r.methods, skipped: r.skipped, seconds: r.seconds }
}

export async function getClassFolders(model: LoadedModel, dataDir: string, folders: string[]): Promise<{ folder: string; classIndex: number | null }[]> {
  const classes = classResolver(model, resolve(dataDir))
  return Promise.all(folders.map(async (folder) => ({ folder, classIndex: await classes.index(folder) })))
}
