/**
 * The classes of the demo dataset: each is a shape family × a fill pattern × a colour palette.
 *
 * They are chosen so that neither shape nor texture alone decides the class: triangles come striped
 * (c00) or dotted (c01), dots cover triangles (c01) and disks (c02), checks cover squares (c03) and
 * crosses (c04), stars are plain gold (c06) or striped (c07), stripes cover triangles (c00) and stars
 * (c07). A few classes also have a typical colour (gold star, red heart, pale crescent), so some units
 * can specialise on colour. Distractors in the background reuse the same shapes and patterns, but never
 * a class's combination (see `isClassCombination`).
 */
import { ANY_COLOUR, type Palette } from './color'
import type { PatternFamily } from './patterns'
import type { ShapeFamily } from './shapes'

export interface DemoClass {
  /** Position in classes.json / labels.txt; the network's output index. */
  readonly index: number
  /** Folder name: sorts in class order (`c00_…`, `c01_…`). */
  readonly id: string
  /** Human-readable label. */
  readonly name: string
  readonly shape: ShapeFamily
  readonly pattern: PatternFamily
  /** Where the base colour comes from. */
  readonly palette: Palette
  /** The pattern's second colour: any colour with a clear lightness gap, or a darker shade of the base. */
  readonly ink: 'contrast' | 'darker'
  /** Pattern repeat length in the object's frame (radius 1), drawn uniformly from this range. */
  readonly period: readonly [number, number]
  /** Keep the pattern lattice square to the shape (checks on a square follow its sides). */
  readonly alignPattern: boolean
}

type ClassSpec = Omit<DemoClass, 'index' | 'id' | 'palette' | 'ink' | 'alignPattern'> &
  Partial<Pick<DemoClass, 'palette' | 'ink' | 'alignPattern'>>

const GOLD: Palette = { hues: [[36, 54]], saturation: [0.75, 1], value: [0.8, 1] }
const RED: Palette = { hues: [[342, 8]], saturation: [0.65, 1], value: [0.55, 0.95] }
const PALE_BLUE: Palette = { hues: [[180, 235]], saturation: [0.15, 0.6], value: [0.75, 1] }

const SPECS: readonly ClassSpec[] = [
  { name: 'striped triangle', shape: 'triangle', pattern: 'stripes', period: [0.3, 0.5] },
  { name: 'dotted triangle', shape: 'triangle', pattern: 'dots', period: [0.35, 0.5] },
  { name: 'dotted disk', shape: 'disk', pattern: 'dots', period: [0.35, 0.5] },
  { name: 'checkered square', shape: 'square', pattern: 'checker', period: [0.35, 0.55], alignPattern: true },
  { name: 'checkered cross', shape: 'cross', pattern: 'checker', period: [0.3, 0.45], alignPattern: true },
  { name: 'grid hexagon', shape: 'hexagon', pattern: 'grid', period: [0.3, 0.45] },
  { name: 'gold star', shape: 'star', pattern: 'solid', period: [1, 1], palette: GOLD },
  { name: 'striped star', shape: 'star', pattern: 'stripes', period: [0.25, 0.4] },
  { name: 'plain ring', shape: 'ring', pattern: 'solid', period: [1, 1] },
  { name: 'pale crescent', shape: 'crescent', pattern: 'gradient', period: [1, 1.6], palette: PALE_BLUE, ink: 'darker' },
  { name: 'red heart', shape: 'heart', pattern: 'solid', period: [1, 1], palette: RED },
  { name: 'chevron arrow', shape: 'arrow', pattern: 'chevrons', period: [0.28, 0.4] },
  { name: 'spiral', shape: 'spiral', pattern: 'solid', period: [1, 1] },
  { name: 'speckled spiky blob', shape: 'spikyBlob', pattern: 'speckle', period: [0.22, 0.35] },
]

export const DEMO_CLASSES: readonly DemoClass[] = SPECS.map((s, index) => ({
  palette: ANY_COLOUR,
  ink: 'contrast',
  alignPattern: false,
  ...s,
  index,
  id: `c${String(index).padStart(2, '0')}_${s.name.replace(/[^a-z0-9]+/g, '_')}`,
}))

/** Solid and gradient fills read alike at a glance: treat them as one texture when excluding combinations. */
function textureKey(p: PatternFamily): string {
  return p === 'gradient' ? 'solid' : p
}

/** Whether a shape × pattern pair is (or looks like) a class; distractors must never be one. */
export function isClassCombination(shape: ShapeFamily, pattern: PatternFamily): boolean {
  if (shape === 'spiral') return true // any spiral reads as the spiral class
  return DEMO_CLASSES.some((c) => c.shape === shape && textureKey(c.pattern) === textureKey(pattern))
}
