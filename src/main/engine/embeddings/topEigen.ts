/**
 * The k largest eigenpairs of a symmetric positive semi-definite m × m matrix (PCA's covariance or Gram matrix).
 * Small m: ml-matrix's dense symmetric decomposition (Householder tridiagonalisation + QL, float64). Large m: its
 * O(m³) takes minutes in JS (m = 1 024: 10 s here), so block subspace iteration with Rayleigh-Ritz instead: Q ← orth(S Q)
 * with a block wider than k (the rate is λ_{b+1}/λ_k per step), the products on onnxruntime (ortGemm.ts), stopped
 * when every wanted Ritz pair's residual ‖S v − θ v‖ is below 1e-6 θ₁ (S is used in float32: its own rounding).
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix'
import { ConvscopeError } from '../../../shared/api'
import { Rng, hashParts } from '../rng'
import { gemm } from './ortGemm'

export interface EigenPairs {
  /** k eigenvalues, largest first. */
  values: Float64Array
  /** [m, k] row-major: column j is the unit eigenvector of values[j]. */
  vectors: Float64Array
}

export interface EigenOptions {
  signal?: AbortSignal
  /** Called after each iteration of the iterative solver with (iterations done, the most it may take). */
  onIteration?: (done: number, most: number) => void
}

/** Up to this size the dense decomposition (about 2 s at 512 on this machine's 2 busy cores). */
export const DENSE_LIMIT = 384
const TOLERANCE = 1e-6
const MAX_ITERATIONS = 3000
// Rayleigh-Ritz (a b × b decomposition) every this many products; between them only orthonormalisation.
const CHECK_EVERY = 8

/** Eigenpairs of a small symmetric matrix (float64, row-major), largest first, k of them. */
function denseTop(s: Float64Array, m: number, k: number): EigenPairs {
  const rows = Array.from({ length: m }, (_, i) => Array.from(s.subarray(i * m, (i + 1) * m)))
  const evd = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true })
  const ascending = evd.realEigenvalues
  const vectors = evd.eigenvectorMatrix
  const values = new Float64Array(k)
  const out = new Float64Array(m * k)
  for (let j = 0; j < k; j++) {
    const c = m - 1 - j
    values[j] = ascending[c]!
    for (let i = 0; i < m; i++) out[i * k + j] = vectors.get(i, c)
  }
  return { values, vectors: out }
}

/**
 * Orthonormalise the b columns of `q` ([m, b] row-major) in place: modified Gram-Schmidt, twice (stable to rounding),
 * on a column-major copy so each column is contiguous (strided columns were most of an iteration's time).
 */
export function orthonormalizeColumns(q: Float64Array, m: number, b: number, rng: Rng): void {
  const c = new Float64Array(m * b)
  for (let i = 0; i < m; i++) for (let j = 0; j < b; j++) c[j * m + i] = q[i * b + j]!
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < b; j++) {
      const cj = j * m
      for (let p = 0; p < j; p++) {
        const cp = p * m
        let dot = 0
        for (let i = 0; i < m; i++) dot += c[cp + i]! * c[cj + i]!
        for (let i = 0; i < m; i++) c[cj + i]! -= dot * c[cp + i]!
      }
      let norm = 0
      for (let i = 0; i < m; i++) norm += c[cj + i]! ** 2
      norm = Math.sqrt(norm)
      if (norm < 1e-300 || !Number.isFinite(norm)) {
        // A column lost to rank deficiency: a fresh random one, made orthogonal on the next pass.
        for (let i = 0; i < m; i++) c[cj + i] = rng.normal()
        pass = -1 // both passes again, from the first column
        break
      }
      for (let i = 0; i < m; i++) c[cj + i]! /= norm
    }
  }
  for (let i = 0; i < m; i++) for (let j = 0; j < b; j++) q[i * b + j] = c[j * m + i]!
}

/** c = a [m, p] · b [p, q], float64 row-major. */
function multiply(a: Float64Array, b: Float64Array, m: number, p: number, q: number): Float64Array {
  const c = new Float64Array(m * q)
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < p; l++) {
      const v = a[i * p + l]!
      if (v === 0) continue
      for (let j = 0; j < q; j++) c[i * q + j]! += v * b[l * q + j]!
    }
  }
  return c
}

/** The k largest eigenpairs of the symmetric PSD matrix `s` ([m, m] row-major, float64). */
export async function topEigenpairs(s: Float64Array, m: number, k: number, options: EigenOptions = {}): Promise<EigenPairs> {
  if (k > m) throw new Error(`topEigenpairs: ${k} pairs of a ${m} × ${m} matrix`)
  if (m <= DENSE_LIMIT) return denseTop(s, m, k)
  const b = Math.min(m, k + Math.max(k, 16))
  const rng = new Rng(hashParts(['topEigenpairs', m, k]))
  const s32 = Float32Array.from(s)
  let q: Float64Array = Float64Array.from({ length: m * b }, () => rng.normal())
  orthonormalizeColumns(q, m, b, rng)
  for (let it = 1; it <= MAX_ITERATIONS; it++) {
    if (options.signal?.aborted) throw new ConvscopeError('CANCELLED', 'Cancelled by the user')
    const product = await gemm({ data: s32, rows: m, cols: m }, { data: Float32Array.from(q), rows: m, cols: b })
    const z = Float64Array.from(product.data)
    options.onIteration?.(it, MAX_ITERATIONS)
    if (it % CHECK_EVERY !== 0) {
      q = z
      orthonormalizeColumns(q, m, b, rng)
      continue
    }
    // Rayleigh-Ritz: H = Qᵀ S Q, its eigenvectors W rotate Q to the Ritz vectors V = Q W (and S V = Z W).
    const h = new Float64Array(b * b)
    for (let i = 0; i < m; i++) {
      for (let x = 0; x < b; x++) {
        const qx = q[i * b + x]!
        for (let y = 0; y < b; y++) h[x * b + y]! += qx * z[i * b + y]!
      }
    }
    for (let x = 0; x < b; x++) for (let y = 0; y < x; y++) h[x * b + y] = h[y * b + x] = (h[x * b + y]! + h[y * b + x]!) / 2
    const ritz = denseTop(h, b, b)
    const v = multiply(q, ritz.vectors, m, b, b)
    const sv = multiply(z, ritz.vectors, m, b, b)
    let worst = 0
    for (let j = 0; j < k; j++) {
      let r = 0
      for (let i = 0; i < m; i++) r += (sv[i * b + j]! - ritz.values[j]! * v[i * b + j]!) ** 2
      worst = Math.max(worst, Math.sqrt(r))
    }
    if (worst <= TOLERANCE * Math.max(ritz.values[0]!, 1e-300)) {
      const vectors = new Float64Array(m * k)
      for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) vectors[i * k + j] = v[i * b + j]!
      return { values: ritz.values.slice(0, k), vectors }
    }
    q = sv
    orthonormalizeColumns(q, m, b, rng)
  }
  throw new ConvscopeError('INTERNAL', `the top ${k} eigenvectors of a ${m} × ${m} matrix did not converge in ${MAX_ITERATIONS} iterations`)
}
