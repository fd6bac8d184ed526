/**
 * How big an exported PNG is: the figure's CSS size times a scale, either asked for (2×) or derived from a
 * chosen width (the height keeps the figure's aspect). Capped so a canvas can hold it (Chromium refuses
 * sides over 16384 px and very large areas).
 */

export type SizeRequest = { scale: number } | { width: number }

export interface FigureSize {
  /** Output pixels per CSS pixel. */
  scale: number
  width: number
  height: number
  /** True when the request was reduced to fit the caps. */
  reduced: boolean
}

export const MAX_SIDE = 16384
/** 8192² pixels: 256 MB of RGBA, already more than any figure needs. */
export const MAX_AREA = 8192 * 8192

export function figureSize(css: { width: number; height: number }, request: SizeRequest): FigureSize {
  if (!(css.width > 0 && css.height > 0)) throw new Error('the figure has no size (is it shown?)')
  const asked = 'scale' in request ? request.scale : request.width / css.width
  if (!(asked > 0) || !Number.isFinite(asked)) throw new Error(`not a usable size: ${JSON.stringify(request)}`)
  const cap = Math.min(MAX_SIDE / css.width, MAX_SIDE / css.height, Math.sqrt(MAX_AREA / (css.width * css.height)))
  const scale = Math.min(asked, cap)
  return {
    scale,
    width: Math.max(1, Math.round(css.width * scale)),
    height: Math.max(1, Math.round(css.height * scale)),
    reduced: scale < asked,
  }
}
