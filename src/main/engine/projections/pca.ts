/**
 * PCA (issue 13): the codes centred and projected on their directions of largest variance — exact, equal to
 * scikit-learn's PCA(svd_solver='full') up to each component's sign (test/golden/embeddings, made by
 * scripts/reference/embeddings_reference.py).
 *
 * Through the smaller of the two symmetric matrices of the centred codes X (n × d): the covariance Xᵀ X (d × d) when
 * n ≥ d, else the Gram matrix X Xᵀ (n × n), summed in float64 from float32 products of centred row blocks
 * (onnxruntime, ortGemm.ts; memory: the data, that matrix and one block); of the covariance only the blocks on or
 * above the diagonal are multiplied. Its top eigenpairs (topEigen.ts) give the
 * components and the variances. Signs as scikit-learn ≥ 1.5's svd_flip on the components: each component's largest
 * |loading| is positive, so a map does not flip between runs or machines.
 */
import { ConvscopeError, type ProjectionParam } from '../../../shared/api'
import { throwIfCancelled, type JobContext } from '../context'
import { gemm, type MatrixF32 } from '../embeddings/ortGemm'
import { topEigenpairs } from '../embeddings/topEigen'
import type { Projection, ProjectionInput } from './projection'

export interface PrincipalComponents {
  /** [dim] the codes' mean. */
  mean: Float64Array
  /** [k, dim] row-major unit components, largest variance first. */
  components: Float32Array
  /** [k] variance along each component (divided by n − 1, as scikit-learn). */
  explainedVariance: Float64Array
  /** [k] that over the total variance. */
  explainedVarianceRatio: Float64Array
  /** [n, k] the centred codes on the components. */
  points: Float32Array
}

// Rows per product block: 16 Mi values (64 MiB float32). Large blocks because each block's d × d product is added
// into the float64 sum in JS: fewer blocks, fewer of those adds.
const BLOCK_VALUES = 1 << 24

/** Rows [start, end) less the mean, float32. */
function centredRows(input: ProjectionInput, mean: Float64Array, start: number, end: number): Float32Array {
  const { data, dim } = input
  const out = new Float32Array((end - start) * dim)
  for (let r = start; r < end; r++) {
    const o = (r - start) * dim
    const i = r * dim
    for (let c = 0; c < dim; c++) out[o + c] = data[i + c]! - mean[c]!
  }
  return out
}

function columnMeanAndTotalVariance(input: ProjectionInput): { mean: Float64Array; total: number } {
  const { data, count, dim } = input
  const mean = new Float64Array(dim)
  for (let r = 0; r < count; r++) for (let c = 0; c < dim; c++) mean[c]! += data[r * dim + c]!
  for (let c = 0; c < dim; c++) mean[c]! /= count
  let total = 0
  for (let r = 0; r < count; r++) {
    for (let c = 0; c < dim; c++) {
      const v = data[r * dim + c]! - mean[c]!
      total += v * v
    }
  }
  return { mean, total: total / (count - 1) }
}

// Columns per slice of the covariance: Xᵀ X is symmetric, so only slice pairs on or above the diagonal are multiplied
// (4 slices: 10 of 16 products).
const COLUMN_SLICES = 4
const MIN_SLICE = 256

/** Columns [c0, c1) of a row-major block, contiguous. */
function columnSlice(a: MatrixF32, c0: number, c1: number): MatrixF32 {
  const w = c1 - c0
  const out = new Float32Array(a.rows * w)
  for (let r = 0; r < a.rows; r++) out.set(a.data.subarray(r * a.cols + c0, r * a.cols + c1), r * w)
  return { data: out, rows: a.rows, cols: w }
}

/** s (d × d, float64) += the upper triangle's blocks of aᵀ a (the lower is filled by mirrorUpper at the end). */
async function addCovarianceBlock(a: MatrixF32, s: Float64Array): Promise<void> {
  const d = a.cols
  const parts = d >= 2 * MIN_SLICE ? Math.min(COLUMN_SLICES, Math.floor(d / MIN_SLICE)) : 1
  const edges = Array.from({ length: parts + 1 }, (_, i) => Math.round((i * d) / parts))
  const slices = parts === 1 ? [a] : edges.slice(0, -1).map((c0, i) => columnSlice(a, c0, edges[i + 1]!))
  for (let x = 0; x < parts; x++) {
    for (let y = x; y < parts; y++) {
      const p = await gemm(slices[x]!, slices[y]!, { transA: true })
      const r0 = edges[x]!
      const c0 = edges[y]!
      for (let i = 0; i < p.rows; i++) {
        const row = (r0 + i) * d + c0
        for (let j = 0; j < p.cols; j++) s[row + j]! += p.data[i * p.cols + j]!
      }
    }
  }
}

/** Copy the upper triangle onto the lower (the diagonal slices were summed whole, so their lower halves are already right). */
function mirrorUpper(s: Float64Array, d: number): void {
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) s[i * d + j] = s[j * d + i]!
}

/** The top `k` principal components of `input` (n ≥ 2 rows), their variances and the projected points. */
export async function principalComponents(input: ProjectionInput, k: number, ctx: JobContext): Promise<PrincipalComponents> {
  const { count: n, dim: d } = input
  if (n < 2) throw new ConvscopeError('BAD_REQUEST', `PCA needs at least 2 codes, not ${n}`)
  if (k > Math.min(n, d)) throw new ConvscopeError('BAD_REQUEST', `PCA of ${n} codes of ${d} values makes at most ${Math.min(n, d)} dimensions, not ${k}`)
  const { mean, total } = columnMeanAndTotalVariance(input)
  const step = Math.max(1, Math.floor(BLOCK_VALUES / d))
  const blocks: [number, number][] = []
  for (let s = 0; s < n; s += step) blocks.push([s, Math.min(n, s + step)])
  const gram = n < d
  const m = gram ? n : d
  const productCount = gram ? (blocks.length * (blocks.length + 1)) / 2 : blocks.length
  const report = (done: number, message: string) => ctx.progress({ done, total: productCount, unit: 'iterations', message })

  // The m × m symmetric matrix, summed in float64.
  const s = new Float64Array(m * m)
  let done = 0
  for (let bi = 0; bi < blocks.length; bi++) {
    throwIfCancelled(ctx)
    const [i0, i1] = blocks[bi]!
    const a = { data: centredRows(input, mean, i0, i1), rows: i1 - i0, cols: d }
    if (!gram) {
      await addCovarianceBlock(a, s)
      report(++done, 'covariance')
      continue
    }
    for (let bj = 0; bj <= bi; bj++) {
      const [j0, j1] = blocks[bj]!
      const b = bj === bi ? a : { data: centredRows(input, mean, j0, j1), rows: j1 - j0, cols: d }
      const p = await gemm(a, b, { transB: true })
      for (let x = 0; x < a.rows; x++) {
        for (let y = 0; y < b.rows; y++) {
          const v = p.data[x * b.rows + y]!
          s[(i0 + x) * m + j0 + y] = v
          s[(j0 + y) * m + i0 + x] = v
        }
      }
      report(++done, 'Gram matrix')
    }
  }
  if (!gram) mirrorUpper(s, m)
  throwIfCancelled(ctx)
  const eig = await topEigenpairs(s, m, k, {
    signal: ctx.signal,
    onIteration: (it) => ctx.progress({ done: it, total: null, unit: 'iterations', message: 'eigenvectors' }),
  })

  const values = eig.values.map((v) => Math.max(0, v))
  // Components [k, d]: the covariance's eigenvectors, or Xᵀ u / √λ from the Gram matrix's (zero where λ is 0: no direction).
  const components = new Float32Array(k * d)
  if (!gram) {
    for (let j = 0; j < k; j++) for (let c = 0; c < d; c++) components[j * d + c] = eig.vectors[c * k + j]!
  } else {
    const sum = new Float64Array(d * k)
    for (const [i0, i1] of blocks) {
      throwIfCancelled(ctx)
      const u = Float32Array.from(eig.vectors.subarray(i0 * k, i1 * k))
      const p = await gemm({ data: centredRows(input, mean, i0, i1), rows: i1 - i0, cols: d }, { data: u, rows: i1 - i0, cols: k }, { transA: true })
      for (let x = 0; x < d * k; x++) sum[x]! += p.data[x]!
    }
    for (let j = 0; j < k; j++) {
      const scale = values[j]! > values[0]! * 1e-12 ? 1 / Math.sqrt(values[j]!) : 0
      for (let c = 0; c < d; c++) components[j * d + c] = sum[c * k + j]! * scale
    }
  }
  const flip = new Float32Array(k)
  for (let j = 0; j < k; j++) {
    let best = 0
    for (let c = 0; c < d; c++) if (Math.abs(components[j * d + c]!) > Math.abs(best)) best = components[j * d + c]!
    flip[j] = best < 0 ? -1 : 1
    for (let c = 0; c < d; c++) components[j * d + c]! *= flip[j]!
  }

  // Points: each centred block times the components.
  const points = new Float32Array(n * k)
  for (const [i0, i1] of blocks) {
    throwIfCancelled(ctx)
    const p = await gemm({ data: centredRows(input, mean, i0, i1), rows: i1 - i0, cols: d }, { data: components, rows: k, cols: d }, { transB: true })
    points.set(p.data, i0 * k)
  }
  const explainedVariance = values.map((v) => v / (n - 1))
  const explainedVarianceRatio = explainedVariance.map((v) => (total > 0 ? v / total : 0))
  return { mean, components, explainedVariance, explainedVarianceRatio, points }
}

export const pca: Projection = {
  info: {
    name: 'pca',
    label: 'PCA',
    description: 'Principal component analysis: the codes centred and projected on their directions of largest variance (exact, as scikit-learn PCA). Fast; keeps global distances, so clusters overlap more than in t-SNE or UMAP. To 50-D it is the usual first step before t-SNE.',
    maxDims: 100,
    params: [],
  },
  run: async (input, dims, _params, ctx) => {
    const out = await principalComponents(input, dims, ctx)
    return { points: out.points, explainedVariance: Float32Array.from(out.explainedVarianceRatio) }
  },
}

/** The setting of t-SNE and UMAP that reduces wider codes by PCA first (the usual step; scikit-learn's t-SNE input in bench/tsne.ts too). */
export const PCA_DIMS_PARAM: ProjectionParam = { name: 'pcaDims', label: 'PCA dimensions', kind: 'int', default: 50, min: 0, max: 4096, help: 'Codes wider than this are reduced by PCA first; 0: never' }

/** `input` reduced to its first `pcaDims` principal components when it is wider (and has more rows); PCA's progress with what it is for. */
export async function reducedByPca(input: ProjectionInput, pcaDims: number, ctx: JobContext): Promise<ProjectionInput> {
  if (pcaDims <= 0 || input.dim <= pcaDims || input.count <= pcaDims) return input
  const message = `PCA to ${pcaDims} dimensions`
  const { points } = await principalComponents(input, pcaDims, { signal: ctx.signal, progress: (p) => ctx.progress({ ...p, message }) })
  return { data: points, count: input.count, dim: pcaDims }
}
