/**
 * Exact k nearest neighbours (issue 13, item 2): the lecture's "nearest neighbours in code space" beside those in
 * pixel space, and the kNN graphs of t-SNE and UMAP. No approximation: every row is compared, in blocks, through
 * dot products (cosine: q·x / (‖q‖‖x‖); L2: ‖q‖² + ‖x‖² − 2 q·x clamped at 0), so the work is matrix products.
 *
 * Rows are read block by block through a KnnIndex (float32 rows are viewed in place; uint8 thumbnails and float16
 * codes are widened one block at a time), so memory is the data plus O(block). Squared norms are computed once per
 * index, which a caller keeps between queries (the neighbours method caches one codes folder per engine process).
 * Order: distance, then the lower row index (a total order, so results are deterministic and equal brute force).
 * A row with a NaN is never a neighbour; a query with a NaN has none. Missing neighbours (k larger than the rows
 * left) are index −1, distance +Infinity. Cosine distance of a zero vector is 1 (its similarity is 0, as
 * scikit-learn's normalize leaves it zero).
 */
import { ConvscopeError, type Metric } from '../../../shared/api'
import { float16BitsToFloat32 } from '../store/npy'
import { gemm } from './ortGemm'

export interface KnnResult {
  /** [queryCount, k] row indices, nearest first; −1 where fewer than k rows qualify. */
  indices: Int32Array
  /** [queryCount, k] distances (cosine: 1 − cos, l2: Euclidean); +Infinity where the index is −1. */
  distances: Float32Array
}

/** Row storage a KnnIndex reads: float32 codes, float16 codes (raw half bits) or uint8 thumbnails. */
export type KnnRows = Float32Array | Uint16Array | Uint8Array

/** Data rows with their squared norms, made once and reused by every query. */
export interface KnnIndex {
  rows: KnnRows
  count: number
  dim: number
  /** ‖x‖² per row in float64; NaN for a row with a NaN. */
  squaredNorms: Float64Array
}

// Rows per block: a float32 block of 64 × 4 096 is 1 MiB, about what a core's L2 holds.
const BLOCK_BYTES = 1 << 20

const blockRows = (dim: number): number => Math.max(1, Math.floor(BLOCK_BYTES / (4 * Math.max(1, dim))))

/** Rows [start, end) as float32: a view of float32 storage, else widened into `scratch`. */
function rowsAsFloat32(rows: KnnRows, dim: number, start: number, end: number, scratch: Float32Array): Float32Array {
  if (rows instanceof Float32Array) return rows.subarray(start * dim, end * dim)
  const n = (end - start) * dim
  const from = start * dim
  if (rows instanceof Uint8Array) widenBytes(rows, from, n, scratch)
  else widenHalves(rows, from, n, scratch)
  return scratch.subarray(0, n)
}

// One loop per storage type, so each loop sees one array type.
function widenBytes(rows: Uint8Array, from: number, n: number, out: Float32Array): void {
  for (let i = 0; i < n; i++) out[i] = rows[from + i]!
}

/** float16 bits to float32 by a table of all 65 536 values (4-8 ns a value here once optimised; float16BitsToFloat32 per value ~40). */
function widenHalves(rows: Uint16Array, from: number, n: number, out: Float32Array): void {
  const table = halfTable()
  for (let i = 0; i < n; i++) out[i] = table[rows[from + i]!]!
}

let halfValues: Float32Array | null = null

/** Every float16 bit pattern's value (256 KiB). */
function halfTable(): Float32Array {
  if (!halfValues) {
    halfValues = new Float32Array(65536)
    for (let b = 0; b < 65536; b++) halfValues[b] = float16BitsToFloat32(b)
  }
  return halfValues
}

function squaredNormsOf(block: Float32Array, n: number, dim: number, out: Float64Array, outStart: number): void {
  for (let r = 0; r < n; r++) {
    let s = 0
    const o = r * dim
    for (let d = 0; d < dim; d++) s += block[o + d]! * block[o + d]!
    out[outStart + r] = s // NaN propagates: a NaN row keeps a NaN norm
  }
}

/** The index of `rows` ([count, dim] row-major): squared norms computed once. */
export function knnIndex(rows: KnnRows, count: number, dim: number): KnnIndex {
  if (rows.length !== count * dim) throw new Error(`knn: ${rows.length} values are not ${count} rows of ${dim}`)
  const squaredNorms = new Float64Array(count)
  const step = blockRows(dim)
  const scratch = rows instanceof Float32Array ? new Float32Array(0) : new Float32Array(step * dim)
  for (let start = 0; start < count; start += step) {
    const end = Math.min(count, start + step)
    squaredNormsOf(rowsAsFloat32(rows, dim, start, end, scratch), end - start, dim, squaredNorms, start)
  }
  return { rows, count, dim, squaredNorms }
}

/**
 * dots[i * xn + j] = q_i · x_j for qn query rows and xn data rows (row-major, `dim` long), in float64 sums.
 * Four queries share each load of x (the JS kernel's register blocking: 5 loads per 4 multiply-adds).
 */
export function blockDots(q: Float32Array, qn: number, x: Float32Array, xn: number, dim: number, dots: Float64Array): void {
  let i = 0
  for (; i + 4 <= qn; i += 4) {
    const q0 = i * dim
    const q1 = q0 + dim
    const q2 = q1 + dim
    const q3 = q2 + dim
    for (let j = 0; j < xn; j++) {
      const xo = j * dim
      let s0 = 0
      let s1 = 0
      let s2 = 0
      let s3 = 0
      for (let d = 0; d < dim; d++) {
        const v = x[xo + d]!
        s0 += q[q0 + d]! * v
        s1 += q[q1 + d]! * v
        s2 += q[q2 + d]! * v
        s3 += q[q3 + d]! * v
      }
      dots[i * xn + j] = s0
      dots[(i + 1) * xn + j] = s1
      dots[(i + 2) * xn + j] = s2
      dots[(i + 3) * xn + j] = s3
    }
  }
  for (; i < qn; i++) {
    const qo = i * dim
    for (let j = 0; j < xn; j++) {
      const xo = j * dim
      // Four partial sums: independent chains the CPU can overlap.
      let s0 = 0
      let s1 = 0
      let s2 = 0
      let s3 = 0
      let d = 0
      for (; d + 4 <= dim; d += 4) {
        s0 += q[qo + d]! * x[xo + d]!
        s1 += q[qo + d + 1]! * x[xo + d + 1]!
        s2 += q[qo + d + 2]! * x[xo + d + 2]!
        s3 += q[qo + d + 3]! * x[xo + d + 3]!
      }
      for (; d < dim; d++) s0 += q[qo + d]! * x[xo + d]!
      dots[i * xn + j] = s0 + s1 + s2 + s3
    }
  }
}

/**
 * The k best (distance, index) pairs of one query: a max-heap on (distance, index) whose root is the worst kept.
 * Rows are offered in increasing index, but the comparison is the full total order anyway.
 */
class TopK {
  readonly dist: Float64Array
  readonly index: Int32Array
  size = 0

  constructor(readonly k: number) {
    this.dist = new Float64Array(k)
    this.index = new Int32Array(k)
  }

  private worse(a: number, b: number): boolean {
    const da = this.dist[a]!
    const db = this.dist[b]!
    return da > db || (da === db && this.index[a]! > this.index[b]!)
  }

  offer(distance: number, index: number): void {
    const { k, dist, index: idx } = this
    if (this.size < k) {
      let c = this.size++
      dist[c] = distance
      idx[c] = index
      while (c > 0) {
        const p = (c - 1) >> 1
        if (!this.worse(c, p)) break
        this.swap(c, p)
        c = p
      }
      return
    }
    if (distance > dist[0]! || (distance === dist[0]! && index > idx[0]!)) return
    dist[0] = distance
    idx[0] = index
    let p = 0
    for (;;) {
      const l = 2 * p + 1
      if (l >= k) break
      const r = l + 1
      const c = r < k && this.worse(r, l) ? r : l
      if (!this.worse(c, p)) break
      this.swap(c, p)
      p = c
    }
  }

  private swap(a: number, b: number): void {
    const d = this.dist[a]!
    this.dist[a] = this.dist[b]!
    this.dist[b] = d
    const i = this.index[a]!
    this.index[a] = this.index[b]!
    this.index[b] = i
  }

  /** Write the kept pairs nearest first into row `q` of the result, padding with (−1, +Infinity). */
  writeSorted(q: number, out: KnnResult): void {
    const order = Array.from({ length: this.size }, (_, i) => i).sort((a, b) => this.dist[a]! - this.dist[b]! || this.index[a]! - this.index[b]!)
    const o = q * this.k
    for (let r = 0; r < this.k; r++) {
      const slot = order[r]
      out.indices[o + r] = slot === undefined ? -1 : this.index[slot]!
      out.distances[o + r] = slot === undefined ? Infinity : this.dist[slot]!
    }
  }
}

/** Distance from a dot product and the two squared norms. */
function distance(metric: Metric, dot: number, qq: number, xx: number): number {
  if (metric === 'l2') return Math.sqrt(Math.max(0, qq + xx - 2 * dot))
  const denominator = Math.sqrt(qq * xx)
  if (denominator === 0) return 1
  return Math.min(2, Math.max(0, 1 - dot / denominator))
}

export interface SearchOptions {
  /** Per query: a row to leave out (the query's own row), −1 for none. */
  exclude?: Int32Array
  /** Called after each block of data rows with (rows done, rows in all) × queries. */
  onProgress?: (done: number, total: number) => void
}

/** One search's state: the queries' norms, a top-k heap per query; data blocks are offered in increasing row order. */
class Search {
  readonly queryNorms: Float64Array
  readonly heaps: TopK[]
  readonly exclude: Int32Array | undefined

  constructor(
    readonly index: KnnIndex,
    readonly queries: Float32Array,
    readonly queryCount: number,
    readonly k: number,
    readonly metric: Metric,
    readonly options: SearchOptions,
  ) {
    const { dim } = index
    if (!Number.isInteger(k) || k < 1) throw new Error(`knn: k must be a whole number ≥ 1, not ${k}`)
    if (queries.length !== queryCount * dim) throw new Error(`knn: ${queries.length} query values are not ${queryCount} rows of ${dim}`)
    this.exclude = options.exclude
    if (this.exclude && this.exclude.length !== queryCount) throw new Error(`knn: exclude has ${this.exclude.length} entries for ${queryCount} queries`)
    this.queryNorms = new Float64Array(queryCount)
    squaredNormsOf(queries, queryCount, dim, this.queryNorms, 0)
    this.heaps = Array.from({ length: queryCount }, () => new TopK(k))
  }

  /** Offer rows [start, start + xn) to queries [q0, q0 + qn), given dots[i * xn + j] = q_{q0+i} · x_{start+j}. */
  offer(dots: Float64Array | Float32Array, q0: number, qn: number, start: number, xn: number): void {
    const { squaredNorms } = this.index
    for (let i = 0; i < qn; i++) {
      const q = q0 + i
      const qq = this.queryNorms[q]!
      if (Number.isNaN(qq)) continue
      const skip = this.exclude ? this.exclude[q]! : -1
      const heap = this.heaps[q]!
      for (let j = 0; j < xn; j++) {
        const row = start + j
        const xx = squaredNorms[row]!
        if (row === skip || Number.isNaN(xx)) continue
        heap.offer(distance(this.metric, dots[i * xn + j]!, qq, xx), row)
      }
    }
  }

  result(): KnnResult {
    const result: KnnResult = { indices: new Int32Array(this.queryCount * this.k), distances: new Float32Array(this.queryCount * this.k) }
    this.heaps.forEach((heap, q) => heap.writeSorted(q, result))
    return result
  }
}

/**
 * The k nearest rows of `index` to each of `queryCount` query rows (float32, [queryCount, dim]), dot products in JS
 * (float64 sums). Data blocks are the outer loop, so the data is read once for all queries.
 */
export function searchIndex(index: KnnIndex, queries: Float32Array, queryCount: number, k: number, metric: Metric, options: SearchOptions = {}): KnnResult {
  const search = new Search(index, queries, queryCount, k, metric, options)
  const { rows, count, dim } = index
  const step = blockRows(dim)
  // Queries in groups so the dot buffer stays O(block): group × step dots.
  const queryGroup = Math.max(4, Math.min(queryCount, 256))
  const dots = new Float64Array(queryGroup * step)
  const scratch = rows instanceof Float32Array ? new Float32Array(0) : new Float32Array(step * dim)
  for (let start = 0; start < count; start += step) {
    const end = Math.min(count, start + step)
    const block = rowsAsFloat32(rows, dim, start, end, scratch)
    for (let g = 0; g < queryCount; g += queryGroup) {
      const qn = Math.min(queryGroup, queryCount - g)
      blockDots(queries.subarray(g * dim, (g + qn) * dim), qn, block, end - start, dim, dots)
      search.offer(dots, g, qn, start, end - start)
    }
    options.onProgress?.(end * queryCount, count * queryCount)
  }
  return search.result()
}

// onnxruntime blocks: 4 Mi values (16 MiB of float32 rows; 1 024 rows of 4 096): one query over 100 000 × 4 096 took
// 82-92 ms in blocks of 1 024 rows, 122-169 in blocks of 4 096 and 106-161 in blocks of 16 384 (load 10, 2 cores).
const ORT_BLOCK_VALUES = 1 << 22
const ORT_QUERY_GROUP = 1024

/**
 * searchIndex with the dot products on onnxruntime (ortGemm.ts: float32 sums, multi-threaded; bench/neighbours.ts
 * measures it against the JS loop). Same order and rules; distances agree with searchIndex to float32 rounding.
 */
export async function searchIndexAsync(index: KnnIndex, queries: Float32Array, queryCount: number, k: number, metric: Metric, options: SearchOptions & { signal?: AbortSignal } = {}): Promise<KnnResult> {
  const search = new Search(index, queries, queryCount, k, metric, options)
  const { rows, count, dim } = index
  const step = Math.max(1, Math.floor(ORT_BLOCK_VALUES / Math.max(1, dim)))
  const scratch = rows instanceof Float32Array ? new Float32Array(0) : new Float32Array(Math.min(step, count) * dim)
  for (let start = 0; start < count; start += step) {
    if (options.signal?.aborted) throw new ConvscopeError('CANCELLED', 'Cancelled by the user')
    const end = Math.min(count, start + step)
    const block = { data: rowsAsFloat32(rows, dim, start, end, scratch), rows: end - start, cols: dim }
    for (let g = 0; g < queryCount; g += ORT_QUERY_GROUP) {
      const qn = Math.min(ORT_QUERY_GROUP, queryCount - g)
      const dots = await gemm({ data: queries.subarray(g * dim, (g + qn) * dim), rows: qn, cols: dim }, block, { transB: true })
      search.offer(dots.data, g, qn, start, end - start)
    }
    options.onProgress?.(end * queryCount, count * queryCount)
  }
  return search.result()
}

/** The k nearest rows of `data` ([count, dim]) to each query ([queryCount, dim]), nearest first, ties by lower index. */
export function nearestNeighbours(
  data: Float32Array,
  count: number,
  dim: number,
  queries: Float32Array,
  queryCount: number,
  k: number,
  metric: Metric,
  options?: { exclude?: Int32Array },
): KnnResult {
  return searchIndex(knnIndex(data, count, dim), queries, queryCount, k, metric, { exclude: options?.exclude })
}

/** Every row's k nearest other rows (itself left out): the kNN graph of t-SNE and UMAP. */
export function selfNeighbours(
  data: Float32Array,
  count: number,
  dim: number,
  k: number,
  metric: Metric,
  onProgress?: (done: number, total: number) => void,
): KnnResult {
  const index = knnIndex(data, count, dim)
  const result: KnnResult = { indices: new Int32Array(count * k), distances: new Float32Array(count * k) }
  // Query blocks of rows against all rows: the dot buffer and the heaps stay O(block).
  const queryBlock = Math.max(1, Math.min(count, 1024))
  for (let q0 = 0; q0 < count; q0 += queryBlock) {
    const qn = Math.min(queryBlock, count - q0)
    const exclude = new Int32Array(qn)
    for (let i = 0; i < qn; i++) exclude[i] = q0 + i
    const part = searchIndex(index, data.subarray(q0 * dim, (q0 + qn) * dim), qn, k, metric, { exclude })
    result.indices.set(part.indices, q0 * k)
    result.distances.set(part.distances, q0 * k)
    onProgress?.(q0 + qn, count)
  }
  return result
}

/** selfNeighbours with the products on onnxruntime: the kNN graph of many rows (t-SNE, UMAP) at matrix-product speed. */
export async function selfNeighboursAsync(
  data: Float32Array,
  count: number,
  dim: number,
  k: number,
  metric: Metric,
  options: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {},
): Promise<KnnResult> {
  const index = knnIndex(data, count, dim)
  const result: KnnResult = { indices: new Int32Array(count * k), distances: new Float32Array(count * k) }
  const queryBlock = Math.max(1, Math.min(count, ORT_QUERY_GROUP))
  for (let q0 = 0; q0 < count; q0 += queryBlock) {
    const qn = Math.min(queryBlock, count - q0)
    const exclude = Int32Array.from({ length: qn }, (_, i) => q0 + i)
    const part = await searchIndexAsync(index, data.subarray(q0 * dim, (q0 + qn) * dim), qn, k, metric, { exclude, signal: options.signal })
    result.indices.set(part.indices, q0 * k)
    result.distances.set(part.distances, q0 * k)
    options.onProgress?.(q0 + qn, count)
  }
  return result
}
