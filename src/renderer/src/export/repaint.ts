/**
 * Canvases that can paint themselves again at any resolution — an image under a heatmap, a patch cut from
 * an image — are painted through `paintRepaintable`, which keeps their painter: a figure export asks it for
 * a canvas at the export's scale instead of enlarging the page's pixels. Other canvases (data grids shown
 * pixelated) are enlarged from their own pixels.
 */

/** Sizes and draws `target` at `ratio` canvas pixels per CSS pixel, and returns it. */
export type Painter = (target: HTMLCanvasElement, ratio: number) => HTMLCanvasElement

const painters = new WeakMap<HTMLCanvasElement, Painter>()

/** Paint a page canvas at the screen's pixel ratio and give it its CSS size; an export can paint it again. */
export function paintRepaintable(canvas: HTMLCanvasElement, paint: Painter): void {
  const ratio = window.devicePixelRatio || 1
  paint(canvas, ratio)
  canvas.style.width = `${canvas.width / ratio}px`
  canvas.style.height = `${canvas.height / ratio}px`
  painters.set(canvas, paint)
}

/** The canvas painted anew at `scale`, or the canvas itself when it cannot paint again. */
export function repainted(canvas: HTMLCanvasElement, scale: number): HTMLCanvasElement {
  const paint = painters.get(canvas)
  return paint ? paint(document.createElement('canvas'), scale) : canvas
}
