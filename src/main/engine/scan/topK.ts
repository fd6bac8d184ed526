/**
 * Per-unit top-K of dataset maxima: for each unit (channel) of a layer, the K best (value, image, y, x),
 * Girshick et al. 2014, "top regions for pool5 units".
 *
 * Entries are kept in one total, deterministic order: value descending, then image index, y, x ascending.
 * Because the order is total, "the K first of a set" does not depend on how the set was split, so merging
 * is associative, commutative and exact: topK(A ∪ B) = merge(topK(A), topK(B)) for any sharding.
 * Values are rounded to float32 on the way in (they are stored as float32), so comparisons here and after a
 * round trip through .npy agree. NaN values are ignored. Empty slots hold value -Infinity and image -1 and
 * sort after every real entry.
 */

export interface TopK {
  units: number
  k: number
  /** [units, k] float32, descending per unit. */
  values: Float32Array
  /** [units, k] image indices; -1 in empty slots. */
  images: Int32Array
  /** [units, k, 2] (y, x) of the maximum; -1 in empty slots. */
  yx: Int32Array
}

export function emptyTopK(units: number, k: number): TopK {
  if (!Number.isInteger(units) || units < 0) throw new Error(`top-K needs a whole number of units, got ${units}`)
  if (!Number.isInteger(k) || k < 1) throw new Error(`top-K needs k ≥ 1, got ${k}`)
  return {
    units,
    k,
    values: new Float32Array(units * k).fill(-Infinity),
    images: new Int32Array(units * k).fill(-1),
    yx: new Int32Array(units * k * 2).fill(-1),
  }
}

/** Whether entry a = (va, ia, ya, xa) comes before b in the total order. Empty slots (image -1) come last. */
export function entryBefore(va: number, ia: number, ya: number, xa: number, vb: number, ib: number, yb: number, xb: number): boolean {
  if (ib < 0) return ia >= 0
  if (ia < 0) return false
  if (va !== vb) return va > vb
  if (ia !== ib) return ia < ib
  if (ya !== yb) return ya < yb
  return xa < xb
}

/** Offer one candidate to a unit; kept only if it is among the K first. */
export function offer(top: TopK, unit: number, value: number, image: number, y: number, x: number): void {
  if (Number.isNaN(value) || image < 0) return
  const v = Math.fround(value)
  const { k, values, images, yx } = top
  const base = unit * k
  const last = base + k - 1
  // Quick reject against the current K-th entry.
  if (!entryBefore(v, image, y, x, values[last]!, images[last]!, yx[2 * last]!, yx[2 * last + 1]!)) return
  let pos = last
  while (pos > base && entryBefore(v, image, y, x, values[pos - 1]!, images[pos - 1]!, yx[2 * (pos - 1)]!, yx[2 * (pos - 1) + 1]!)) {
    values[pos] = values[pos - 1]!
    images[pos] = images[pos - 1]!
    yx[2 * pos] = yx[2 * (pos - 1)]!
    yx[2 * pos + 1] = yx[2 * (pos - 1) + 1]!
    pos--
  }
  values[pos] = v
  images[pos] = image
  yx[2 * pos] = y
  yx[2 * pos + 1] = x
}

/** Offer a batch: maxima [n, units] with flat argmax [n, units] over a map of `width` columns, images[i] the index of row i. */
export function offerBatch(top: TopK, maxima: ArrayLike<number>, argmax: ArrayLike<number>, width: number, imageIndices: readonly number[]): void {
  const { units } = top
  for (let i = 0; i < imageIndices.length; i++) {
    const image = imageIndices[i]!
    for (let u = 0; u < units; u++) {
      const flat = argmax[i * units + u]!
      offer(top, u, maxima[i * units + u]!, image, Math.floor(flat / width), flat % width)
    }
  }
}

/** Fold `other` into `into` (same units and k). */
export function mergeInto(into: TopK, other: TopK): TopK {
  if (into.units !== other.units || into.k !== other.k) {
    throw new Error(`cannot merge top-K of ${other.units} units × ${other.k} into ${into.units} units × ${into.k}`)
  }
  const { k } = other
  for (let u = 0; u < other.units; u++) {
    for (let j = 0; j < k; j++) {
      const p = u * k + j
      if (other.images[p]! < 0) break
      offer(into, u, other.values[p]!, other.images[p]!, other.yx[2 * p]!, other.yx[2 * p + 1]!)
    }
  }
  return into
}

/** merge(A, B) as a new top-K; neither argument changes. */
export function topKMerge(a: TopK, b: TopK): TopK {
  return mergeInto(cloneTopK(a), b)
}

export function cloneTopK(t: TopK): TopK {
  return { units: t.units, k: t.k, values: t.values.slice(), images: t.images.slice(), yx: t.yx.slice() }
}

/** Wrap stored arrays (e.g. read back from .npy) as a top-K, checking their sizes. */
export function topKFromArrays(units: number, k: number, values: Float32Array, images: Int32Array, yx: Int32Array): TopK {
  if (values.length !== units * k || images.length !== units * k || yx.length !== units * k * 2) {
    throw new Error(`top-K arrays do not match ${units} units × ${k}`)
  }
  return { units, k, values, images, yx }
}
