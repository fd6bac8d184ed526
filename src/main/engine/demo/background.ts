/**
 * Cluttered backgrounds: smooth colour clouds and gradients, a textured region, camouflage blotches,
 * stray strokes and small shapes whose shape × pattern pair is never a class. They give the network
 * (and the interpretability methods) something to be fooled by.
 */
import { contrastingColour, hsv, mix, type Rgb } from './color'
import { isClassCombination } from './classes'
import { fbm } from './noise'
import { makePattern, patternShader, type PatternFamily } from './patterns'
import { paintShape, solidShader, type Canvas } from './raster'
import type { Rng } from '../rng'
import { stroke, type Point } from './sdf'
import { SHAPES, type ShapeFamily } from './shapes'

const DISTRACTOR_SHAPES: readonly ShapeFamily[] = [
  'triangle', 'disk', 'square', 'cross', 'hexagon', 'star', 'ring', 'crescent', 'heart', 'arrow', 'spikyBlob',
  'pentagon', 'rectangle', 'diamond', 'smoothBlob', 'semicircle', 'trapezoid',
]
const DISTRACTOR_PATTERNS: readonly PatternFamily[] = ['solid', 'stripes', 'dots', 'checker', 'grid', 'chevrons', 'speckle', 'rings', 'gradient']
const TEXTURES: readonly PatternFamily[] = ['stripes', 'dots', 'checker', 'grid', 'chevrons', 'speckle', 'rings']

/** Every shape × pattern pair that is not a class: the vocabulary of distractors. */
export const DISTRACTOR_COMBINATIONS: readonly (readonly [ShapeFamily, PatternFamily])[] = DISTRACTOR_SHAPES.flatMap((s) =>
  DISTRACTOR_PATTERNS.filter((p) => !isClassCombination(s, p)).map((p) => [s, p] as const),
)

function mutedColour(rng: Rng): Rgb {
  return hsv(rng.uniform(0, 360), rng.uniform(0, 0.65), rng.uniform(0.12, 0.95))
}

/** Fills the canvas with a smooth two-colour cloud, a gradient, and maybe a texture and blotches. */
export function paintBackdrop(canvas: Canvas, rng: Rng): void {
  const { width, height, rgb } = canvas
  const side = Math.max(width, height)
  const c1 = mutedColour(rng)
  const c2 = rng.chance(0.5) ? mutedColour(rng) : hsv(rng.uniform(0, 360), rng.uniform(0, 0.5), rng.uniform(0.1, 0.9))
  const c3 = mutedColour(rng)
  const cloudSeed = rng.seed32()
  const cloudScale = side * rng.uniform(0.15, 0.6)
  const cloudContrast = rng.uniform(0.6, 2)
  const gAngle = rng.uniform(0, 2 * Math.PI)
  const gx = Math.cos(gAngle) / side
  const gy = Math.sin(gAngle) / side
  const gStrength = rng.uniform(0, 0.6)

  const textured = rng.chance(0.5)
  const texture = textured ? makePattern(rng.pick(TEXTURES), rng, side * rng.uniform(0.035, 0.13)) : null
  const textureInk = contrastingColour(rng, c1, rng.uniform(0.1, 0.35))
  const textureAlpha = rng.uniform(0.12, 0.45)
  const textureEverywhere = rng.chance(0.3)
  const regionSeed = rng.seed32()
  const regionScale = side * rng.uniform(0.25, 0.6)
  const regionThreshold = rng.uniform(0.4, 0.6)

  const blotched = rng.chance(0.45)
  const blotchSeed = rng.seed32()
  const blotchScale = side * rng.uniform(0.06, 0.2)
  const blotchColour = mutedColour(rng)
  const blotchAlpha = rng.uniform(0.3, 0.85)
  const blotchThreshold = rng.uniform(0.5, 0.65)

  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const n = fbm(cloudSeed, x / cloudScale, y / cloudScale, 4)
      let c = mix(c1, c2, Math.min(1, Math.max(0, 0.5 + (n - 0.5) * 2 * cloudContrast)))
      const g = (x - width / 2) * gx + (y - height / 2) * gy + 0.5
      c = mix(c, c3, Math.min(1, Math.max(0, g)) * gStrength)
      if (texture) {
        const region = textureEverywhere ? 1 : Math.min(1, Math.max(0, (fbm(regionSeed, x / regionScale, y / regionScale, 2) - regionThreshold) * 8))
        if (region > 0) c = mix(c, textureInk, texture(x + 0.5, y + 0.5, 1) * textureAlpha * region)
      }
      if (blotched) {
        const b = fbm(blotchSeed, x / blotchScale, y / blotchScale, 3)
        const t = Math.min(1, Math.max(0, (b - blotchThreshold) * 12))
        if (t > 0) c = mix(c, blotchColour, t * blotchAlpha)
      }
      const i = (y * width + x) * 3
      rgb[i] = c[0]
      rgb[i + 1] = c[1]
      rgb[i + 2] = c[2]
    }
  }
}

/** A smooth random curve (cubic Bézier) painted as a stroke: twigs, scribbles, cables. */
export function paintStrokeDistractor(canvas: Canvas, rng: Rng): void {
  const side = Math.max(canvas.width, canvas.height)
  const p: Point[] = []
  const x0 = rng.uniform(-0.1, 1.1) * canvas.width
  const y0 = rng.uniform(-0.1, 1.1) * canvas.height
  const reach = side * rng.uniform(0.15, 0.7)
  p.push([x0, y0])
  for (let k = 0; k < 3; k++) {
    const [px, py] = p[p.length - 1]!
    const a = rng.uniform(0, 2 * Math.PI)
    p.push([px + (Math.cos(a) * reach) / 2, py + (Math.sin(a) * reach) / 2])
  }
  const pts: Point[] = []
  const steps = 24
  for (let i = 0; i <= steps; i++) {
    const t = i / steps
    const u = 1 - t
    const b0 = u * u * u
    const b1 = 3 * u * u * t
    const b2 = 3 * u * t * t
    const b3 = t * t * t
    pts.push([b0 * p[0]![0] + b1 * p[1]![0] + b2 * p[2]![0] + b3 * p[3]![0], b0 * p[0]![1] + b1 * p[1]![1] + b2 * p[2]![1] + b3 * p[3]![1]])
  }
  // Centre the curve on its own origin so the rasterizer only visits its neighbourhood.
  const cx = pts.reduce((s, q) => s + q[0], 0) / pts.length
  const cy = pts.reduce((s, q) => s + q[1], 0) / pts.length
  const half = (side / 128) * rng.uniform(0.5, 2.2)
  const shape = stroke(
    pts.map(([x, y]) => [x - cx, y - cy] as const),
    half,
  )
  const colour = rng.chance(0.5) ? hsv(rng.uniform(0, 360), rng.uniform(0, 1), rng.uniform(0, 1)) : hsv(0, 0, rng.chance(0.5) ? rng.uniform(0, 0.2) : rng.uniform(0.8, 1))
  paintShape(canvas, shape, { cx, cy, scale: 1, angle: 0 }, solidShader(colour), { alpha: rng.uniform(0.5, 1) })
}

/**
 * A shape with a texture that is not a class's pair. `radiusFraction` is its radius over the image side;
 * large ones are pushed towards (and past) the border so they read as clutter, not as the subject.
 */
export function paintShapeDistractor(canvas: Canvas, rng: Rng, radiusFraction: number, offFrame = false): void {
  const side = Math.max(canvas.width, canvas.height)
  const [shapeFamily, patternFamily] = rng.pick(DISTRACTOR_COMBINATIONS)
  const scale = radiusFraction * side
  const shape = SHAPES[shapeFamily](rng, scale)
  let cx = rng.uniform(0, canvas.width)
  let cy = rng.uniform(0, canvas.height)
  if (offFrame) {
    const edge = rng.int(4)
    const out = rng.uniform(0.2, 0.7) * scale
    if (edge === 0) cx = -out
    else if (edge === 1) cx = canvas.width + out
    else if (edge === 2) cy = -out
    else cy = canvas.height + out
  }
  const base = hsv(rng.uniform(0, 360), rng.uniform(0.1, 1), rng.uniform(0.15, 1))
  const ink = contrastingColour(rng, base, rng.uniform(0.15, 0.35))
  const period = Math.max(rng.uniform(0.3, 0.5), 3.5 / scale)
  const pattern = makePattern(patternFamily, rng, patternFamily === 'gradient' ? rng.uniform(1, 1.6) : period)
  paintShape(canvas, shape, { cx, cy, scale, angle: rng.uniform(0, 2 * Math.PI) }, patternShader(pattern, base, ink, rng.uniform(0, 0.2), rng.uniform(0, 2 * Math.PI)), {
    alpha: rng.uniform(0.6, 1),
  })
}
