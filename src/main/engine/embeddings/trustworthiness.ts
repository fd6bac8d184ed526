/**
 * Trustworthiness of a map (Venna & Kaski 2001; scikit-learn's sklearn.manifold.trustworthiness, euclidean):
 * how many of each point's k nearest neighbours on the map are not among its k nearest in the input, weighted by
 * how far down the input's ranking they are:
 *   T(k) = 1 − 2 / (n k (2n − 3k − 1)) · Σ_i Σ_{j ∈ map's k nearest of i} max(0, r(i, j) − k)
 * with r(i, j) the rank of j among i's neighbours in the input (1 = nearest). 1 = every map neighbour is a true one.
 *
 * One row at a time, and each row in two passes: the map's k nearest of i (a pass over the 2-D points), then one
 * pass over the input rows that counts, for each of those k, how many points are nearer — a point whose partial sum
 * of squares already passes the farthest of the k stops early, so most of the input is read only in part. Memory:
 * O(k) besides the data (scikit-learn builds n × n distances and an n × n rank table: 20 GB at 50 000 points).
 * Time: O(n² · (lowDim + highDim)) at worst. Measured (bench/umap.ts, bench/results/umap-2026-12-05.json), k = 10,
 * Fashion-MNIST PCA-50 against its UMAP map: 10 000 points 3.3 s of CPU (12.4 s wall at load 10.6-11.6),
 * 50 000 points 89 s of CPU (228 s wall at load 10.6-10.9); this 2-core machine was shared by 8 sessions.
 *
 * Ties (equal distances) are broken by the lower index in both spaces, a total order so the value never depends on
 * sort order. scikit-learn breaks them by numpy's argsort, which promises no order, so the two agree whenever the
 * answer does not depend on the order inside a tie (test/golden/trustworthiness: tieOrderMatters).
 */
import { ConvscopeError } from '../../../shared/api'

export function trustworthiness(high: Float32Array, low: Float32Array, count: number, highDim: number, lowDim: number, k = 10): number {
  checkShapes(high, low, count, highDim, lowDim, k)
  const near = new Int32Array(k)
  const nearDist = new Float64Array(k)
  const threshold = new Float64Array(k)
  const thresholdIndex = new Int32Array(k)
  const nearer = new Int32Array(k + 1)
  let penalty = 0
  for (let i = 0; i < count; i++) {
    mapNeighbours(low, count, lowDim, i, k, near, nearDist)
    // The k map neighbours' input distances, sorted by (distance, index): the thresholds a point's rank is counted by.
    for (let t = 0; t < k; t++) {
      insertSorted(threshold, thresholdIndex, t, squaredDistance(high, highDim, i, near[t]!, Infinity), near[t]!)
    }
    nearer.fill(0)
    const farthest = threshold[k - 1]!
    const farthestIndex = thresholdIndex[k - 1]!
    for (let m = 0; m < count; m++) {
      if (m === i) continue
      const d = squaredDistance(high, highDim, i, m, farthest)
      if (d > farthest || (d === farthest && m >= farthestIndex)) continue
      let t = 0
      while (!(d < threshold[t]! || (d === threshold[t]! && m < thresholdIndex[t]!))) t++
      nearer[t]!++
    }
    let before = 0
    for (let t = 0; t < k; t++) {
      before += nearer[t]!
      const rank = before + 1
      if (rank > k) penalty += rank - k
    }
  }
  return 1 - (penalty * 2) / (count * k * (2 * count - 3 * k - 1))
}

/** Squared euclidean distance of rows a and b, in float64; returns early (a value > stopAbove) once the partial sum passes stopAbove. */
function squaredDistance(data: Float32Array, dim: number, a: number, b: number, stopAbove: number): number {
  const oa = a * dim
  const ob = b * dim
  let sum = 0
  let d = 0
  while (d < dim) {
    const end = Math.min(dim, d + 8)
    for (; d < end; d++) {
      const diff = data[oa + d]! - data[ob + d]!
      sum += diff * diff
    }
    if (sum > stopAbove) return sum
  }
  return sum
}

/** The k nearest of row i among the other rows of `low` by (squared distance, index), into `near` (ascending). */
function mapNeighbours(low: Float32Array, count: number, dim: number, i: number, k: number, near: Int32Array, nearDist: Float64Array): void {
  let filled = 0
  for (let m = 0; m < count; m++) {
    if (m === i) continue
    const d = squaredDistance(low, dim, i, m, filled < k ? Infinity : nearDist[k - 1]!)
    // Rows come in index order, so an equal distance never displaces an earlier (lower) index.
    if (filled === k && d >= nearDist[k - 1]!) continue
    insertSorted(nearDist, near, Math.min(filled, k - 1), d, m)
    if (filled < k) filled++
  }
}

/** Insert (d, index) into the ascending first `last` + 1 slots, `last` being free or the one to drop; (d, index) order, index breaking ties. */
function insertSorted(dist: Float64Array, index: Int32Array, last: number, d: number, at: number): void {
  let p = last
  while (p > 0 && (dist[p - 1]! > d || (dist[p - 1]! === d && index[p - 1]! > at))) {
    dist[p] = dist[p - 1]!
    index[p] = index[p - 1]!
    p--
  }
  dist[p] = d
  index[p] = at
}

function checkShapes(high: Float32Array, low: Float32Array, count: number, highDim: number, lowDim: number, k: number): void {
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(highDim) || highDim < 1 || !Number.isInteger(lowDim) || lowDim < 1) {
    throw new ConvscopeError('BAD_REQUEST', `trustworthiness needs whole positive count and dims, not count ${count}, dims ${highDim} and ${lowDim}`)
  }
  if (high.length !== count * highDim) throw new ConvscopeError('BAD_REQUEST', `trustworthiness: the input has ${high.length} values, not ${count} × ${highDim}`)
  if (low.length !== count * lowDim) throw new ConvscopeError('BAD_REQUEST', `trustworthiness: the map has ${low.length} values, not ${count} × ${lowDim}`)
  // scikit-learn's bound: beyond it the normalisation 2n − 3k − 1 is no longer the largest possible penalty.
  if (!Number.isInteger(k) || k < 1 || k >= count / 2) {
    throw new ConvscopeError('BAD_REQUEST', `trustworthiness k must be a whole number from 1 to below half the points (${count / 2}), not ${k}`)
  }
}
