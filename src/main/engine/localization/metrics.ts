/**
 * Weakly-supervised localization metrics, from boxes and ground truth:
 *
 * - top-1 / top-5 localization error (ILSVRC, CAM paper Table 2): a guess is a class and the box of that
 *   class's map; it is right when the class is a ground-truth class of the image and the box overlaps a
 *   ground-truth box of that class with IoU ≥ 0.5. Top-1 uses the top-1 class; top-5 is right when any of
 *   the top-5 guesses is. Error = 1 − the fraction right.
 * - GT-known localization accuracy: the map of the image's true class, its box with IoU ≥ 0.5.
 * - BoxAcc(τ, δ) and MaxBoxAccV2 (Choe et al., CVPR 2020): the true class's map thresholded at τ, the boxes
 *   of all its connected components; an image is right at δ when any of them has IoU ≥ δ with a ground-truth
 *   box of the true class. MaxBoxAccV2 = mean over δ ∈ {0.3, 0.5, 0.7} of max over τ of BoxAcc(τ, δ).
 *   τ runs over 0, 0.01, …, 0.99 as in Choe et al.'s code.
 *
 * Per image only IoUs are kept (one per threshold and kind), so the table at any threshold and the
 * sweep over thresholds come from one pass. Fractions are in [0, 1].
 */
import { bestIou, type PixelBox } from './boxes'

export const LOCALIZATION_IOU = 0.5
export const BOXACC_IOUS = [0.3, 0.5, 0.7] as const
/** 0, 0.01, …, 0.99 (Choe et al.'s cam_curve_interval 0.01). */
export const SWEEP_THRESHOLDS: readonly number[] = Array.from({ length: 100 }, (_, i) => i / 100)

export interface GroundTruthObject {
  /** The model's class index, or null for a class the model does not have. */
  classIndex: number | null
  box: PixelBox
}

export interface GroundTruth {
  /** The image's class (its folder, or its annotated class). */
  label: number
  objects: readonly GroundTruthObject[]
}

/** The ground-truth boxes of one class. */
export function boxesOfClass(gt: GroundTruth, classIndex: number): PixelBox[] {
  return gt.objects.filter((o) => o.classIndex === classIndex).map((o) => o.box)
}

/** The best IoU of a guess (class, box) with the ground truth of that class; 0 without a box or a GT box of the class. */
export function guessIou(classIndex: number, box: PixelBox | null, gt: GroundTruth): number {
  return box ? bestIou([box], boxesOfClass(gt, classIndex)) : 0
}

/** One guess right: the class is annotated in the image and the box overlaps one of its boxes with IoU ≥ 0.5. */
export function guessCorrect(classIndex: number, box: PixelBox | null, gt: GroundTruth): boolean {
  return guessIou(classIndex, box, gt) >= LOCALIZATION_IOU
}

/** Right when any of the first k guesses is (ILSVRC top-k localization). */
export function topKCorrect(guesses: readonly { classIndex: number; box: PixelBox | null }[], gt: GroundTruth, k: number): boolean {
  return guesses.slice(0, k).some((g) => guessCorrect(g.classIndex, g.box, gt))
}

/** What evaluation keeps of one image. */
export interface ImageScores {
  /** Classification: the top-1 class is the label; the label is among the top 5. */
  top1Class: boolean
  top5Class: boolean
  /** At the chosen threshold. */
  top1Loc: boolean
  top5Loc: boolean
  gtKnown: boolean
  /** Per sweep threshold: IoU of the top-1 guess (0 when its class has no GT box), of the true class's largest box, and the best IoU of any of the true class's component boxes. */
  top1Iou: Float64Array
  gtKnownIou: Float64Array
  anyComponentIou: Float64Array
}

export interface LocalizationRow {
  images: number
  threshold: number
  top1LocError: number | null
  top5LocError: number | null
  gtKnownLoc: number | null
  maxBoxAccV2: number | null
  /** Per δ: the best BoxAcc over τ and the τ that reached it (the smallest such τ). */
  maxBoxAcc: { iou: number; accuracy: number; threshold: number }[]
  top1ClsError: number | null
  top5ClsError: number | null
}

export interface SweepPoint {
  threshold: number
  top1LocError: number
  gtKnownLoc: number
  /** BoxAcc(τ, δ) for δ = 0.3, 0.5, 0.7. */
  boxAcc: number[]
}

/** Counts over images; `row()` and `sweep()` read them out. */
export class LocalizationTally {
  images = 0
  private top1Class = 0
  private top5Class = 0
  private top1Loc = 0
  private top5Loc = 0
  private gtKnown = 0
  private readonly sweepTop1: Int32Array
  private readonly sweepGtKnown: Int32Array
  private readonly sweepBoxAcc: Int32Array[]

  constructor(readonly threshold: number, readonly thresholds: readonly number[] = SWEEP_THRESHOLDS) {
    this.sweepTop1 = new Int32Array(thresholds.length)
    this.sweepGtKnown = new Int32Array(thresholds.length)
    this.sweepBoxAcc = BOXACC_IOUS.map(() => new Int32Array(thresholds.length))
  }

  add(s: ImageScores): void {
    const n = this.thresholds.length
    if (s.top1Iou.length !== n || s.gtKnownIou.length !== n || s.anyComponentIou.length !== n) throw new Error(`LocalizationTally: an image has IoUs for other than the ${n} sweep thresholds`)
    this.images++
    this.top1Class += +s.top1Class
    this.top5Class += +s.top5Class
    this.top1Loc += +s.top1Loc
    this.top5Loc += +s.top5Loc
    this.gtKnown += +s.gtKnown
    for (let t = 0; t < n; t++) {
      if (s.top1Iou[t]! >= LOCALIZATION_IOU) this.sweepTop1[t]!++
      if (s.gtKnownIou[t]! >= LOCALIZATION_IOU) this.sweepGtKnown[t]!++
      BOXACC_IOUS.forEach((delta, d) => {
        if (s.anyComponentIou[t]! >= delta) this.sweepBoxAcc[d]![t]!++
      })
    }
  }

  sweep(): SweepPoint[] {
    const n = Math.max(1, this.images)
    return this.thresholds.map((threshold, t) => ({
      threshold,
      top1LocError: 1 - this.sweepTop1[t]! / n,
      gtKnownLoc: this.sweepGtKnown[t]! / n,
      boxAcc: this.sweepBoxAcc.map((counts) => counts[t]! / n),
    }))
  }

  row(): LocalizationRow {
    const n = this.images
    const frac = (count: number) => (n ? count / n : null)
    const err = (count: number) => (n ? 1 - count / n : null)
    const maxBoxAcc = BOXACC_IOUS.map((iou, d) => {
      const counts = this.sweepBoxAcc[d]!
      let best = 0
      for (let t = 1; t < counts.length; t++) if (counts[t]! > counts[best]!) best = t
      return { iou, accuracy: n ? counts[best]! / n : 0, threshold: this.thresholds[best] ?? 0 }
    })
    return {
      images: n,
      threshold: this.threshold,
      top1LocError: err(this.top1Loc),
      top5LocError: err(this.top5Loc),
      gtKnownLoc: frac(this.gtKnown),
      maxBoxAccV2: n ? maxBoxAcc.reduce((a, m) => a + m.accuracy, 0) / maxBoxAcc.length : null,
      maxBoxAcc,
      top1ClsError: err(this.top1Class),
      top5ClsError: err(this.top5Class),
    }
  }
}

/** The boxes evaluation found for one image (see evaluate.ts). */
export interface ImageBoxes {
  /** The top-5 guesses, best first: class and its map's box at the chosen threshold. */
  guesses: readonly { classIndex: number; box: PixelBox | null }[]
  /** The true class's map's box at the chosen threshold. */
  gtKnownBox: PixelBox | null
  /** Per sweep threshold: the top-1 class's largest box, and all component boxes of the true class's map (largest first). */
  top1Sweep: readonly (PixelBox | null)[]
  gtSweep: readonly (readonly PixelBox[])[]
}

/** One image's scores from its boxes and ground truth. */
export function scoreImage(gt: GroundTruth, b: ImageBoxes): ImageScores {
  const top1 = b.guesses[0]
  if (!top1) throw new Error('scoreImage: no guesses')
  const truthBoxes = boxesOfClass(gt, gt.label)
  return {
    top1Class: top1.classIndex === gt.label,
    top5Class: b.guesses.slice(0, 5).some((g) => g.classIndex === gt.label),
    top1Loc: guessCorrect(top1.classIndex, top1.box, gt),
    top5Loc: topKCorrect(b.guesses, gt, 5),
    gtKnown: guessCorrect(gt.label, b.gtKnownBox, gt),
    top1Iou: Float64Array.from(b.top1Sweep, (box) => guessIou(top1.classIndex, box, gt)),
    gtKnownIou: Float64Array.from(b.gtSweep, (boxes) => guessIou(gt.label, boxes[0] ?? null, gt)),
    anyComponentIou: Float64Array.from(b.gtSweep, (boxes) => bestIou(boxes, truthBoxes)),
  }
}
