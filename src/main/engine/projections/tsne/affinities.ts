/**
 * t-SNE's input affinities P (van der Maaten 2014, "Accelerating t-SNE using tree-based algorithms", section 4.1),
 * as scikit-learn 1.2 makes them: each point's Gaussian over its k = 3·perplexity nearest neighbours' squared
 * distances, its precision β found by binary search so that the entropy is log(perplexity) (100 steps, tolerance
 * 1e-5, sklearn's _binary_search_perplexity); then P = (P_cond + P_condᵀ) / Σ, a sparse symmetric matrix summing to 1.
 */

export interface SparseAffinities {
  /** CSR: row i's entries are columns[rowStart[i] … rowStart[i+1]), ascending. */
  rowStart: Int32Array
  columns: Int32Array
  values: Float64Array
}

const PERPLEXITY_TOLERANCE = 1e-5
const STEPS = 100

/**
 * Row-normalised Gaussian affinities [count, k] from squared neighbour distances [count, k]. Distances are shifted
 * by the row's smallest before exp (the same P and entropy; no underflow when every distance is large).
 */
export function conditionalAffinities(squaredDistances: Float64Array, count: number, k: number, perplexity: number): Float64Array {
  const p = new Float64Array(count * k)
  const desiredEntropy = Math.log(perplexity)
  for (let i = 0; i < count; i++) {
    const o = i * k
    let dMin = Infinity
    for (let j = 0; j < k; j++) dMin = Math.min(dMin, squaredDistances[o + j]!)
    let beta = 1
    let betaMin = -Infinity
    let betaMax = Infinity
    for (let step = 0; step < STEPS; step++) {
      let sum = 0
      for (let j = 0; j < k; j++) {
        const v = Math.exp(-(squaredDistances[o + j]! - dMin) * beta)
        p[o + j] = v
        sum += v
      }
      if (sum === 0) sum = 1e-8
      let meanShifted = 0
      for (let j = 0; j < k; j++) {
        p[o + j]! /= sum
        meanShifted += (squaredDistances[o + j]! - dMin) * p[o + j]!
      }
      const entropyDiff = Math.log(sum) + beta * meanShifted - desiredEntropy
      if (Math.abs(entropyDiff) <= PERPLEXITY_TOLERANCE) break
      if (entropyDiff > 0) {
        betaMin = beta
        beta = betaMax === Infinity ? beta * 2 : (beta + betaMax) / 2
      } else {
        betaMax = beta
        beta = betaMin === -Infinity ? beta / 2 : (beta + betaMin) / 2
      }
    }
  }
  return p
}

/** P = (P_cond + P_condᵀ) / Σ as CSR from neighbour lists [count, k] and their conditional affinities. */
export function jointAffinities(neighbours: Int32Array, conditional: Float64Array, count: number, k: number): SparseAffinities {
  // Each (i, j, p) lands in row i and row j: count entries per row, fill, then sort and merge each row.
  const rowCount = new Int32Array(count + 1)
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < k; j++) {
      const n = neighbours[i * k + j]!
      if (n < 0) continue
      rowCount[i]!++
      rowCount[n]!++
    }
  }
  const start = new Int32Array(count + 1)
  for (let i = 0; i < count; i++) start[i + 1] = start[i]! + rowCount[i]!
  const cols = new Int32Array(start[count]!)
  const vals = new Float64Array(start[count]!)
  const fill = start.slice(0, count)
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < k; j++) {
      const n = neighbours[i * k + j]!
      if (n < 0) continue
      const v = conditional[i * k + j]!
      cols[fill[i]!] = n
      vals[fill[i]!++] = v
      cols[fill[n]!] = i
      vals[fill[n]!++] = v
    }
  }
  // Sort each row by column (insertion sort: rows are ~2k long) and merge duplicates (i ∈ N(j) and j ∈ N(i)).
  const rowStart = new Int32Array(count + 1)
  let out = 0
  let total = 0
  for (let i = 0; i < count; i++) {
    const a = start[i]!
    const b = start[i + 1]!
    for (let x = a + 1; x < b; x++) {
      const c = cols[x]!
      const v = vals[x]!
      let y = x - 1
      while (y >= a && cols[y]! > c) {
        cols[y + 1] = cols[y]!
        vals[y + 1] = vals[y]!
        y--
      }
      cols[y + 1] = c
      vals[y + 1] = v
    }
    rowStart[i] = out
    for (let x = a; x < b; x++) {
      if (out > rowStart[i]! && cols[out - 1] === cols[x]) vals[out - 1]! += vals[x]!
      else {
        cols[out] = cols[x]!
        vals[out++] = vals[x]!
      }
      total += vals[x]!
    }
  }
  rowStart[count] = out
  const scale = 1 / Math.max(total, Number.MIN_VALUE)
  const values = vals.slice(0, out)
  for (let x = 0; x < out; x++) values[x]! *= scale
  return { rowStart, columns: cols.slice(0, out), values }
}
