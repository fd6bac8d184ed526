/**
 * A 2-D map of codes as a PNG (issue 13; the lecture's t-SNE figure): one dot per image coloured by its label
 * with a legend (the window's palette, shared/classPalette.ts), or, with `thumbnails`, the images themselves at
 * their points (Karpathy's t-SNE image of ImageNet). Both axes share one scale (a map's distances are what it
 * shows), y grows upwards as in the window's plot; rows with a NaN coordinate (unreadable images) are left out.
 *
 * Dots and thumbnails are drawn into an RGB buffer here (exact colours, 50 000 dots in milliseconds, where an
 * SVG of 50 000 circles takes librsvg seconds); the title, legend and frame are one small SVG composited by sharp.
 */
import sharp from 'sharp'
import { labelColours, labelOrder } from '../../../shared/classPalette'
import { ConvscopeError } from '../../../shared/api'
import type { JobContext } from '../context'
import { forEachCoverTile, hexRgb, pasteRgb } from './coverThumbnails'

export interface MapPngOptions {
  /** Side of the square plot area in pixels (default 800). */
  size?: number
  title?: string
  /** Image paths, one per point: draw each image (cover-resized) at its point instead of a dot; '' for none. */
  thumbnails?: string[]
  /** Side of a thumbnail in pixels (default size / 20). */
  thumbnailSize?: number
  /** Dot radius in pixels (default from the number of points: 5 for a few hundred, 1.5 for 50 000). */
  dotRadius?: number
  /** Progress of the thumbnails and cancel. */
  ctx?: JobContext
}

/** Layout in pixels: white margins, the title's band, the legend's rows. */
export const MAP_LAYOUT = { MARGIN: 12, TITLE: 28, ROW: 18, SWATCH: 12, FONT: 13, CHAR: 7.5 } as const

export interface MapGeometry {
  width: number
  height: number
  /** The plot square: left, top, side. */
  plot: { left: number; top: number; side: number }
  /** Pixel of point i (x right, y down), NaN for left-out rows. */
  pixel(i: number): [number, number]
}

/** Where each point lands: both axes scaled alike so that the larger extent fills the plot minus `inset`, centred. */
export function mapGeometry(points: Float32Array, count: number, size: number, inset: number, top: number, legendWidth: number): MapGeometry {
  const { MARGIN } = MAP_LAYOUT
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity]
  for (let i = 0; i < count; i++) {
    const x = points[2 * i]!
    const y = points[2 * i + 1]!
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y)
  }
  const plot = { left: MARGIN, top, side: size }
  const span = Math.max(x1 - x0, y1 - y0)
  const scale = span > 0 ? (size - 2 * inset) / span : 0
  const cx = (x0 + x1) / 2
  const cy = (y0 + y1) / 2
  const mid = size / 2
  return {
    width: MARGIN + size + legendWidth + MARGIN,
    height: top + size + MARGIN,
    plot,
    pixel(i) {
      const x = points[2 * i]!
      const y = points[2 * i + 1]!
      if (!Number.isFinite(x) || !Number.isFinite(y)) return [NaN, NaN]
      return [plot.left + mid + (x - cx) * scale, plot.top + mid - (y - cy) * scale]
    },
  }
}

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** Fill a disc of `radius` centred at (cx, cy) with one colour; pixel centres inside the circle are painted. */
function fillDisc(canvas: Uint8Array, width: number, height: number, cx: number, cy: number, radius: number, rgb: [number, number, number]): void {
  const r2 = radius * radius
  for (let y = Math.max(0, Math.ceil(cy - radius - 0.5)); y <= Math.min(height - 1, Math.floor(cy + radius - 0.5)); y++) {
    const dy = y + 0.5 - cy
    for (let x = Math.max(0, Math.ceil(cx - radius - 0.5)); x <= Math.min(width - 1, Math.floor(cx + radius - 0.5)); x++) {
      const dx = x + 0.5 - cx
      if (dx * dx + dy * dy <= r2) canvas.set(rgb, (y * width + x) * 3)
    }
  }
}

/** The map as PNG bytes. `points` is [count, 2] row-major, `labels` one per row (null: unlabelled, grey). */
export async function mapPng(points: Float32Array, labels: (string | null)[], options: MapPngOptions = {}): Promise<Buffer> {
  const count = labels.length
  if (points.length !== 2 * count) throw new ConvscopeError('BAD_REQUEST', `a map needs 2 coordinates per label: ${points.length} numbers for ${count} labels`)
  const { thumbnails } = options
  if (thumbnails && thumbnails.length !== count) throw new ConvscopeError('BAD_REQUEST', `thumbnails: ${thumbnails.length} paths for ${count} points`)
  const size = Math.round(options.size ?? 800)
  if (!(size >= 64 && size <= 8192)) throw new ConvscopeError('BAD_REQUEST', `map size ${size}: use 64 … 8192 pixels`)
  const { MARGIN, TITLE, ROW, SWATCH, FONT, CHAR } = MAP_LAYOUT

  const kept = Array.from({ length: count }, (_, i) => i).filter((i) => Number.isFinite(points[2 * i]!) && Number.isFinite(points[2 * i + 1]!))
  const colourOf = labelColours(labels)
  const order = labelOrder(labels)
  const tally = new Map<string | null, number>()
  for (const i of kept) tally.set(labels[i]!, (tally.get(labels[i]!) ?? 0) + 1)
  const legend: { text: string; colour: string }[] = [
    ...order.filter((l) => tally.has(l)).map((l) => ({ text: `${l} (${tally.get(l)})`, colour: colourOf(l) })),
    ...(tally.has(null) ? [{ text: `no label (${tally.get(null)})`, colour: colourOf(null) }] : []),
  ]
  const showLegend = !thumbnails && legend.length > 0
  const legendRows = Math.max(1, Math.floor(size / ROW))
  const shown = legend.length > legendRows ? legend.slice(0, legendRows - 1) : legend
  const legendWidth = showLegend ? Math.ceil(MARGIN + SWATCH + 6 + CHAR * Math.max(...legend.map((l) => l.text.length))) : 0

  const radius = options.dotRadius ?? Math.min(5, Math.max(1.5, size / (4 * Math.sqrt(Math.max(1, kept.length)))))
  const tile = Math.round(options.thumbnailSize ?? size / 20)
  const inset = thumbnails ? tile / 2 + 1 : radius + 1
  const top = options.title ? TITLE : MARGIN
  const g = mapGeometry(points, count, size, inset, top, legendWidth)

  const canvas = new Uint8Array(g.width * g.height * 3).fill(255)
  if (thumbnails) {
    const withImage = kept.filter((i) => thumbnails[i])
    let done = 0
    await forEachCoverTile(thumbnails, withImage, tile, (i, rgb) => {
      const [x, y] = g.pixel(i)
      if (rgb) pasteRgb(canvas, g.width, g.height, rgb, tile, tile, Math.round(x - tile / 2), Math.round(y - tile / 2))
      else fillDisc(canvas, g.width, g.height, x, y, radius, hexRgb(colourOf(labels[i]!)))
      options.ctx?.progress({ done: ++done, total: withImage.length, unit: 'images' })
    }, options.ctx)
    for (const i of kept) if (!thumbnails[i]) fillDisc(canvas, g.width, g.height, ...g.pixel(i), radius, hexRgb(colourOf(labels[i]!)))
  } else {
    const rgbOf = new Map<string | null, [number, number, number]>()
    for (const i of kept) {
      const label = labels[i]!
      let rgb = rgbOf.get(label)
      if (!rgb) rgbOf.set(label, (rgb = hexRgb(colourOf(label))))
      fillDisc(canvas, g.width, g.height, ...g.pixel(i), radius, rgb)
    }
  }

  const svg: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${g.width}" height="${g.height}" font-family="sans-serif" font-size="${FONT}">`]
  svg.push(`<rect x="${g.plot.left - 0.5}" y="${g.plot.top - 0.5}" width="${size + 1}" height="${size + 1}" fill="none" stroke="#cccccc" stroke-width="1"/>`)
  if (options.title) svg.push(`<text x="${g.plot.left}" y="${TITLE - 9}" font-weight="bold" font-size="${FONT + 2}">${escapeXml(options.title)}</text>`)
  if (showLegend) {
    const x = g.plot.left + size + MARGIN
    shown.forEach((l, r) => {
      const y = g.plot.top + r * ROW
      svg.push(`<rect x="${x}" y="${y + 2}" width="${SWATCH}" height="${SWATCH}" fill="${l.colour}"/>`)
      svg.push(`<text x="${x + SWATCH + 6}" y="${y + SWATCH}">${escapeXml(l.text)}</text>`)
    })
    if (shown.length < legend.length) svg.push(`<text x="${x}" y="${g.plot.top + shown.length * ROW + SWATCH}">… ${legend.length - shown.length} more</text>`)
  }
  svg.push('</svg>')
  return sharp(canvas, { raw: { width: g.width, height: g.height, channels: 3 } })
    .composite([{ input: Buffer.from(svg.join('')), top: 0, left: 0 }])
    .png({ compressionLevel: 9 })
    .toBuffer()
}
