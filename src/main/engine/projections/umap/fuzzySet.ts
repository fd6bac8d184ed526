/**
 * UMAP's fuzzy simplicial set (McInnes, Healy & Melville 2018, section 3; umap-learn's smooth_knn_dist,
 * compute_membership_strengths and fuzzy_simplicial_set, set_op_mix_ratio 1, local_connectivity 1):
 * each point's kNN distances become memberships exp(−(d − ρᵢ) / σᵢ), ρᵢ its nearest non-zero distance and σᵢ found
 * by bisection so they sum to log2(k); the directed graph A is made symmetric by the fuzzy union A + Aᵀ − A ∘ Aᵀ.
 *
 * Hand-written on typed arrays: umap-js builds the same set with sparse matrices keyed by "row:col" strings in a
 * Map: 5.1 s of CPU at 10 000 points and 30 s at 50 000 (bench/umapJs.ts, results/umap-js-2026-12-05.json), against
 * 0.32 s and 1.3 s here with the layout's set-up (bench/umap.ts, results/umap-phases-2026-12-05.json).
 */

const SMOOTH_K_TOLERANCE = 1e-5
const MIN_K_DIST_SCALE = 1e-3
const BISECTION_STEPS = 64

/** [count, k] kNN rows, each row's own index first at distance 0 (as umap-learn's knn search returns it). */
export interface NeighbourGraph {
  indices: Int32Array
  distances: Float32Array
  k: number
}

/** The symmetric fuzzy graph as an edge list in both directions, rows in order: head[e] → tail[e] with weight[e]. */
export interface FuzzyGraph {
  head: Int32Array
  tail: Int32Array
  weight: Float64Array
}

/** σᵢ and ρᵢ of every row (umap-learn's smooth_knn_dist with local_connectivity 1, bandwidth 1). */
export function smoothKnnDistances(graph: NeighbourGraph, count: number): { sigmas: Float64Array; rhos: Float64Array } {
  const { distances, k } = graph
  const target = Math.log2(k)
  const sigmas = new Float64Array(count)
  const rhos = new Float64Array(count)
  let meanAll = 0
  for (let i = 0; i < distances.length; i++) meanAll += distances[i]!
  meanAll /= distances.length
  for (let i = 0; i < count; i++) {
    const row = i * k
    let rho = 0
    let meanRow = 0
    for (let j = 0; j < k; j++) {
      const d = distances[row + j]!
      meanRow += d
      if (rho === 0 && d > 0) rho = d // the nearest non-zero distance (rows are sorted)
    }
    meanRow /= k
    let lo = 0
    let hi = Infinity
    let mid = 1
    for (let step = 0; step < BISECTION_STEPS; step++) {
      let psum = 0
      for (let j = 1; j < k; j++) {
        const d = distances[row + j]! - rho
        psum += d > 0 ? Math.exp(-(d / mid)) : 1
      }
      if (Math.abs(psum - target) < SMOOTH_K_TOLERANCE) break
      if (psum > target) {
        hi = mid
        mid = (lo + hi) / 2
      } else {
        lo = mid
        mid = hi === Infinity ? mid * 2 : (lo + hi) / 2
      }
    }
    // A floor on σ so that rows of (near-)duplicates keep finite memberships.
    sigmas[i] = Math.max(mid, MIN_K_DIST_SCALE * (rho > 0 ? meanRow : meanAll))
    rhos[i] = rho
  }
  return { sigmas, rhos }
}

/** The fuzzy union of the kNN memberships: every pair that is a neighbour either way, in both directions, rows in order. */
export function fuzzySimplicialSet(graph: NeighbourGraph, count: number): FuzzyGraph {
  const { indices, distances, k } = graph
  const { sigmas, rhos } = smoothKnnDistances(graph, count)
  const membership = new Float64Array(count * k)
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < k; j++) {
      const e = i * k + j
      const other = indices[e]!
      if (other < 0 || other === i) continue
      const d = distances[e]! - rhos[i]!
      membership[e] = d <= 0 || sigmas[i] === 0 ? 1 : Math.exp(-(d / sigmas[i]!))
    }
  }
  // w(i→j) of the directed graph: 0 when j is not among i's neighbours (k is small: a scan of the row).
  const directed = (i: number, j: number): number => {
    for (let t = 0; t < k; t++) if (indices[i * k + t] === j) return membership[i * k + t]!
    return 0
  }
  // Each row's edges: its own neighbours, then the points that have it as a neighbour but it not them.
  const perRow = new Int32Array(count + 1)
  for (let e = 0; e < membership.length; e++) {
    if (membership[e]! <= 0) continue
    const i = Math.floor(e / k)
    perRow[i + 1]!++
    if (directed(indices[e]!, i) <= 0) perRow[indices[e]! + 1]!++
  }
  for (let i = 0; i < count; i++) perRow[i + 1]! += perRow[i]!
  const edges = perRow[count]!
  const head = new Int32Array(edges)
  const tail = new Int32Array(edges)
  const weight = new Float64Array(edges)
  const next = perRow.slice(0, count)
  const put = (from: number, to: number, w: number): void => {
    const at = next[from]!++
    head[at] = from
    tail[at] = to
    weight[at] = w
  }
  for (let e = 0; e < membership.length; e++) {
    const a = membership[e]!
    if (a <= 0) continue
    const i = Math.floor(e / k)
    const j = indices[e]!
    const b = directed(j, i)
    const union = a + b - a * b
    put(i, j, union)
    if (b <= 0) put(j, i, union)
  }
  return { head, tail, weight }
}
