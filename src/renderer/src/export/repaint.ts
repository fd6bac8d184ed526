/**
 * Canvases that can paint themselves again at any resolution — an image under a heatmap, a patch cut from
 * an image — register here; a figure export asks them for a canvas at its own scale instead of enlarging
 * the page's pixels. Canvases without one (data grids shown pixelated) are enlarged from their own pixels.
 */

/** A new canvas with the drawing at `pixelsPerCssPixel`. */
export type Repaint = (pixelsPerCssPixel: number) => HTMLCanvasElement

const repaints = new WeakMap<HTMLCanvasElement, Repaint>()

export function setRepaint(canvas: HTMLCanvasElement, repaint: Repaint): void {
  repaints.set(canvas, repaint)
}

/** The canvas drawn at `scale`, or the canvas itself when it cannot paint again. */
export function repainted(canvas: HTMLCanvasElement, scale: number): HTMLCanvasElement {
  return repaints.get(canvas)?.(scale) ?? canvas
}
