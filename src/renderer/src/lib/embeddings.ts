/**
 * What the Embeddings view draws, worked out from an embedding's points (issue 13): the points split into
 * groups (one scattergl trace each: a class, a predicted class, or a unit's values), the rows of the
 * selected class, a projection's default settings. Plain typed-array loops (50 000 points take a few ms), no
 * DOM, so this runs under node in test/unit/embeddingsView.test.ts.
 */
// Relative imports: test/unit/embeddingsView.test.ts runs this under node.
import type { CodeImage, ProjectionInfo, ProjectionParams } from '../../../shared/api'
import { labelColours, UNLABELLED_COLOUR } from '../../../shared/classPalette'

/** Points of one trace: their rows of the codes folder and their map coordinates (first two output dimensions). */
export interface PointGroup {
  key: string
  label: string
  colour: string
  rows: Int32Array
  x: Float32Array
  y: Float32Array
  /** The colouring value of each point (a unit's activation), when coloured by value. */
  values?: Float32Array
}

export type ColourBy = 'class' | 'predicted' | 'unit'

/** Whether row `r` of `points` ([count, dims]) has a finite place on the map (unreadable images are NaN). */
const placed = (points: Float32Array, dims: number, r: number): boolean => Number.isFinite(points[r * dims]!) && Number.isFinite(points[r * dims + 1]!)

/** The rows of `points` whose group `groupOf(row)` is each of `labels` (index into it; -1 leaves the row out). */
export function splitPoints(points: Float32Array, dims: number, groupOf: (row: number) => number, labels: { key: string; label: string; colour: string }[]): PointGroup[] {
  const count = Math.floor(points.length / dims)
  const of = new Int32Array(count)
  const sizes = new Int32Array(labels.length)
  for (let r = 0; r < count; r++) {
    const g = placed(points, dims, r) ? groupOf(r) : -1
    of[r] = g
    if (g >= 0) sizes[g]!++
  }
  const groups = labels.map((l, g) => ({ ...l, rows: new Int32Array(sizes[g]!), x: new Float32Array(sizes[g]!), y: new Float32Array(sizes[g]!) }))
  const filled = new Int32Array(labels.length)
  for (let r = 0; r < count; r++) {
    const g = of[r]!
    if (g < 0) continue
    const group = groups[g]!
    const i = filled[g]!++
    group.rows[i] = r
    group.x[i] = points[r * dims]!
    group.y[i] = points[r * dims + 1]!
  }
  return groups.filter((g) => g.rows.length > 0)
}

/** One group per distinct key (sorted, numbers in numeric order; null last, grey), coloured as the map PNGs colour them (shared/classPalette). */
export function groupByKey(points: Float32Array, dims: number, keyOf: (row: number) => string | null, nullLabel = 'no label'): PointGroup[] {
  const count = Math.floor(points.length / dims)
  const rowKeys: (string | null)[] = new Array(count)
  for (let r = 0; r < count; r++) rowKeys[r] = keyOf(r)
  const colourOf = labelColours(rowKeys)
  const sorted = [...new Set(rowKeys)].sort((a, b) => (a === null ? 1 : b === null ? -1 : a.localeCompare(b, 'en', { numeric: true })))
  const index = new Map(sorted.map((k, i) => [k, i]))
  const labels = sorted.map((key) => ({ key: key ?? '', label: key ?? nullLabel, colour: colourOf(key) }))
  return splitPoints(points, dims, (r) => index.get(rowKeys[r] ?? null)!, labels)
}

/** An image's true class (its class folder) or its predicted class, as a map groups it (null: none). */
export const classKey = (image: CodeImage | undefined): string | null => image?.className ?? null
export const predictedKey = (image: CodeImage | undefined): string | null =>
  image?.predictedLabel ?? (image?.predicted === null || image?.predicted === undefined ? null : `class ${image.predicted}`)

/** The map's points coloured by a unit's per-image values: one trace with the values, one grey trace of the images without one. */
export function groupByValue(points: Float32Array, dims: number, values: Float32Array, valueLabel: string): PointGroup[] {
  const labels = [
    { key: 'value', label: valueLabel, colour: '#2f62c9' },
    { key: 'none', label: 'no value (not scanned)', colour: UNLABELLED_COLOUR },
  ]
  const groups = splitPoints(points, dims, (r) => (Number.isFinite(values[r]!) ? 0 : 1), labels)
  for (const g of groups) if (g.key === 'value') g.values = Float32Array.from(g.rows, (r) => values[r]!)
  return groups
}

/** Rows for which `test(row)` holds and that have a place on the map. */
export function rowsWhere(points: Float32Array, dims: number, test: (row: number) => boolean): Int32Array {
  const count = Math.floor(points.length / dims)
  const out: number[] = []
  for (let r = 0; r < count; r++) if (placed(points, dims, r) && test(r)) out.push(r)
  return Int32Array.from(out)
}

/** The map coordinates of some rows (an overlay trace: the selected class, a query's neighbours). */
export function coordinatesOf(points: Float32Array, dims: number, rows: ArrayLike<number>): { x: Float32Array; y: Float32Array } {
  const x = new Float32Array(rows.length)
  const y = new Float32Array(rows.length)
  for (let i = 0; i < rows.length; i++) {
    x[i] = points[rows[i]! * dims]!
    y[i] = points[rows[i]! * dims + 1]!
  }
  return { x, y }
}

/** A projection's settings as it runs them when none are given. */
export const defaultParams = (info: ProjectionInfo): ProjectionParams => Object.fromEntries(info.params.map((p) => [p.name, p.default]))

/** "t-SNE · perplexity 30, iterations 500": the settings that differ from the defaults are what names a map. */
export function describeParams(info: ProjectionInfo, params: ProjectionParams): string {
  const shown = info.params.filter((p) => params[p.name] !== undefined && params[p.name] !== p.default).map((p) => `${p.label.toLowerCase()} ${params[p.name]}`)
  return shown.length ? `${info.label} · ${shown.join(', ')}` : info.label
}

/** The rows of a model class: images whose class folder holds it (stores/classMaps' folder mapping), else those predicted as it when no folder maps. */
export function classRows(points: Float32Array, dims: number, images: CodeImage[], classIndex: number, folderClasses: Map<string, number | null>): Int32Array {
  const byFolder = images.some((im) => im.className !== null && folderClasses.has(im.className))
  return rowsWhere(points, dims, (r) => {
    const im = images[r]
    if (!im) return false
    return byFolder ? im.className !== null && folderClasses.get(im.className) === classIndex : im.predicted === classIndex
  })
}
