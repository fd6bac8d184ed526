/** Short, dense number and shape formats for tables and hover readouts. */

export const formatShape = (shape: readonly (number | null)[]): string => `[${shape.map((d) => (d === null ? '?' : d)).join(', ')}]`

export const formatCount = (n: number): string => n.toLocaleString('en-US')

/** 4 significant digits, exponent for very small or large magnitudes. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v)
  const a = Math.abs(v)
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2)
  return v.toPrecision(4).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '')
}

export const basename = (path: string): string => path.split(/[\\/]/).filter(Boolean).pop() ?? path

export const shortId = (id: string): string => id.slice(0, 10)
