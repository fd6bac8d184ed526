/**
 * Weakly-supervised localization of an annotated image folder, streamed, for one or more map methods at
 * once (each image is read and classified once, then mapped by every method):
 *
 *   per image: the top-5 predicted classes; each method's maps of those classes and of the true class;
 *   boxes at the chosen threshold (top-1 / top-5 / GT-known) and, for the top-1 and the true class, at
 *   every threshold of the sweep (the IoUs the sweep and MaxBoxAccV2 need; see metrics.ts).
 *
 * The result is a plain JSON-able object: per method the table row, the threshold sweep and the top-1
 * failures (worst IoU first, with the boxes to draw), plus the images that were skipped and why (no
 * annotation file, unreadable image or XML, no annotated class the model knows). Nothing per image is
 * fatal. Progress (images done / total, images/s) and cancellation go through the JobContext.
 *
 * Forward passes (the ranking, and the maps of forward-only methods such as CAM) run on onnxruntime where the
 * model has a runtime source (executors/forward.ts); gradient methods stay on tfjs.
 *
 * The true class of an image is its class folder (mapped onto the model's classes as `classify` does),
 * or, in a flat folder, the class of its first annotated object the model knows.
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ImageEntry } from '../../../shared/api'
import type { JobContext } from '../context'
import { datasetImages } from '../datasets/datasetImages'
import { runDatasetLoop, Skip } from '../datasets/datasetLoop'
import { decodeImage, type DecodedImage } from '../datasets/decodeImage'
import { forwardTensors } from '../executors/forward'
import { toInputTensor, toInputValues, type InputGeometry, type ModelInput } from '../images/preprocess'
import { mapClassFolders, outputClasses } from '../methods/classify'
import { OUTPUT, type LoadedModel } from '../model'
import type { ClassMap, MapMethod, MapMethodName, MapOptions } from '../maps/types'
import { classResolver, findAnnotation, findAnnotationDir, readAnnotation, type Annotation } from './annotations'
import { componentSweep, DEFAULT_THRESHOLD, largestBox, mapToImage, normalizeMap, type PixelBox } from './boxes'
import { LocalizationTally, SWEEP_THRESHOLDS, boxesOfClass, guessIou, scoreImage, type GroundTruth, type LocalizationRow as MetricsRow, type SweepPoint } from './metrics'

export const TOP_K = 5
export const DEFAULT_MAX_FAILURES = 1000

export interface EvaluateOptions {
  methods: readonly MapMethod[]
  /** Annotation folder; default: looked for beside the data (annotations.ts). */
  annotations?: string
  /** Boxes keep the map above this fraction of its max; default 0.2 (the CAM paper). */
  threshold?: number
  /** Evaluate this many images spread evenly over the folder's list (so every class of a sorted tree), not all. */
  limit?: number
  /** 1 for annotation files that number pixels from 1 (PASCAL VOC); default 0. */
  firstPixel?: 0 | 1
  /** Failures kept per method (the worst first); default 1000. */
  maxFailures?: number
  mapOptions?: MapOptions
}

export interface LocalizationRow extends MetricsRow {
  method: MapMethodName
  label: string
}

export interface LocalizationFailure {
  method: MapMethodName
  path: string
  relPath: string
  /** True class and top-1 prediction (model class indices) with their labels. */
  label: number
  labelName: string | null
  predicted: number
  predictedName: string | null
  probability: number
  /** "wrong class" or "IoU 0.31 < 0.5". */
  reason: string
  /** IoU of the top-1 class's box with that class's ground truth (0 for a class not in the image). */
  iou: number
  imageWidth: number
  imageHeight: number
  /** At the chosen threshold: the top-1 class's box, the true class's box, and the true class's ground truth. */
  box: PixelBox | null
  gtKnownBox: PixelBox | null
  gtBoxes: PixelBox[]
}

export interface LocalizationReport {
  dataDir: string
  annotations: string | null
  threshold: number
  /** Images evaluated (annotated and readable), and how many the folder lists. */
  images: number
  listed: number
  rows: LocalizationRow[]
  sweep: { method: MapMethodName; points: SweepPoint[] }[]
  failures: LocalizationFailure[]
  /** Per method, how many top-1 failures there were in all (failures keeps at most maxFailures of them). */
  failureCounts: { method: MapMethodName; count: number }[]
  skipped: { path: string; reason: string }[]
  /** Annotation object names that are none of the model's classes. */
  unknownClasses: string[]
  seconds: number
  imagesPerSecond: number
}

/** The normalised image-pixel map of a class map. */
function imageMap(map: ClassMap, geometry: InputGeometry) {
  const image = mapToImage(map, geometry)
  return { width: image.width, height: image.height, normalized: normalizeMap(image.values) }
}

/** Evaluate `options.methods` over the images under `dataRoot` (see the file comment). */
export async function evaluateLocalization(model: LoadedModel, dataRoot: string, options: EvaluateOptions, ctx: JobContext): Promise<LocalizationReport> {
  const started = performance.now()
  const threshold = options.threshold ?? DEFAULT_THRESHOLD
  if (!(threshold > 0 && threshold < 1)) throw new ConvscopeError('BAD_REQUEST', `The box threshold must be between 0 and 1 (a fraction of the map's max), got ${threshold}`)
  if (options.methods.length === 0) throw new ConvscopeError('BAD_REQUEST', 'No map method to evaluate')
  for (const m of options.methods) {
    const why = m.unsupported(model)
    if (why) throw new ConvscopeError('UNSUPPORTED_OP', `${m.label} cannot run on ${model.info.name}: ${why}`)
  }
  const classes = outputClasses(model)
  const k = Math.min(TOP_K, classes)
  const labels = model.info.labels
  const { folder, entries } = await datasetImages(dataRoot, options.limit)
  const folderClasses = folder.classes.length ? await mapClassFolders(model, folder.root, folder.classes) : null
  const annotationDir = await findAnnotationDir(folder.root, options.annotations)
  const resolver = classResolver(model, folder.root)
  const maxFailures = options.maxFailures ?? DEFAULT_MAX_FAILURES
  // The sweep thresholds, then the chosen one: components at all of them in one pass per map.
  const levels = [...SWEEP_THRESHOLDS, threshold]
  const chosen = levels.length - 1

  const perMethod = options.methods.map((method) => ({ method, tally: new LocalizationTally(threshold), failures: [] as LocalizationFailure[], failureCount: 0 }))
  let evaluated = 0

  /** Ground truth of one image, or why it has none. */
  const groundTruth = async (entry: ImageEntry): Promise<{ gt: GroundTruth; annotation: Annotation } | string> => {
    const file = await findAnnotation(annotationDir, entry)
    if (!file) return `no annotation file (looked for ${annotationDir ? `${annotationDir}/…/` : ''}${entry.relPath.replace(/\.[^.]*$/, '')}.xml and beside the image)`
    let annotation: Annotation
    try {
      annotation = await resolver.resolve(await readAnnotation(file, { firstPixel: options.firstPixel }))
    } catch (e) {
      if (e instanceof ConvscopeError) return e.message
      throw e
    }
    const label = entry.className !== null && folderClasses ? folderClasses.get(entry.className)!.index : annotation.objects.find((o) => o.classIndex !== null)?.classIndex
    if (label === undefined || label === null) {
      return annotation.objects.length ? `${file}: none of its objects (${[...new Set(annotation.objects.map((o) => o.name))].join(', ')}) is a class of the model` : `${file} has no <object>`
    }
    return { gt: { label, objects: annotation.objects }, annotation }
  }

  /** An image with its ground truth, or why it is skipped (read both ahead of the maps). */
  const load = async (entry: ImageEntry): Promise<{ decoded: DecodedImage; gt: GroundTruth } | Skip> => {
    const [truth, decoded] = await Promise.all([groundTruth(entry), decodeImage(entry.path, model.info.preprocessing)])
    if (typeof truth === 'string') return new Skip(truth)
    if (decoded instanceof Skip) return decoded
    const { annotation } = truth
    const geometry = decoded.input.geometry
    if (annotation.width !== null && annotation.height !== null && (annotation.width !== geometry.imageWidth || annotation.height !== geometry.imageHeight)) {
      return new Skip(`${annotation.file} is for a ${annotation.width}×${annotation.height} image, but the image is ${geometry.imageWidth}×${geometry.imageHeight}`)
    }
    return { decoded, gt: truth.gt }
  }

  const skipped = await runDatasetLoop({
    items: entries,
    load,
    compute: async ({ loaded }) => {
      for (const { item, loaded: image } of loaded) {
        await evaluateImage(image.decoded.input, item, image.gt)
        evaluated++
      }
    },
    pathOf: (entry) => entry.path,
    signal: ctx.signal,
    onProgress: (p) => ctx.progress({ ...p, message: `${evaluated} evaluated${p.skipped ? `, ${p.skipped} skipped` : ''}` }),
  })

  async function evaluateImage(input: ModelInput, entry: ImageEntry, gt: GroundTruth): Promise<void> {
    const x = toInputTensor(input)
    try {
      const { tensors } = await forwardTensors(model, toInputValues(input), [OUTPUT])
      const top = tf.tidy(() => tf.topk(tensors[0]!.reshape([classes]), k))
      tf.dispose(tensors)
      const topIndices = Array.from((await top.indices.data()) as Int32Array)
      const topScores = Array.from(await top.values.data())
      top.indices.dispose()
      top.values.dispose()
      const wanted = [...new Set([...topIndices, gt.label])]
      const geometry = input.geometry
      const truthBoxes = boxesOfClass(gt, gt.label)
      for (const m of perMethod) {
        const { maps } = await m.method.compute(model, x, wanted, options.mapOptions)
        const byClass = new Map(maps.map((map) => [map.classIndex, map]))
        const mapOf = (c: number) => {
          const map = byClass.get(c)
          if (!map) throw new Error(`${m.method.label} returned no map for class ${c}`)
          return imageMap(map, geometry)
        }
        const top1 = mapOf(topIndices[0]!)
        const top1Levels = componentSweep(top1.normalized, top1.width, top1.height, levels)
        const truthLevels = gt.label === topIndices[0] ? top1Levels : (() => {
          const t = mapOf(gt.label)
          return componentSweep(t.normalized, t.width, t.height, levels)
        })()
        const guesses = topIndices.map((c, j) => {
          if (j === 0) return { classIndex: c, box: top1Levels[chosen]![0]?.box ?? null }
          if (c === gt.label) return { classIndex: c, box: truthLevels[chosen]![0]?.box ?? null }
          const mc = mapOf(c)
          return { classIndex: c, box: largestBox(mc.normalized, mc.width, mc.height, threshold) }
        })
        const gtKnownBox = truthLevels[chosen]![0]?.box ?? null
        const scores = scoreImage(gt, {
          guesses,
          gtKnownBox,
          top1Sweep: top1Levels.slice(0, chosen).map((comps) => comps[0]?.box ?? null),
          gtSweep: truthLevels.slice(0, chosen).map((comps) => comps.map((c) => c.box)),
        })
        m.tally.add(scores)
        if (!scores.top1Loc) {
          m.failureCount++
          const predicted = topIndices[0]!
          const iou = guessIou(predicted, guesses[0]!.box, gt)
          const classInImage = gt.objects.some((o) => o.classIndex === predicted)
          m.failures.push({
            method: m.method.name,
            path: entry.path,
            relPath: entry.relPath,
            label: gt.label,
            labelName: labels?.[gt.label] ?? null,
            predicted,
            predictedName: labels?.[predicted] ?? null,
            probability: topScores[0]!,
            reason: classInImage ? (guesses[0]!.box ? `IoU ${iou.toFixed(2)} < 0.5` : 'no box above the threshold') : 'wrong class',
            iou,
            imageWidth: geometry.imageWidth,
            imageHeight: geometry.imageHeight,
            box: guesses[0]!.box,
            gtKnownBox,
            gtBoxes: truthBoxes,
          })
          // Keep the worst: trim once the list is twice the cap, so sorting stays rare.
          if (m.failures.length >= 2 * maxFailures) trimFailures(m.failures, maxFailures)
        }
      }
    } finally {
      x.dispose()
    }
  }

  const seconds = (performance.now() - started) / 1000
  for (const m of perMethod) trimFailures(m.failures, maxFailures)
  return {
    dataDir: folder.root,
    annotations: annotationDir,
    threshold,
    images: evaluated,
    listed: folder.images.length,
    rows: perMethod.map((m) => ({ method: m.method.name, label: m.method.label, ...m.tally.row() })),
    sweep: perMethod.map((m) => ({ method: m.method.name, points: m.tally.sweep() })),
    failures: perMethod.flatMap((m) => m.failures),
    failureCounts: perMethod.map((m) => ({ method: m.method.name, count: m.failureCount })),
    skipped,
    unknownClasses: [...resolver.unknown],
    seconds,
    imagesPerSecond: seconds > 0 ? entries.length / seconds : 0,
  }
}

/** Worst IoU first (wrong classes, IoU 0, lead), then by path; at most `max`. */
function trimFailures(list: LocalizationFailure[], max: number): void {
  list.sort((a, b) => a.iou - b.iou || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  list.length = Math.min(list.length, max)
}
