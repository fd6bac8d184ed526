/**
 * How a pan moves the points of a plot: the pixel shift between two views of the same axes, and the clip that keeps a
 * moved canvas inside the plot area (lib/glPanByTransform.ts moves plotly's WebGL frame by them during a drag). No
 * DOM: test/unit/panShift.test.ts runs it under node.
 */

/** A drag that moves the view by less than this fraction of a span is still a pan (float rounding of plotly's ranges). */
const SAME_SPAN = 1e-9

/** An axis's range as plotly keeps it: [start, end] in linearised units, its length and offset in CSS px. */
export interface AxisView {
  range: readonly [number, number]
  length: number
  offset: number
}

/**
 * The pixel shift of every point from view `from` to view `to` of the same axes, or null when the spans differ
 * (a zoom) or nothing moved. x grows to the right from range[0]; y grows downwards from range[1] (plotly's l2p).
 */
export function panShift(from: { x: AxisView; y: AxisView }, to: { x: AxisView; y: AxisView }): { dx: number; dy: number } | null {
  const spanX = from.x.range[1] - from.x.range[0]
  const spanY = from.y.range[1] - from.y.range[0]
  const sameSpan = (a: AxisView, b: AxisView, span: number) => Math.abs(b.range[1] - b.range[0] - span) <= SAME_SPAN * Math.abs(span) && a.length === b.length && a.offset === b.offset
  if (!(spanX && spanY) || !sameSpan(from.x, to.x, spanX) || !sameSpan(from.y, to.y, spanY)) return null
  const dx = ((from.x.range[0] - to.x.range[0]) / spanX) * to.x.length
  const dy = ((to.y.range[1] - from.y.range[1]) / spanY) * to.y.length
  return dx === 0 && dy === 0 ? null : { dx, dy }
}

/** The CSS `clip-path` that shows the plot area of a canvas of `width` × `height` px translated by (dx, dy). */
export function plotClip(x: AxisView, y: AxisView, width: number, height: number, dx: number, dy: number): string {
  const top = y.offset - dy
  const left = x.offset - dx
  const bottom = height - (y.offset + y.length) + dy
  const right = width - (x.offset + x.length) + dx
  return `inset(${top}px ${right}px ${bottom}px ${left}px)`
}
