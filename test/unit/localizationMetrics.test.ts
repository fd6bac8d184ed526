import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { PixelBox } from '../../src/main/engine/localization/boxes'
import {
  LocalizationTally,
  guessCorrect,
  guessIou,
  scoreImage,
  topKCorrect,
  type GroundTruth,
  type ImageScores,
} from '../../src/main/engine/localization/metrics'

const box = (xmin: number, ymin: number, xmax: number, ymax: number): PixelBox => ({ xmin, ymin, xmax, ymax })
// True class 1 with two boxes (10×10 each); class 2 annotated too (5×5); class 9 names nothing the model knows.
const gt: GroundTruth = {
  label: 1,
  objects: [
    { classIndex: 1, box: box(0, 0, 9, 9) },
    { classIndex: 1, box: box(20, 20, 29, 29) },
    { classIndex: 2, box: box(0, 0, 4, 4) },
    { classIndex: null, box: box(40, 40, 49, 49) },
  ],
}

test('one guess: the class must be annotated and its box overlap a box of that class with IoU ≥ 0.5', () => {
  assert.equal(guessCorrect(1, box(0, 0, 9, 9), gt), true)
  // 10 × 15 box around the second object: 100 / 150 = 0.667, the best of the two boxes.
  assert.equal(guessIou(1, box(20, 20, 29, 34), gt), 100 / 150)
  assert.equal(guessCorrect(1, box(20, 20, 29, 34), gt), true)
  // Half a box off: 50 / 150 = 1/3.
  assert.equal(guessCorrect(1, box(5, 0, 14, 9), gt), false)
  // The right place but the class-2 box is only 25 of its 100 pixels: 0.25.
  assert.equal(guessIou(2, box(0, 0, 9, 9), gt), 0.25)
  assert.equal(guessCorrect(2, box(0, 0, 4, 4), gt), true)
  // A class not in the image, a perfect box of another class: wrong.
  assert.equal(guessCorrect(3, box(0, 0, 9, 9), gt), false)
  // No box at all (nothing above the threshold): wrong.
  assert.equal(guessCorrect(1, null, gt), false)
  // IoU exactly 0.5 counts: 10 × 20 around a 10 × 10 box.
  assert.equal(guessCorrect(1, box(0, 0, 9, 19), gt), true)
})

test('top-k: right when any of the first k guesses is', () => {
  const guesses = [
    { classIndex: 3, box: box(0, 0, 9, 9) },
    { classIndex: 1, box: box(5, 0, 14, 9) },
    { classIndex: 2, box: box(0, 0, 4, 4) },
  ]
  assert.equal(topKCorrect(guesses, gt, 1), false)
  assert.equal(topKCorrect(guesses, gt, 2), false)
  assert.equal(topKCorrect(guesses, gt, 3), true)
  assert.equal(topKCorrect(guesses, gt, 5), true)
})

test('scoreImage: classification, top-1 / top-5 / GT-known at the threshold, IoUs per sweep threshold', () => {
  const s = scoreImage(gt, {
    guesses: [
      { classIndex: 2, box: box(0, 0, 9, 9) }, // class 2 annotated, but IoU 0.25
      { classIndex: 1, box: box(0, 0, 9, 9) }, // right
    ],
    gtKnownBox: box(0, 0, 9, 9),
    // Two sweep thresholds: the top-1 class's largest box, the true class's component boxes.
    top1Sweep: [box(0, 0, 4, 4), null],
    gtSweep: [[box(0, 0, 29, 29)], [box(0, 0, 14, 9), box(20, 20, 29, 29)]],
  })
  assert.deepEqual(
    { top1Class: s.top1Class, top5Class: s.top5Class, top1Loc: s.top1Loc, top5Loc: s.top5Loc, gtKnown: s.gtKnown },
    { top1Class: false, top5Class: true, top1Loc: false, top5Loc: true, gtKnown: true },
  )
  // τ0: class-2 box exactly; τ1: no box.
  assert.deepEqual([...s.top1Iou], [1, 0])
  // τ0: 30×30 box holds each 10×10 box: 100 / 900. τ1: the largest is 15×10 over the first box: 100 / 150.
  assert.deepEqual([...s.gtKnownIou], [100 / 900, 100 / 150])
  // τ1: the second component matches the second box exactly.
  assert.deepEqual([...s.anyComponentIou], [100 / 900, 1])
})

test('the tally: errors at the threshold, the sweep, and MaxBoxAccV2 computed by hand', () => {
  const image = (flags: boolean[], top1Iou: number[], gtKnownIou: number[], anyComponentIou: number[]): ImageScores => ({
    top1Class: flags[0]!,
    top5Class: flags[1]!,
    top1Loc: flags[2]!,
    top5Loc: flags[3]!,
    gtKnown: flags[4]!,
    top1Iou: Float64Array.from(top1Iou),
    gtKnownIou: Float64Array.from(gtKnownIou),
    anyComponentIou: Float64Array.from(anyComponentIou),
  })
  const tally = new LocalizationTally(0.2, [0, 0.5])
  assert.equal(tally.row().top1LocError, null)
  tally.add(image([true, true, true, true, true], [0.2, 0.6], [0.2, 0.6], [0.35, 0.75]))
  tally.add(image([false, true, false, true, false], [0, 0], [0.55, 0.4], [0.55, 0.4]))
  assert.deepEqual(tally.sweep(), [
    // τ 0: no top-1 IoU reaches 0.5; image B's GT-known box does; BoxAcc at 0.3: both, 0.5: B, 0.7: none.
    { threshold: 0, top1LocError: 1, gtKnownLoc: 0.5, boxAcc: [1, 0.5, 0] },
    // τ 0.5: A's top-1 and GT-known reach 0.6; BoxAcc at 0.3: both (0.75, 0.4), 0.5: A, 0.7: A.
    { threshold: 0.5, top1LocError: 0.5, gtKnownLoc: 0.5, boxAcc: [1, 0.5, 0.5] },
  ])
  const row = tally.row()
  assert.deepEqual(row.maxBoxAcc, [
    { iou: 0.3, accuracy: 1, threshold: 0 },
    { iou: 0.5, accuracy: 0.5, threshold: 0 },
    { iou: 0.7, accuracy: 0.5, threshold: 0.5 },
  ])
  assert.equal(row.maxBoxAccV2, (1 + 0.5 + 0.5) / 3)
  assert.deepEqual(
    { images: row.images, threshold: row.threshold, top1LocError: row.top1LocError, top5LocError: row.top5LocError, gtKnownLoc: row.gtKnownLoc, top1ClsError: row.top1ClsError, top5ClsError: row.top5ClsError },
    { images: 2, threshold: 0.2, top1LocError: 0.5, top5LocError: 0, gtKnownLoc: 0.5, top1ClsError: 0.5, top5ClsError: 0 },
  )
  assert.throws(() => tally.add(image([true, true, true, true, true], [1], [1], [1])), /other than the 2 sweep thresholds/)
})
