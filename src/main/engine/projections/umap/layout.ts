/**
 * UMAP's layout (umap-learn's simplicial_set_embedding + optimize_layout_euclidean): edges lighter than
 * max / nEpochs are dropped, each remaining edge is sampled every max / w epochs and pulls its ends together with the
 * gradient of 1 / (1 + a d^(2b)); each sample also pushes its head from `negativeSampleRate` random points; every
 * gradient component is clipped to ±4 and the step size falls linearly from 1 to 0 over the epochs.
 * a and b come from umap-js's findABParams (the curve fit of min_dist and spread).
 *
 * Hand-written on typed arrays beside umap-js: its optimizer runs only on private state that its initializeFit builds
 * with its Map-based sparse graph (see fuzzySet.ts) and the search graph of transform(), which a map never uses
 * (7 s of CPU at 50 000 points). Per epoch both cost about the same: 0.21 s of CPU here vs 0.24 s in umap-js at
 * 50 000 points (bench/results/umap-phases-2026-12-05.json, umap-js-2026-12-05.json).
 * One difference from umap-js kept from umap-learn: a negative sample at distance 0 moves nothing (umap-js: +4).
 */
import { findABParams } from 'umap-js/dist/umap'
import type { Rng } from '../../rng'
import type { FuzzyGraph } from './fuzzySet'

const CLIP = 4
const NEGATIVE_SAMPLE_RATE = 5
/** umap-learn's random initialisation: uniform in [−10, 10) per coordinate. */
const INIT_RANGE = 10

export interface LayoutSettings {
  dims: number
  nEpochs: number
  minDist: number
  spread: number
}

/** The state of one layout run: call `epoch()` nEpochs times, then read `points`. */
export interface Layout {
  readonly points: Float32Array
  readonly nEpochs: number
  /** Runs the next epoch; returns how many have run. */
  epoch(): number
}

export function createLayout(graph: FuzzyGraph, count: number, settings: LayoutSettings, rng: Rng): Layout {
  const { dims, nEpochs } = settings
  const { a, b } = findABParams(settings.spread, settings.minDist)
  let max = 0
  for (let e = 0; e < graph.weight.length; e++) max = Math.max(max, graph.weight[e]!)
  // Edges sampled less than once in the whole run are dropped (umap-learn: graph.data < max / n_epochs → 0).
  const kept: number[] = []
  for (let e = 0; e < graph.weight.length; e++) if (graph.weight[e]! >= max / nEpochs) kept.push(e)
  const head = Int32Array.from(kept, (e) => graph.head[e]!)
  const tail = Int32Array.from(kept, (e) => graph.tail[e]!)
  const epochsPerSample = Float64Array.from(kept, (e) => max / graph.weight[e]!)
  const epochsPerNegative = epochsPerSample.map((x) => x / NEGATIVE_SAMPLE_RATE)
  const nextSample = epochsPerSample.slice()
  const nextNegative = epochsPerNegative.slice()
  const points = new Float32Array(count * dims)
  for (let i = 0; i < points.length; i++) points[i] = rng.uniform(-INIT_RANGE, INIT_RANGE)
  const clip = (x: number): number => (x > CLIP ? CLIP : x < -CLIP ? -CLIP : x)
  const squaredDistance = (p: number, q: number): number => {
    let s = 0
    for (let d = 0; d < dims; d++) {
      const diff = points[p * dims + d]! - points[q * dims + d]!
      s += diff * diff
    }
    return s
  }
  let done = 0
  let alpha = 1 // umap-learn: 1 in the first epoch, then 1 − n / nEpochs after epoch n
  return {
    points,
    nEpochs,
    epoch() {
      if (done >= nEpochs) return done
      const n = done
      for (let e = 0; e < head.length; e++) {
        if (nextSample[e]! > n) continue
        const j = head[e]!
        const k = tail[e]!
        const dist2 = squaredDistance(j, k)
        const powB = dist2 > 0 ? Math.pow(dist2, b) : 0 // d^(2b); d^(2b − 2) is powB / dist2: one pow, not two
        const attract = dist2 > 0 ? (-2 * a * b * (powB / dist2)) / (a * powB + 1) : 0
        for (let d = 0; d < dims; d++) {
          const g = clip(attract * (points[j * dims + d]! - points[k * dims + d]!)) * alpha
          points[j * dims + d]! += g
          points[k * dims + d]! -= g
        }
        nextSample[e]! += epochsPerSample[e]!
        const negatives = Math.floor((n - nextNegative[e]!) / epochsPerNegative[e]!)
        for (let s = 0; s < negatives; s++) {
          const other = rng.int(count)
          const dist2n = squaredDistance(j, other)
          if (dist2n <= 0) continue
          const repel = (2 * b) / ((0.001 + dist2n) * (a * Math.pow(dist2n, b) + 1))
          for (let d = 0; d < dims; d++) points[j * dims + d]! += clip(repel * (points[j * dims + d]! - points[other * dims + d]!)) * alpha
        }
        nextNegative[e]! += negatives * epochsPerNegative[e]!
      }
      alpha = 1 - (n + 1) / nEpochs
      return ++done
    },
  }
}
