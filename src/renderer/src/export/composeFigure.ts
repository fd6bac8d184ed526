/**
 * An HTML figure — blocks of canvases with labels, e.g. the activation grid or the CAM cards — drawn into
 * one canvas at a scale: backgrounds, borders, canvases, images and text, in document order, clipped
 * where the page clips. Canvases that can paint again (repaint.ts) do so at the scale; others are enlarged
 * from their own pixels (nearest-neighbour where the page shows them pixelated, so a 13×13 map exported at
 * 4× stays sharp). Content scrolled out of view is included. Controls (inputs, selects) and anything
 * marked `data-export-skip` are left out.
 */
import type { FigureSize } from './figureSize'
import { repainted } from './repaint'

interface Point {
  x: number
  y: number
}

/** The figure's CSS size: the element's box plus whatever it scrolls out of view. */
export function figureBox(target: HTMLElement): { width: number; height: number } {
  const rect = target.getBoundingClientRect()
  return { width: rect.width + target.scrollWidth - target.clientWidth, height: rect.height + target.scrollHeight - target.clientHeight }
}

export function composeFigure(target: HTMLElement, size: FigureSize): HTMLCanvasElement {
  // Drawn scrolled to the top-left: sticky parts (a table's header) sit where they belong. Synchronous, so
  // the page never paints the moved scroll positions.
  const scrolled: [Element, number, number][] = []
  for (let e: Element | null = target; e; e = e.parentElement) if (e.scrollTop || e.scrollLeft) scrolled.push([e, e.scrollTop, e.scrollLeft])
  for (const [e] of scrolled) e.scrollTop = e.scrollLeft = 0
  try {
    return drawFigure(target, size)
  } finally {
    for (const [e, top, left] of scrolled) (e.scrollTop = top), (e.scrollLeft = left)
  }
}

function drawFigure(target: HTMLElement, size: FigureSize): HTMLCanvasElement {
  const canvas = document.createElement('canvas')
  canvas.width = size.width
  canvas.height = size.height
  const ctx = canvas.getContext('2d')
  if (!ctx) throw new Error('no 2-D canvas to draw the figure on')
  ctx.fillStyle = backgroundBehind(target)
  ctx.fillRect(0, 0, size.width, size.height)
  ctx.scale(size.scale, size.scale)
  const rect = target.getBoundingClientRect()
  drawElement(ctx, target, { x: rect.left - target.scrollLeft, y: rect.top - target.scrollTop }, { x: 0, y: 0, ...figureBox(target) })
  return canvas
}

const SKIPPED = 'input, select, textarea, [data-export-skip]'

/** `rootBox`: the target's whole scrolled extent, which it must neither clip to its visible part nor leave unpainted. */
function drawElement(ctx: CanvasRenderingContext2D, el: Element, origin: Point, rootBox?: Box): void {
  if (el.matches(SKIPPED)) return
  const style = getComputedStyle(el)
  if (style.display === 'none' || style.visibility === 'hidden' || style.opacity === '0') return
  const r = el.getBoundingClientRect()
  const box = rootBox ?? { x: r.left - origin.x, y: r.top - origin.y, width: r.width, height: r.height }
  drawBox(ctx, box, style)
  if (el instanceof HTMLCanvasElement || el instanceof HTMLImageElement) drawPicture(ctx, el, contentBox(box, style), style)
  if (el instanceof SVGElement) return // inline overlays; charts are exported by plotly itself
  const clips = !rootBox && (style.overflowX !== 'visible' || style.overflowY !== 'visible')
  if (clips) {
    ctx.save()
    ctx.beginPath()
    ctx.rect(box.x, box.y, box.width, box.height)
    ctx.clip()
  }
  for (const child of el.childNodes) {
    if (child instanceof Element) drawElement(ctx, child, origin)
    else if (child instanceof Text) drawText(ctx, child, style, origin)
  }
  if (clips) ctx.restore()
}

interface Box {
  x: number
  y: number
  width: number
  height: number
}

const px = (value: string): number => parseFloat(value) || 0
const visible = (colour: string): boolean => !/^rgba\(.*,\s*0\)$|^transparent$/.test(colour)

function drawBox(ctx: CanvasRenderingContext2D, b: Box, style: CSSStyleDeclaration): void {
  if (visible(style.backgroundColor)) {
    ctx.fillStyle = style.backgroundColor
    ctx.beginPath()
    ctx.roundRect(b.x, b.y, b.width, b.height, px(style.borderTopLeftRadius))
    ctx.fill()
  }
  // Each border side as a filled strip (dashes and radii drawn plain).
  const sides = [
    [style.borderTopWidth, style.borderTopStyle, style.borderTopColor, b.x, b.y, b.width, px(style.borderTopWidth)],
    [style.borderBottomWidth, style.borderBottomStyle, style.borderBottomColor, b.x, b.y + b.height - px(style.borderBottomWidth), b.width, px(style.borderBottomWidth)],
    [style.borderLeftWidth, style.borderLeftStyle, style.borderLeftColor, b.x, b.y, px(style.borderLeftWidth), b.height],
    [style.borderRightWidth, style.borderRightStyle, style.borderRightColor, b.x + b.width - px(style.borderRightWidth), b.y, px(style.borderRightWidth), b.height],
  ] as const
  for (const [width, kind, colour, x, y, w, h] of sides) {
    if (px(width) > 0 && kind !== 'none' && kind !== 'hidden' && visible(colour)) {
      ctx.fillStyle = colour
      ctx.fillRect(x, y, w, h)
    }
  }
}

function contentBox(b: Box, style: CSSStyleDeclaration): Box {
  const left = px(style.borderLeftWidth) + px(style.paddingLeft)
  const top = px(style.borderTopWidth) + px(style.paddingTop)
  const right = px(style.borderRightWidth) + px(style.paddingRight)
  const bottom = px(style.borderBottomWidth) + px(style.paddingBottom)
  return { x: b.x + left, y: b.y + top, width: b.width - left - right, height: b.height - top - bottom }
}

function drawPicture(ctx: CanvasRenderingContext2D, picture: HTMLCanvasElement | HTMLImageElement, b: Box, style: CSSStyleDeclaration): void {
  const ready = picture instanceof HTMLCanvasElement ? picture.width > 0 && picture.height > 0 : picture.complete && picture.naturalWidth > 0
  if (!ready || b.width <= 0 || b.height <= 0) return
  ctx.save()
  ctx.imageSmoothingEnabled = style.imageRendering !== 'pixelated' && style.imageRendering !== 'crisp-edges'
  ctx.imageSmoothingQuality = 'high'
  ctx.drawImage(picture instanceof HTMLCanvasElement ? repainted(picture, ctx.getTransform().a) : picture, b.x, b.y, b.width, b.height)
  ctx.restore()
}

/** Text word by word at the place the page laid each word out (wrapping, alignment and spacing come along). */
function drawText(ctx: CanvasRenderingContext2D, node: Text, style: CSSStyleDeclaration, origin: Point): void {
  const text = node.data
  if (!text.trim()) return
  ctx.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`
  ctx.fillStyle = style.color
  ctx.textBaseline = 'alphabetic'
  const range = document.createRange()
  for (const word of text.matchAll(/\S+/g)) {
    range.setStart(node, word.index)
    range.setEnd(node, word.index + word[0].length)
    const at = range.getClientRects()[0]
    if (!at || at.width === 0) continue
    const metrics = ctx.measureText(word[0])
    const ascent = metrics.fontBoundingBoxAscent
    const descent = metrics.fontBoundingBoxDescent
    ctx.fillText(word[0], at.left - origin.x, at.top - origin.y + (at.height - ascent - descent) / 2 + ascent)
  }
  range.detach()
}

/** The colour the figure stands on: the first opaque background from the element up, else white. */
function backgroundBehind(el: Element): string {
  for (let e: Element | null = el; e; e = e.parentElement) {
    const colour = getComputedStyle(e).backgroundColor
    if (visible(colour)) return colour
  }
  return '#ffffff'
}
