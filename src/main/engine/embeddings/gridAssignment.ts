/**
 * The cnnembed image grid's "proper assignment" (Karpathy's cnnembed; issue 13): the 2-D map scaled onto the
 * grid's cell centres (min-max per axis), then each cell given a distinct point so that the sum of squared
 * distances between cells and their points is minimal — a rectangular linear sum assignment. More points than
 * cells: the optimum picks which points are shown; fewer: some cells stay empty (-1).
 *
 * Solved by the shortest augmenting path method of Jonker–Volgenant as Crouse (2016, "On implementing 2D
 * rectangular assignment algorithms", IEEE TAES 52(4)) writes it, the algorithm of scipy's
 * linear_sum_assignment: one Dijkstra search in reduced costs per row of the smaller side, so 400 cells over
 * 50 000 points cost 400 searches over 50 000 columns, never a padded 50 000² problem. Costs are computed from
 * the coordinates on the fly (float64), so memory is O(points + cells), not a cost matrix.
 * Hand-written because the npm solvers measured too slow on a 40×40 grid of 1 600 points in 10 clusters (load
 * 8.6-11): munkres 2.0.4 5.1 s, linear-sum-assignment 1.0.9 (the same algorithm over ml-matrix and plain arrays)
 * 14.0 s and 76 s at 50×50, where this file took 3.0 s and 12.3 s; both need the whole cost matrix as nested
 * arrays. bench/grid.ts: 1.4-3.2× the time of scipy's C++ on the same problems, equal costs.
 */
import { ConvscopeError } from '../../../shared/api'
import { throwIfCancelled, type JobContext } from '../context'

export interface GridAssignment {
  cols: number
  rows: number
  /** Row-major, one per cell: the index of the point shown there, -1 for an empty cell. */
  cells: Int32Array
  /** Sum over filled cells of the squared distance (in cell sides) between the cell's centre and its point. */
  cost: number
}

/**
 * The points (n × 2, row-major) scaled per axis from their [min, max] onto the cell centres: x onto 0.5 …
 * cols − 0.5, y onto rows − 0.5 … 0.5 (the map's top, largest y, is the grid's first row). An axis with one
 * value lands on the middle. In cell sides, the unit of the grid's cost.
 */
export function scaleToGrid(points: Float32Array | Float64Array, cols: number, rows: number): Float64Array {
  const n = points.length / 2
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity]
  for (let i = 0; i < n; i++) {
    const x = points[2 * i]!
    const y = points[2 * i + 1]!
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new ConvscopeError('BAD_REQUEST', `point ${i} of the grid is not finite (${x}, ${y})`)
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y)
  }
  const out = new Float64Array(2 * n)
  for (let i = 0; i < n; i++) {
    out[2 * i] = x1 > x0 ? 0.5 + ((points[2 * i]! - x0) / (x1 - x0)) * (cols - 1) : cols / 2
    out[2 * i + 1] = y1 > y0 ? 0.5 + ((y1 - points[2 * i + 1]!) / (y1 - y0)) * (rows - 1) : rows / 2
  }
  return out
}

/** Centres of a cols × rows grid, row-major, in cell sides: cell k at (k % cols + 0.5, ⌊k / cols⌋ + 0.5). */
export function cellCentres(cols: number, rows: number): Float64Array {
  const out = new Float64Array(2 * cols * rows)
  for (let k = 0; k < cols * rows; k++) {
    out[2 * k] = (k % cols) + 0.5
    out[2 * k + 1] = Math.floor(k / cols) + 0.5
  }
  return out
}

/** Time between yields to the event loop (progress, cancel) while solving. */
const YIELD_MS = 100

/**
 * Minimum-cost assignment between two point sets A (a × 2) and B (b × 2), cost = squared Euclidean distance:
 * every point of the smaller set gets a distinct point of the larger. Returns for each point of A its partner
 * in B (-1 when A is the larger set and it is left out) and the total cost.
 */
export async function assignSquaredDistances(a: Float64Array, b: Float64Array, ctx?: JobContext): Promise<{ partner: Int32Array; cost: number }> {
  const na = a.length / 2
  const nb = b.length / 2
  const flip = na > nb
  const [rowXY, colXY] = flip ? [b, a] : [a, b]
  const nr = Math.min(na, nb)
  const nc = Math.max(na, nb)
  const rx = new Float64Array(nr), ry = new Float64Array(nr), cx = new Float64Array(nc), cy = new Float64Array(nc)
  for (let i = 0; i < nr; i++) { rx[i] = rowXY[2 * i]!; ry[i] = rowXY[2 * i + 1]! }
  for (let j = 0; j < nc; j++) { cx[j] = colXY[2 * j]!; cy[j] = colXY[2 * j + 1]! }

  const u = new Float64Array(nr) // row duals
  const v = new Float64Array(nc) // column duals
  const col4row = new Int32Array(nr).fill(-1)
  const row4col = new Int32Array(nc).fill(-1)
  const shortest = new Float64Array(nc) // of scanned columns, after a search
  const path = new Int32Array(nc) // the row a scanned column was reached from
  const scanned = new Int32Array(nc)
  const visitedRows = new Int32Array(nr)
  // The columns not scanned yet in a search, packed (swap-removed together) so the inner loop reads memory in order.
  const remCol = new Int32Array(nc)
  const remX = new Float64Array(nc)
  const remY = new Float64Array(nc)
  const remV = new Float64Array(nc)
  const remShortest = new Float64Array(nc)
  const remPath = new Int32Array(nc)
  const remFree = new Uint8Array(nc)
  let lastYield = performance.now()

  // Row reduction (Jonker–Volgenant's initialisation): u[i] = min_j c(i, j), v = 0 keep every reduced cost ≥ 0
  // and free columns at v = 0 (the rectangular optimality conditions), so a row whose nearest column is still
  // free takes it now and needs no search. (Their augmenting row reduction, tried too, made the 50 × 50 grid
  // 10× slower: rows displace each other by tiny decrements on these near-tied costs.)
  for (let i = 0; i < nr; i++) {
    let best = Infinity
    let arg = -1
    for (let j = 0; j < nc; j++) {
      const dx = rx[i]! - cx[j]!
      const dy = ry[i]! - cy[j]!
      const d = dx * dx + dy * dy
      if (d < best) {
        best = d
        arg = j
      }
    }
    u[i] = best
    if (row4col[arg] === -1) {
      row4col[arg] = i
      col4row[i] = arg
    }
  }

  for (let cur = 0; cur < nr; cur++) {
    if (col4row[cur] !== -1) continue
    if (ctx && performance.now() - lastYield > YIELD_MS) {
      await new Promise((resolve) => setImmediate(resolve))
      throwIfCancelled(ctx)
      ctx.progress({ done: cur, total: nr, unit: 'cells', message: 'assigning images to cells' })
      lastYield = performance.now()
    }
    // Dijkstra from row `cur` over reduced costs c(i, j) − u[i] − v[j] until an unassigned column is reached.
    for (let j = 0; j < nc; j++) {
      remCol[j] = j
      remX[j] = cx[j]!
      remY[j] = cy[j]!
      remV[j] = v[j]!
      remShortest[j] = Infinity
      remFree[j] = row4col[j] === -1 ? 1 : 0
    }
    let left = nc
    let visited = 0
    let done = 0
    let minVal = 0
    let i = cur
    let sink = -1
    while (sink === -1) {
      visitedRows[visited++] = i
      let lowest = Infinity
      let index = -1
      const xi = rx[i]!, yi = ry[i]!, base = minVal - u[i]!
      for (let it = 0; it < left; it++) {
        const dx = xi - remX[it]!
        const dy = yi - remY[it]!
        const r = base + dx * dx + dy * dy - remV[it]!
        let sp = remShortest[it]!
        if (r < sp) {
          remPath[it] = i
          remShortest[it] = sp = r
        }
        // Ties go to an unassigned column: the path ends sooner (scipy does the same).
        if (sp < lowest || (sp === lowest && remFree[it] === 1)) {
          lowest = sp
          index = it
        }
      }
      minVal = lowest
      const j = remCol[index]!
      shortest[j] = lowest
      path[j] = remPath[index]!
      scanned[done++] = j
      const last = --left
      remCol[index] = remCol[last]!
      remX[index] = remX[last]!
      remY[index] = remY[last]!
      remV[index] = remV[last]!
      remShortest[index] = remShortest[last]!
      remPath[index] = remPath[last]!
      remFree[index] = remFree[last]!
      if (row4col[j] === -1) sink = j
      else i = row4col[j]!
    }
    // Update the duals so that reduced costs stay ≥ 0 and are 0 along the assignment, then augment.
    u[cur] += minVal
    for (let k = 1; k < visited; k++) {
      const r = visitedRows[k]!
      u[r] += minVal - shortest[col4row[r]!]!
    }
    for (let k = 0; k < done; k++) {
      const j = scanned[k]!
      v[j] -= minVal - shortest[j]!
    }
    for (let j = sink; ; ) {
      const r = path[j]!
      row4col[j] = r
      const previous = col4row[r]!
      col4row[r] = j
      j = previous
      if (r === cur) break
    }
  }

  let cost = 0
  for (let r = 0; r < nr; r++) {
    const dx = rx[r]! - cx[col4row[r]!]!
    const dy = ry[r]! - cy[col4row[r]!]!
    cost += dx * dx + dy * dy
  }
  return { partner: flip ? row4col : col4row, cost }
}

/** The grid of `points` (n × 2 map coordinates, all finite): cell → point index, optimal for the squared distances. */
export async function assignGrid(points: Float32Array | Float64Array, cols: number, rows: number, ctx?: JobContext): Promise<GridAssignment> {
  if (!(Number.isInteger(cols) && Number.isInteger(rows) && cols >= 1 && rows >= 1)) throw new ConvscopeError('BAD_REQUEST', `a grid needs whole cols and rows ≥ 1, not ${cols} × ${rows}`)
  if (points.length % 2 !== 0) throw new ConvscopeError('BAD_REQUEST', 'grid points must be n × 2 (x, y pairs)')
  const { partner, cost } = await assignSquaredDistances(cellCentres(cols, rows), scaleToGrid(points, cols, rows), ctx)
  return { cols, rows, cells: partner, cost }
}
