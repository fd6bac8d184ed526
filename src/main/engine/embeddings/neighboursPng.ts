/**
 * The lecture's nearest-neighbour figure as a PNG: the query image, then its k nearest in code space (top row) and
 * its k nearest in pixel space (bottom row), each with its class and distance. Tiles are cover-resized by sharp
 * (coverThumbnails.ts) into an RGB buffer; titles and captions are one SVG composited on top (as mapPng.ts).
 */
import sharp from 'sharp'
import type { Neighbours } from '../../../shared/api'
import { coverTile, pasteRgb } from './coverThumbnails'

const MARGIN = 12
const GAP = 4
const QUERY_GAP = 20
const TITLE = 22
const CAPTION = 30
const FONT = 12

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!)

/** Three significant digits without an exponent (pixel distances run to thousands). */
const distanceText = (d: number) => (d >= 100 ? d.toFixed(0) : d.toPrecision(3))

/** Caption text cut to about what fits under a tile. */
const fit = (s: string, cell: number) => (s.length * 6.5 > cell ? `${s.slice(0, Math.max(1, Math.floor(cell / 6.5) - 1))}…` : s)

export async function neighboursPng(n: Neighbours, options: { cell?: number; queryClass?: string | null } = {}): Promise<Buffer> {
  const cell = options.cell ?? 96
  const k = Math.max(n.code.length, n.pixel.length, 1)
  const width = MARGIN * 2 + cell + QUERY_GAP + k * cell + (k - 1) * GAP
  const rowHeight = TITLE + cell + CAPTION
  const height = MARGIN * 2 + 2 * rowHeight
  const canvas = new Uint8Array(width * height * 3).fill(255)
  const texts: string[] = []
  const text = (x: number, y: number, s: string, weight = 'normal', anchor = 'start') =>
    texts.push(`<text x="${x}" y="${y}" font-family="sans-serif" font-size="${FONT}" font-weight="${weight}" text-anchor="${anchor}" fill="#222">${escapeXml(s)}</text>`)

  const place = async (path: string, left: number, top: number) => {
    const tile = await coverTile(path, cell)
    if (tile) pasteRgb(canvas, width, height, tile, cell, cell, left, top)
    else texts.push(`<rect x="${left}" y="${top}" width="${cell}" height="${cell}" fill="#ddd"/>`)
  }
  const rows = [
    { title: `nearest in code space (${n.metric === 'cosine' ? 'cosine distance' : 'Euclidean distance'})`, list: n.code },
    { title: 'nearest in pixel space (Euclidean distance of 32×32 thumbnails)', list: n.pixel },
  ]
  for (let r = 0; r < rows.length; r++) {
    const top = MARGIN + r * rowHeight
    const tileTop = top + TITLE
    await place(n.image, MARGIN, tileTop)
    text(MARGIN, top + FONT + 2, 'query', 'bold')
    if (options.queryClass) text(MARGIN + cell / 2, tileTop + cell + FONT + 2, fit(options.queryClass, cell), 'normal', 'middle')
    const left0 = MARGIN + cell + QUERY_GAP
    text(left0, top + FONT + 2, rows[r]!.title, 'bold')
    for (let i = 0; i < rows[r]!.list.length; i++) {
      const nb = rows[r]!.list[i]!
      const left = left0 + i * (cell + GAP)
      await place(nb.path, left, tileTop)
      text(left + cell / 2, tileTop + cell + FONT + 2, fit(nb.className ?? '', cell), 'normal', 'middle')
      text(left + cell / 2, tileTop + cell + 2 * FONT + 4, distanceText(nb.distance), 'normal', 'middle')
    }
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${texts.join('')}</svg>`
  return sharp(canvas, { raw: { width, height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .png()
    .toBuffer()
}
