/** Weakly-supervised localization over an annotated image folder (issue 5; engine/localization). */
import { z } from 'zod'
import { Fraction, ImageBox, LocalPath, ModelId, SkippedFile } from './common'
import { MapMethodName } from './classMaps'

/** One method's row of a localization table (engine/localization/metrics.ts computes it). */
export const LocalizationRow = z.object({
  method: MapMethodName,
  label: z.string(),
  /** Images evaluated (annotated and readable). */
  images: z.number().int(),
  threshold: z.number(),
  /** Top-1 / top-5 localization error (class right and IoU ≥ 0.5 with a box of that class): the CAM paper's Table 2. */
  top1LocError: Fraction,
  top5LocError: Fraction,
  /** GT-known localization accuracy: the true class's map, its box with IoU ≥ 0.5. */
  gtKnownLoc: Fraction,
  /** MaxBoxAccV2 (Choe et al. 2020): mean over IoU 0.3 / 0.5 / 0.7 of the best box accuracy over thresholds. */
  maxBoxAccV2: Fraction,
  /** Per IoU δ: the best box accuracy over thresholds and the (smallest) threshold reaching it. */
  maxBoxAcc: z.array(z.object({ iou: z.number(), accuracy: z.number(), threshold: z.number() })),
  /** Classification error on the same images. */
  top1ClsError: Fraction,
  top5ClsError: Fraction,
})
export type LocalizationRow = z.infer<typeof LocalizationRow>

export const SweepPoint = z.object({
  threshold: z.number(),
  top1LocError: z.number(),
  gtKnownLoc: z.number(),
  /** Box accuracy at this threshold for IoU δ = 0.3, 0.5, 0.7. */
  boxAcc: z.array(z.number()),
})

export const LocalizationFailure = z.object({
  method: MapMethodName,
  /** Absolute path, and relative to the evaluated folder. */
  path: z.string(),
  relPath: z.string(),
  /** The image's true class and the predicted top-1 (model class indices) with their names, and its probability. */
  label: z.number().int(),
  labelName: z.string().nullable(),
  predicted: z.number().int(),
  predictedName: z.string().nullable(),
  probability: z.number(),
  /** "wrong class" or e.g. "IoU 0.31 < 0.5". */
  reason: z.string(),
  /** IoU of the top-1 class's box with that class's ground truth (0 for a class not in the image). */
  iou: z.number(),
  imageWidth: z.number().int(),
  imageHeight: z.number().int(),
  /** At the chosen threshold: the top-1 class's box, the true class's box, and the true class's ground-truth boxes. */
  box: ImageBox.nullable(),
  gtKnownBox: ImageBox.nullable(),
  gtBoxes: z.array(ImageBox),
})
export type LocalizationFailure = z.infer<typeof LocalizationFailure>

export const LocalizationReport = z.object({
  dataDir: z.string(),
  /** The annotation folder used; null when annotations were looked for next to the images only. */
  annotations: z.string().nullable(),
  threshold: z.number(),
  /** Images evaluated (annotated and readable), and how many the folder lists. */
  images: z.number().int(),
  listed: z.number().int(),
  rows: z.array(LocalizationRow),
  /** Per method: the metrics at each threshold of the sweep (0, 0.01, …, 0.99). */
  sweep: z.array(z.object({ method: MapMethodName, points: z.array(SweepPoint) })),
  /** Top-1 localization failures, per method worst IoU first (at most 1000 per method kept). */
  failures: z.array(LocalizationFailure),
  /** Per method, how many top-1 failures there were in all. */
  failureCounts: z.array(z.object({ method: MapMethodName, count: z.number().int() })),
  /** Images without an annotation file, unreadable images or XML: reported, not fatal. */
  skipped: z.array(SkippedFile),
  /** Annotation object names that are none of the model's classes. */
  unknownClasses: z.array(z.string()),
  seconds: z.number(),
  imagesPerSecond: z.number(),
})
export type LocalizationReport = z.infer<typeof LocalizationReport>

export const StartLocalization = z.object({
  modelId: ModelId,
  /** An image folder the user opened. */
  dataDir: LocalPath,
  methods: z.array(MapMethodName).min(1),
  threshold: z.number().gt(0).lt(1).default(0.2),
  /** Evaluate N images spread evenly over the folder's list (every class of a class-sorted folder), not all. */
  limit: z.number().int().positive().optional(),
  /** Folder of annotation XML (default: looked for beside the images, see engine/localization/annotations.ts). */
  annotations: LocalPath.optional(),
})
