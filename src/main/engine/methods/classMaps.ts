/**
 * The Classes view's engine side (issue 5): thin adapters from the API's params to the class-map, box,
 * annotation and fully-convolutional modules, and back to JSON-able results.
 *
 * - getMapMethods: which map methods run on a model (and why not), the layers Grad-CAM can read.
 * - getClassMaps: for one image, its top-5 predictions, per class the map (on the method's grid) and its box
 *   in image pixels at the threshold, and the boxes of the image's annotation when one is found.
 * - getClassMapGrid: the fully-convolutional rewrite of the model run on the image at a larger input.
 * - getClassFolders: the class each class folder holds (WordNet id, label or classes.json, as `classify`).
 * - startLocalization: the dataset evaluation (localization/evaluate.ts) for the chosen methods.
 * - getFaithfulness / startFaithfulness: deletion and insertion curves (faithfulness/deletionInsertion.ts) of
 *   one image's map, with a random pixel order as the baseline, or averaged over a folder.
 *
 * Boxes cross the API as edges in image pixels ({x, y, width, height}); the localization modules use
 * 0-based inclusive pixel indices (boxes.ts), converted here in one place.
 */
import { relative, resolve, sep } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ClassMapGrid, type ClassMaps, type Faithfulness, type FolderFaithfulness, type ImageBox, type LayerInfo, type LocalizationReport, type MapMethodName, type MapMethodsInfo, type Params } from '../../../shared/api'
import type { JobContext } from '../context'
import { readImage } from '../images/readImage'
import { toInputTensor, toModelInput, type InputGeometry } from '../images/preprocess'
import { classResolver, findAnnotation, findAnnotationDir, readAnnotation } from '../localization/annotations'
import { classMapBox, DEFAULT_THRESHOLD, type PixelBox } from '../localization/boxes'
import { evaluateLocalization } from '../localization/evaluate'
import { folderFaithfulness, imageFaithfulness, randomOrderSeed } from '../faithfulness/deletionInsertion'
import { defaultMapLayer, MAP_METHOD_NAMES, mapLayers } from '../maps'
import { localizationMethod } from '../localization/maxPoolCam'
import { classMapGrid, fullyConvolutionalFromFolder, type FullyConvolutional } from '../models/fullyConvolutional'
import { OUTPUT, type LoadedModel } from '../model'
import { outputClasses } from './classify'

const TOP_K = 5

/** An inclusive pixel box as edges. */
export const toImageBox = (b: PixelBox): ImageBox => ({ x: b.xmin, y: b.ymin, width: b.xmax - b.xmin + 1, height: b.ymax - b.ymin + 1 })

/** The part of the image the network input covers, in image pixels (outside the image for letterbox padding). */
export const inputOnImage = (g: InputGeometry): ImageBox => ({ x: g.offsetX, y: g.offsetY, width: g.inputWidth * g.scaleX, height: g.inputHeight * g.scaleY })

/** The fully-convolutional rewrite per model (or why there is none), made once. */
const rewrites = new WeakMap<LoadedModel, Promise<FullyConvolutional | string>>()
function fullyConvolutional(model: LoadedModel): Promise<FullyConvolutional | string> {
  let found = rewrites.get(model)
  if (!found) {
    found = fullyConvolutionalFromFolder(model.info.dir).catch((e: unknown) => (e instanceof ConvscopeError ? e.message : String(e)))
    rewrites.set(model, found)
  }
  return found
}

/**
 * Why the model has no fully-convolutional form, from its layer list alone (null: it has the head the rewrite
 * takes). Cheap, unlike the rewrite itself (it reads the weights a second time): the rewrite runs, and may
 * still refuse with a precise reason, only when the class grid is asked for.
 */
function fullyConvolutionalHint(model: LoadedModel): string | null {
  if (model.info.format !== 'layers') return 'the rewrite needs a layers model (its layers and weights by name), and this is a graph model'
  const layers = model.info.layers
  const byName = new Map(layers.map((l) => [l.name, l]))
  /** Through dropout and activations, the layer a dense layer's vector comes from. */
  const source = (name: string | undefined) => {
    let l = name === undefined ? undefined : byName.get(name)
    while (l && (l.type === 'Dropout' || l.kind === 'activation') && l.inbound.length === 1) l = byName.get(l.inbound[0]!)
    return l
  }
  const flatOrPooled = (l: LayerInfo | undefined) => l?.type === 'Flatten' || l?.kind === 'global-pool'
  const hasHead = layers.some((l) => l.kind === 'dense' && l.inbound.length === 1 && flatOrPooled(source(l.inbound[0])))
  return hasHead ? null : 'it has no Flatten → Dense or global pooling → Dense head'
}

export async function getMapMethods(model: LoadedModel): Promise<MapMethodsInfo> {
  const fcnWhyNot = fullyConvolutionalHint(model)
  return {
    methods: MAP_METHOD_NAMES.map((name) => {
      const m = localizationMethod(model, name)
      return { name, label: m.label, unsupported: m.unsupported(model) }
    }),
    layers: mapLayers(model),
    defaultLayer: defaultMapLayer(model),
    fullyConvolutional: fcnWhyNot,
  }
}

/** Where the image's dataset root is: the folder the view has open, else the class folder's parent. */
function dataRootOf(image: string, dataDir: string | undefined): string {
  if (dataDir) {
    const root = resolve(dataDir)
    if (!relative(root, image).startsWith('..')) return root
  }
  return resolve(image, '..', '..')
}

/** The image's annotation, its objects mapped onto the model's classes; null when no file is found. */
async function groundTruthOf(model: LoadedModel, image: string, dataDir: string | undefined, annotations: string | undefined): Promise<ClassMaps['groundTruth']> {
  const root = dataRootOf(image, dataDir)
  const dir = await findAnnotationDir(root, annotations)
  const relPath = relative(root, image).split(sep).join('/')
  const file = await findAnnotation(dir, { path: image, relPath })
  if (!file) return null
  try {
    const annotation = await classResolver(model, root).resolve(await readAnnotation(file))
    return { annotation: file, boxes: annotation.objects.map((o) => ({ name: o.name, classIndex: o.classIndex, box: toImageBox(o.box) })), error: null }
  } catch (e) {
    // A broken annotation spoils the boxes, not the maps.
    if (e instanceof ConvscopeError) return { annotation: file, boxes: [], error: e.message }
    throw e
  }
}

/**
 * A map method by name (CAM on a global max pooling head is the CAM paper's GMP variant, so the app
 * compares GAP and GMP networks as the CLI does), or UNSUPPORTED_OP saying why it cannot run on the model.
 */
function runnableMethod(model: LoadedModel, name: MapMethodName) {
  const method = localizationMethod(model, name)
  const why = method.unsupported(model)
  if (why) throw new ConvscopeError('UNSUPPORTED_OP', `${method.label} cannot run on ${model.info.name}: ${why}`)
  return method
}

export async function getClassMaps(model: LoadedModel, p: Omit<Params<'getClassMaps'>, 'modelId'>): Promise<ClassMaps> {
  const method = runnableMethod(model, p.method)
  const imagePath = resolve(p.image)
  const threshold = p.threshold ?? DEFAULT_THRESHOLD
  const image = await readImage(imagePath)
  const input = await toModelInput(image, model.info.preprocessing)
  const x = toInputTensor(input)
  try {
    const [out] = model.forward(x, [OUTPUT])
    const scores = (await out!.data()) as Float32Array
    out!.dispose()
    const labels = model.info.labels
    const ranked = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]! || a - b)
    const predictions = ranked.slice(0, TOP_K).map((index) => ({ index, label: labels?.[index] ?? null, score: scores[index]! }))
    const classes = p.classes ?? ranked.slice(0, p.top ?? TOP_K)
    for (const c of classes) {
      if (c >= scores.length) throw new ConvscopeError('BAD_REQUEST', `Class ${c} is out of range: ${model.info.name} has ${scores.length} classes (0–${scores.length - 1})`)
    }

    const started = performance.now()
    const result = await method.compute(model, x, classes, { layer: p.layer })
    const milliseconds = performance.now() - started
    const maps = result.maps.map((m) => {
      const { box } = classMapBox(m, input.geometry, threshold)
      return {
        classIndex: m.classIndex,
        label: labels?.[m.classIndex] ?? null,
        probability: scores[m.classIndex]!,
        logit: m.score,
        height: m.height,
        width: m.width,
        values: Float32Array.from(m.values),
        box: box ? toImageBox(box) : null,
      }
    })
    return {
      image: image.facts,
      method: method.name,
      layer: result.layer,
      threshold,
      predictions,
      maps,
      inputOnImage: inputOnImage(input.geometry),
      groundTruth: await groundTruthOf(model, imagePath, p.dataDir, p.annotations),
      milliseconds,
    }
  } finally {
    x.dispose()
  }
}

export async function getClassMapGrid(model: LoadedModel, imagePath: string, size: number): Promise<ClassMapGrid> {
  const fcn = await fullyConvolutional(model)
  if (typeof fcn === 'string') throw new ConvscopeError('UNSUPPORTED_OP', `${model.info.name} has no fully-convolutional form: ${fcn}`)
  const [h0, w0] = fcn.trainingInputSize
  if (size < Math.max(h0, w0)) throw new ConvscopeError('BAD_REQUEST', `Input size ${size} is smaller than the training input ${h0}×${w0}: no window fits`)
  const image = await readImage(resolve(imagePath))
  const input = await toModelInput(image, { ...model.info.preprocessing, inputSize: [size, size] })
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
  const methods = p.methods.map((name) => runnableMethod(model, name))
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
  const method = runnableMethod(model, p.method)
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
  const methods = [...p.methods.map((name) => runnableMethod(model, name)), 'random' as const]
  const r = await folderFaithfulness(model, resolve(p.dataDir), methods, { limit: p.limit, points: p.points }, ctx)
  return { dataDir: r.root, images: r.images, methods: r.methods, skipped: r.skipped, seconds: r.seconds }
}

export async function getClassFolders(model: LoadedModel, dataDir: string, folders: string[]): Promise<{ folder: string; classIndex: number | null }[]> {
  const classes = classResolver(model, resolve(dataDir))
  return Promise.all(folders.map(async (folder) => ({ folder, classIndex: await classes.index(folder) })))
}
