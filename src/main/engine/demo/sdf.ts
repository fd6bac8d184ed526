/**
 * Signed distance functions in a shape's local frame (negative inside). Exact where cheap (disks,
 * polygons, strokes), a close approximation elsewhere (ellipses); the rasterizer only needs the sign
 * exactly and the magnitude near the edge, for anti-aliasing.
 */
import type { Shape } from './raster'

export type Point = readonly [number, number]

export function circle(r: number, cx = 0, cy = 0): Shape {
  return { sdf: (x, y) => Math.hypot(x - cx, y - cy) - r, radius: Math.hypot(cx, cy) + r }
}

/** Ellipse with semi-axes a (x) and b (y); Quilez's first-order approximation of the distance. */
export function ellipse(a: number, b: number): Shape {
  return {
    sdf: (x, y) => {
      const k0 = Math.hypot(x / a, y / b)
      const k1 = Math.hypot(x / (a * a), y / (b * b))
      return k1 === 0 ? -Math.min(a, b) : (k0 * (k0 - 1)) / k1
    },
    radius: Math.max(a, b),
  }
}

/** Points as coordinate arrays (fast inner loops), with the distance of the farthest from the origin. */
function unpackPoints(points: readonly Point[]): { n: number; xs: Float64Array; ys: Float64Array; radius: number } {
  const n = points.length
  const xs = new Float64Array(n)
  const ys = new Float64Array(n)
  let radius = 0
  for (let i = 0; i < n; i++) {
    xs[i] = points[i]![0]
    ys[i] = points[i]![1]
    radius = Math.max(radius, Math.hypot(xs[i]!, ys[i]!))
  }
  return { n, xs, ys, radius }
}

/** Simple polygon (either winding); exact distance, sign by the crossing rule (Quilez, sdPolygon). */
export function polygon(points: readonly Point[]): Shape {
  const { n, xs, ys, radius } = unpackPoints(points)
  return {
    radius,
    sdf: (x, y) => {
      let d = (x - xs[0]!) ** 2 + (y - ys[0]!) ** 2
      let sign = 1
      for (let i = 0, j = n - 1; i < n; j = i, i++) {
        const vix = xs[i]!
        const viy = ys[i]!
        const ex = xs[j]! - vix
        const ey = ys[j]! - viy
        const wx = x - vix
        const wy = y - viy
        const t = Math.min(1, Math.max(0, (wx * ex + wy * ey) / (ex * ex + ey * ey)))
        const bx = wx - ex * t
        const by = wy - ey * t
        d = Math.min(d, bx * bx + by * by)
        const c1 = y >= viy
        const c2 = y < ys[j]!
        const c3 = ex * wy > ey * wx
        if ((c1 && c2 && c3) || (!c1 && !c2 && !c3)) sign = -sign
      }
      return sign * Math.sqrt(d)
    },
  }
}

/** A stroke of half-width `halfWidth` along an open polyline, with round caps. */
export function stroke(points: readonly Point[], halfWidth: number): Shape {
  const { n, xs, ys, radius } = unpackPoints(points)
  return {
    radius: radius + halfWidth,
    sdf: (x, y) => {
      let d = Infinity
      for (let i = 1; i < n; i++) {
        const ax = xs[i - 1]!
        const ay = ys[i - 1]!
        const ex = xs[i]! - ax
        const ey = ys[i]! - ay
        const wx = x - ax
        const wy = y - ay
        const len2 = ex * ex + ey * ey
        const t = len2 === 0 ? 0 : Math.min(1, Math.max(0, (wx * ex + wy * ey) / len2))
        const bx = wx - ex * t
        const by = wy - ey * t
        const dd = bx * bx + by * by
        if (dd < d) d = dd
      }
      return Math.sqrt(d) - halfWidth
    },
  }
}

export function annulus(outer: number, inner: number): Shape {
  const mid = (outer + inner) / 2
  const half = (outer - inner) / 2
  return { sdf: (x, y) => Math.abs(Math.hypot(x, y) - mid) - half, radius: outer }
}

export function union(...shapes: Shape[]): Shape {
  return {
    sdf: (x, y) => {
      let d = Infinity
      for (const s of shapes) d = Math.min(d, s.sdf(x, y))
      return d
    },
    radius: Math.max(...shapes.map((s) => s.radius)),
  }
}

/** `a` with `b` cut out. */
export function subtract(a: Shape, b: Shape): Shape {
  return { sdf: (x, y) => Math.max(a.sdf(x, y), -b.sdf(x, y)), radius: a.radius }
}

/** The same shape moved by (dx, dy) in its frame. */
export function translate(s: Shape, dx: number, dy: number): Shape {
  return { sdf: (x, y) => s.sdf(x - dx, y - dy), radius: s.radius + Math.hypot(dx, dy) }
}

/** Points scaled so that the farthest lies at distance 1 from the origin, after centring on the bounding box. */
export function normalise(points: readonly Point[]): Point[] {
  let minX = Infinity
  let maxX = -Infinity
  let minY = Infinity
  let maxY = -Infinity
  for (const [x, y] of points) {
    minX = Math.min(minX, x)
    maxX = Math.max(maxX, x)
    minY = Math.min(minY, y)
    maxY = Math.max(maxY, y)
  }
  const cx = (minX + maxX) / 2
  const cy = (minY + maxY) / 2
  let r = 0
  for (const [x, y] of points) r = Math.max(r, Math.hypot(x - cx, y - cy))
  return points.map(([x, y]) => [(x - cx) / r, (y - cy) / r] as const)
}
