/**
 * The qualitative palette of class-coloured maps (issue 13): the embedding map in the window and the PNG of
 * `convscope embed --png` / mapPng give a label the same colour. D3's category10 (Plotly's default trace
 * colours) first, then ten more distinct hues; labels past twenty reuse the list. Unlabelled points are grey.
 */

export const CLASS_COLOURS: readonly string[] = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
  '#393b79', '#e7ba52', '#00a08b', '#fb0d0d', '#750d86', '#6c7c32', '#a777f1', '#862a16', '#2e91e5', '#fc0080',
]

/** The colour of points without a label (null). */
export const UNLABELLED_COLOUR = '#b0b0b0'

/**
 * Labels in the order they get colours: sorted (so the colour of a class does not depend on which image came
 * first), nulls left out. Colour of `labels[i]` = CLASS_COLOURS[i % CLASS_COLOURS.length].
 */
export function labelOrder(labels: readonly (string | null)[]): string[] {
  return [...new Set(labels.filter((l): l is string => l !== null))].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
}

/** Label → '#rrggbb' for every label of `labels` (null → UNLABELLED_COLOUR). */
export function labelColours(labels: readonly (string | null)[]): (label: string | null) => string {
  const colour = new Map(labelOrder(labels).map((l, i) => [l, CLASS_COLOURS[i % CLASS_COLOURS.length]!]))
  return (label) => (label === null ? UNLABELLED_COLOUR : (colour.get(label) ?? UNLABELLED_COLOUR))
}
