/**
 * Exact k nearest neighbours (issue 13, item 2): the lecture's "nearest neighbours in code space" beside those in
 * pixel space, and the kNN graphs of t-SNE and UMAP. No approximation: every row is compared, in blocks, through
 * dot products (cosine: q·x / (‖q‖‖x‖); L2: ‖q‖² + ‖x‖² − 2 q·x clamped at 0), so the work is matrix products.
 *
 * Rows are read block by block through a KnnIndex (float32 rows are viewed in place; uint8 thumbnails and float16
 * codes are widened one block at a time), so memory is the data plus O(block). Squared norms are computed once per
 * index, which a caller keeps between queries (the neighbours method caches one codes folder per engine process).
 * Order: distance, then the lower row index (a total order, so results are deterministic and equal brute force).
 * The top k of each query is a max-heap in flat typed arrays; Euclidean rows are first compared by the sum under the
 * root against a bound of the worst kept (offerBlock), so only rows that may enter pay for a root and a heap step.
 * The self-kNN of t-SNE multiplies only the tiles on and above the diagonal (distances are symmetric): 50 000 Fashion-
 * MNIST rows of 50, k = 91 in 17.6 s instead of 47.9 s in one run, the same bits (load 1.8, 2 cores).
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
 * The k best (distance, index) pairs of every query, flat in typed arrays (no object per query): per query a max-heap
 * on (distance, index) whose root is the worst kept. The comparison is the full total order, so the result does not
 * depend on the order rows are offered in.
 */
class TopKs {
  readonly dist: Float64Array
  readonly index: Int32Array
  readonly size: Int32Array

  constructor(
    readonly queryCount: number,
    readonly k: number,
  ) {
    this.dist = new Float64Array(queryCount * k)
    this.index = new Int32Array(queryCount * k)
    this.size = new Int32Array(queryCount)
  }

  /** The root's distance once query q's heap is full (a candidate farther than this cannot enter), else +Infinity. */
  worst(q: number): number {
    return this.size[q]! < this.k ? Infinity : this.dist[q * this.k]!
  }

  private worse(a: number, b: number): boolean {
    const da = this.dist[a]!
    const db = this.dist[b]!
    return da > db || (da === db && this.index[a]! > this.index[b]!)
  }

  private swap(a: number, b: number): void {
    const d = this.dist[a]!
    this.dist[a] = this.dist[b]!
    this.dist[b] = d
    const i = this.index[a]!
    this.index[a] = this.index[b]!
    this.index[b] = i
  }

  /** Sift the slot `base + p` down a heap of `n` slots starting at `base`. */
  private siftDown(base: number, p: number, n: number): void {
    for (;;) {
      const l = 2 * p + 1
      if (l >= n) return
      const r = l + 1
      const c = r < n && this.worse(base + r, base + l) ? r : l
      if (!this.worse(base + c, base + p)) return
      this.swap(base + c, base + p)
      p = c
    }
  }

  offer(q: number, distance: number, index: number): void {
    const { k, dist, index: idx } = this
    const base = q * k
    const size = this.size[q]!
    if (size < k) {
      let c = size
      this.size[q] = size + 1
      dist[base + c] = distance
      idx[base + c] = index
      while (c > 0) {
        const p = (c - 1) >> 1
        if (!this.worse(base + c, base + p)) break
        this.swap(base + c, base + p)
        c = p
      }
      return
    }
    if (distance > dist[base]! || (distance === dist[base]! && index > idx[base]!)) return
    dist[base] = distance
    idx[base] = index
    this.siftDown(base, 0, k)
  }

  /** Every query's kept pairs nearest first (a heap sort in place), padded with (−1, +Infinity). */
  result(): KnnResult {
    const { k, queryCount } = this
    const out: KnnResult = { indices: new Int32Array(queryCount * k), distances: new Float32Array(queryCount * k) }
    for (let q = 0; q < queryCount; q++) {
      const base = q * k
      const size = this.size[q]!
      // Pop the worst to the end until sorted: ascending (distance, index).
      for (let n = size - 1; n > 0; n--) {
        this.swap(base, base + n)
        this.siftDown(base, 0, n)
      }
      for (let r = 0; r < k; r++) {
        out.indices[base + r] = r < size ? this.index[base + r]! : -1
        out.distances[base + r] = r < size ? this.dist[base + r]! : Infinity
      }
    }
    return out
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

/**
 * A block of dot products offered to the heaps: query `q0 + a` against data row `x0 + b` has the dot product
 * dots[a * xn + b], or dots[b * qn + a] when `transposed` (a tile of the self-kNN read for its other rows). A row is
 * skipped when it is the query's `skip` row (skipOf(q): excluded, or the query itself) or has a NaN norm.
 * Euclidean: most rows are farther than the worst kept, so the loop compares s = ‖q‖² + ‖x‖² − 2 q·x (the very sum
 * distance() takes the root of) with a bound on the worst kept's s, and takes the root only of rows that pass. The
 * bound (worst² · (1 + 1e-9), at least 1e-300) is above every s whose root could equal the worst (roots are correctly
 * rounded), so a row it drops is strictly farther: the result is exactly that of offering every row.
 */
function offerBlock(
  heaps: TopKs,
  metric: Metric,
  dots: Float32Array | Float64Array,
  transposed: boolean,
  queryNorms: Float64Array,
  q0: number,
  qn: number,
  rowNorms: Float64Array,
  x0: number,
  xn: number,
  skipOf: (q: number) => number,
): void {
  if (metric === 'l2') {
    if (transposed) offerL2Transposed(heaps, dots, queryNorms, q0, qn, rowNorms, x0, xn, skipOf)
    else offerL2(heaps, dots, queryNorms, q0, qn, rowNorms, x0, xn, skipOf)
    return
  }
  const queryStride = transposed ? 1 : xn
  const rowStride = transposed ? qn : 1
  for (let a = 0; a < qn; a++) {
    const q = q0 + a
    const qq = queryNorms[q]!
    if (Number.isNaN(qq)) continue
    const skip = skipOf(q)
    const at = a * queryStride
    for (let b = 0; b < xn; b++) {
      const row = x0 + b
      const xx = rowNorms[row]!
      if (row === skip || Number.isNaN(xx)) continue
      heaps.offer(q, distance(metric, dots[at + b * rowStride]!, qq, xx), row)
    }
  }
}

/** offerBlock's Euclidean loop over a tile as it is (dots[a * xn + b]). */
function offerL2(heaps: TopKs, dots: Float32Array | Float64Array, queryNorms: Float64Array, q0: number, qn: number, rowNorms: Float64Array, x0: number, xn: number, skipOf: (q: number) => number): void {
  for (let a = 0; a < qn; a++) {
    const q = q0 + a
    const qq = queryNorms[q]!
    if (Number.isNaN(qq)) continue
    const skip = skipOf(q)
    const at = a * xn
    let limit = l2Limit(heaps.worst(q))
    for (let b = 0; b < xn; b++) {
      const s = qq + rowNorms[x0 + b]! - 2 * dots[at + b]!
      if (!(s <= limit)) continue // also drops a NaN row (s is NaN)
      const row = x0 + b
      if (row === skip) continue
      heaps.offer(q, Math.sqrt(Math.max(0, s)), row)
      limit = l2Limit(heaps.worst(q))
    }
  }
}

// Queries per strip of a transposed tile: 16 float32 dots are one cache line.
const STRIP = 16

/**
 * offerBlock's Euclidean loop over a transposed tile (dots[b * qn + a]), read row by row for a strip of queries at a
 * time: contiguous reads instead of a stride of a whole row per value (measured 2× faster for the tile's second half).
 */
function offerL2Transposed(heaps: TopKs, dots: Float32Array | Float64Array, queryNorms: Float64Array, q0: number, qn: number, rowNorms: Float64Array, x0: number, xn: number, skipOf: (q: number) => number): void {
  const limits = new Float64Array(STRIP)
  const norms = new Float64Array(STRIP)
  const skips = new Int32Array(STRIP)
  for (let a0 = 0; a0 < qn; a0 += STRIP) {
    const an = Math.min(STRIP, qn - a0)
    for (let a = 0; a < an; a++) {
      const q = q0 + a0 + a
      norms[a] = queryNorms[q]! // a NaN query norm makes every s NaN: no neighbours
      limits[a] = l2Limit(heaps.worst(q))
      skips[a] = skipOf(q)
    }
    for (let b = 0; b < xn; b++) {
      const xx = rowNorms[x0 + b]!
      const at = b * qn + a0
      for (let a = 0; a < an; a++) {
        const s = norms[a]! + xx - 2 * dots[at + a]!
        if (!(s <= limits[a]!)) continue
        const row = x0 + b
        if (row === skips[a]) continue
        const q = q0 + a0 + a
        heaps.offer(q, Math.sqrt(Math.max(0, s)), row)
        limits[a] = l2Limit(heaps.worst(q))
      }
    }
  }
}

/** The bound on s = ‖q‖² + ‖x‖² − 2 q·x above which √max(0, s) > worst (see offerBlock). */
const l2Limit = (worst: number): number => (worst === Infinity ? Infinity : Math.max(worst * worst * (1 + 1e-9), 1e-300))

/** One search's state: the queries' norms and their top-k heaps. */
class Search {
  readonly queryNorms: Float64Array
  readonly heaps: TopKs
  readonly skipOf: (q: number) => number

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
    const exclude = options.exclude
    if (exclude && exclude.length !== queryCount) throw new Error(`knn: exclude has ${exclude.length} entries for ${queryCount} queries`)
    this.skipOf = exclude ? (q) => exclude[q]! : () => -1
    this.queryNorms = new Float64Array(queryCount)
    squaredNormsOf(queries, queryCount, dim, this.queryNorms, 0)
    this.heaps = new TopKs(queryCount, k)
  }

  /** Offer rows [start, start + xn) to queries [q0, q0 + qn), given dots[i * xn + j] = q_{q0+i} · x_{start+j}. */
  offer(dots: Float64Array | Float32Array, q0: number, qn: number, start: number, xn: number): void {
    offerBlock(this.heaps, this.metric, dots, false, this.queryNorms, q0, qn, this.index.squaredNorms, start, xn, this.skipOf)
  }

  result(): KnnResult {
    return this.heaps.result()
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

// Self-kNN tiles: 2 048 × 2 048 products (16 MiB of float32) measured 2× the GFLOP/s of 1 024 × 20 000 (13.8 vs 6.6) on
// onnxruntime (50-d, load 4.7, 2 cores); rows of the two blocks are at most 4 Mi values each.
const SELF_BLOCK_ROWS = 2048

/**
 * selfNeighbours with the products on onnxruntime: the kNN graph of many rows (t-SNE) at matrix-product speed.
 * Distances are symmetric, so only the tiles on and above the diagonal are multiplied (half the products of all
 * pairs): tile (I, J) is offered to I's rows as it is and to J's rows transposed. Every query keeps its heap until the
 * end (k pairs a row: the size of the result). Same neighbours as selfNeighbours (the heaps' total order).
 */
export async function selfNeighboursAsync(
  data: Float32Array,
  count: number,
  dim: number,
  k: number,
  metric: Metric,
  options: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal; /** Rows per tile (tests); default up to 2 048. */ tileRows?: number } = {},
): Promise<KnnResult> {
  if (!Number.isInteger(k) || k < 1) throw new Error(`knn: k must be a whole number ≥ 1, not ${k}`)
  const index = knnIndex(data, count, dim)
  const norms = index.squaredNorms
  const heaps = new TopKs(count, k)
  const self = (q: number) => q
  const step = Math.max(1, options.tileRows ?? Math.min(SELF_BLOCK_ROWS, Math.floor(ORT_BLOCK_VALUES / Math.max(1, dim))))
  const block = (start: number, end: number) => ({ data: data.subarray(start * dim, end * dim), rows: end - start, cols: dim })
  const blocks = Math.ceil(count / step)
  const tiles = (blocks * (blocks + 1)) / 2
  let tilesDone = 0
  for (let i0 = 0; i0 < count; i0 += step) {
    const i1 = Math.min(count, i0 + step)
    for (let j0 = i0; j0 < count; j0 += step) {
      if (options.signal?.aborted) throw new ConvscopeError('CANCELLED', 'Cancelled by the user')
      const j1 = Math.min(count, j0 + step)
      const xn = j1 - j0
      const dots = (await gemm(block(i0, i1), block(j0, j1), { transB: true })).data
      offerBlock(heaps, metric, dots, false, norms, i0, i1 - i0, norms, j0, xn, self)
      if (j0 !== i0) offerBlock(heaps, metric, dots, true, norms, j0, xn, norms, i0, i1 - i0, self)
      tilesDone++
      options.onProgress?.(Math.min(count, Math.round((tilesDone / tiles) * count)), count)
    }
  }
  return heaps.result()
}
