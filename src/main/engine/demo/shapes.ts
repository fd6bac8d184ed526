/**
 * Shape families of the demo dataset. Each draws one instance in a frame where the shape fits the unit
 * disk (radius ≤ 1), so a placement's scale is the object's radius in pixels. `pxPerUnit` lets a family
 * keep thin parts (strokes, ring walls) at least a couple of pixels wide on small objects.
 */
import { periodicNoise } from './noise'
import type { Shape } from './raster'
import type { Rng } from '../rng'
import { annulus, circle, ellipse, normalise, polygon, stroke, subtract, union, type Point } from './sdf'

export type ShapeFamily =
  | 'triangle'
  | 'disk'
  | 'square'
  | 'cross'
  | 'hexagon'
  | 'star'
  | 'ring'
  | 'crescent'
  | 'heart'
  | 'arrow'
  | 'spiral'
  | 'spikyBlob'
  // Used only for distractors:
  | 'pentagon'
  | 'rectangle'
  | 'diamond'
  | 'smoothBlob'
  | 'semicircle'
  | 'trapezoid'

export type ShapeMaker = (rng: Rng, pxPerUnit: number) => Shape

function regular(n: number, phase: number, radius = 1): Point[] {
  const pts: Point[] = []
  for (let i = 0; i < n; i++) {
    const a = phase + (2 * Math.PI * i) / n
    pts.push([radius * Math.cos(a), radius * Math.sin(a)])
  }
  return pts
}

/** Points of a closed outline r(θ), θ sampled `n` times. */
function radial(n: number, r: (t: number, i: number) => number): Point[] {
  const pts: Point[] = []
  for (let i = 0; i < n; i++) {
    const t = i / n
    const a = 2 * Math.PI * t
    const rr = r(t, i)
    pts.push([rr * Math.cos(a), rr * Math.sin(a)])
  }
  return pts
}

export const SHAPES: Record<ShapeFamily, ShapeMaker> = {
  triangle: (rng) => {
    // Vertices near 90°, 210°, 330°, jittered so the triangles vary but no angle is needle-thin.
    const pts = [0, 1, 2].map((i): Point => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / 3 + rng.uniform(-0.3, 0.3)
      const r = rng.uniform(0.85, 1)
      return [r * Math.cos(a), r * Math.sin(a)]
    })
    return polygon(normalise(pts))
  },
  disk: (rng) => {
    const b = rng.uniform(0.8, 1)
    return ellipse(1, b)
  },
  square: (rng) => centredRectangle(rng.uniform(0.85, 1)),
  cross: (rng) => {
    // Arms clearly narrower than long, so a checkered cross is not a checkered square with bitten corners.
    const w = rng.uniform(0.2, 0.28)
    const l = Math.sqrt(1 - w * w)
    const bar = (a: number, b: number): Point[] => [
      [-a, -b],
      [a, -b],
      [a, b],
      [-a, b],
    ]
    return union(polygon(bar(l, w)), polygon(bar(w, l)))
  },
  hexagon: (rng) => polygon(regular(6, rng.uniform(0, Math.PI / 3))),
  star: (rng) => {
    const points = rng.chance(0.75) ? 5 : 6
    const inner = rng.uniform(0.38, 0.52)
    const pts: Point[] = []
    for (let i = 0; i < 2 * points; i++) {
      const a = -Math.PI / 2 + (Math.PI * i) / points
      const r = i % 2 === 0 ? 1 : inner
      pts.push([r * Math.cos(a), r * Math.sin(a)])
    }
    return polygon(pts)
  },
  ring: (rng, px) => {
    const wall = Math.max(rng.uniform(0.25, 0.42), 2.5 / px)
    return annulus(1, 1 - Math.min(wall, 0.6))
  },
  crescent: (rng) => {
    const r2 = rng.uniform(0.78, 0.92)
    const off = rng.uniform(0.35, 0.55)
    return subtract(circle(1), circle(r2, off, rng.uniform(-0.1, 0.1)))
  },
  heart: (rng) => {
    const pts: Point[] = []
    const fat = rng.uniform(0.9, 1.1)
    for (let i = 0; i < 72; i++) {
      const t = (2 * Math.PI * i) / 72
      const x = 16 * Math.sin(t) ** 3 * fat
      const y = -(13 * Math.cos(t) - 5 * Math.cos(2 * t) - 2 * Math.cos(3 * t) - Math.cos(4 * t))
      pts.push([x, y])
    }
    return polygon(normalise(pts))
  },
  arrow: (rng) => {
    const shaft = rng.uniform(0.22, 0.3)
    const headW = rng.uniform(0.55, 0.72)
    const headL = rng.uniform(0.65, 0.9)
    const tail = 1
    const pts: Point[] = [
      [-tail, -shaft],
      [1 - headL, -shaft],
      [1 - headL, -headW],
      [1, 0],
      [1 - headL, headW],
      [1 - headL, shaft],
      [-tail, shaft],
    ]
    return polygon(normalise(pts))
  },
  spiral: (rng, px) => {
    const turns = rng.uniform(2, 2.8)
    const half = Math.max(rng.uniform(0.055, 0.075), 1.1 / px)
    const r0 = rng.uniform(0.02, 0.1)
    const dir = rng.chance(0.5) ? 1 : -1
    const pts: Point[] = []
    const steps = Math.ceil(turns * 48)
    for (let i = 0; i <= steps; i++) {
      const t = i / steps
      const a = dir * 2 * Math.PI * turns * t
      const r = r0 + (1 - half - r0) * t
      pts.push([r * Math.cos(a), r * Math.sin(a)])
    }
    return stroke(pts, half)
  },
  spikyBlob: (rng) => {
    const seed = rng.seed32()
    const teeth = rng.intIn(12, 18)
    const depth = rng.uniform(0.18, 0.28)
    const pts = radial(teeth * 2, (t, i) => (0.75 + 0.25 * periodicNoise(seed, t, 5)) * (i % 2 === 0 ? 1 : 1 - depth))
    return polygon(normalise(pts))
  },
  pentagon: (rng) => polygon(regular(5, rng.uniform(0, 2 * Math.PI))),
  rectangle: (rng) => centredRectangle(rng.uniform(0.3, 0.6)),
  diamond: (rng) => {
    const w = rng.uniform(0.45, 0.7)
    return polygon([
      [0, -1],
      [w, 0],
      [0, 1],
      [-w, 0],
    ])
  },
  smoothBlob: (rng) => {
    const seed = rng.seed32()
    return polygon(normalise(radial(48, (t) => 0.6 + 0.4 * periodicNoise(seed, t, 4))))
  },
  semicircle: () => {
    const pts: Point[] = []
    for (let i = 0; i <= 32; i++) {
      const a = Math.PI * (i / 32)
      pts.push([Math.cos(a), Math.sin(a)])
    }
    return polygon(normalise(pts))
  },
  trapezoid: (rng) => {
    const top = rng.uniform(0.3, 0.6)
    return polygon(
      normalise([
        [-1, 0.6],
        [1, 0.6],
        [top, -0.6],
        [-top, -0.6],
      ]),
    )
  },
}

/** A rectangle of aspect `h` (height / width) centred on the origin, its corners on the unit circle. */
function centredRectangle(h: number): Shape {
  const s = 1 / Math.hypot(1, h)
  return polygon([
    [-s, -s * h],
    [s, -s * h],
    [s, s * h],
    [-s, s * h],
  ])
}
