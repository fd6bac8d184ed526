/**
 * Pan a Plotly `scattergl` plot by moving its last WebGL frame (a CSS transform of the GL canvases) instead of
 * redrawing every point on every pointer move; the points are redrawn by plotly itself when the pointer rests
 * (REST_MS) and on release, so the final frame is plotly's own.
 *
 * Why (measured in headless Chromium on SwiftShader, 2 cores, 50 000 points in 14 traces, 1000×560 px, load 4-8):
 * a pan frame of plotly 4.1 is scene.update(range) + regl.clear + scene.draw of every point (80-160 ms, about
 * 3 µs a point: marker line off, one trace with a colour array, opacity 1 or smaller markers save < 20 %) plus
 * the SVG axes (20-60 ms). Skipping the GL draw brings a frame to 20-60 ms. A custom point layer would still draw
 * every point per move in the same software rasteriser and redo hover, lasso and selection; no plotly setting
 * skips the per-move draw.
 *
 * How: plotly's drag sets `gd._dragging` and moves the axis ranges; this wraps the subplot scene's `draw` and
 * each GL canvas's `regl.clear` (plotly internals, pinned plotly.js-strict-dist-min 4.1.1) so that while a drag
 * changes the ranges by a pure translation (same spans: a pan, not a zoom or a lasso) they move the canvases by
 * the ranges' shift in pixels, clipped to the plot area, and draw nothing. Anything else draws as before.
 * The range arithmetic is lib/panShift.ts (no DOM: test/unit/panShift.test.ts runs it under node).
 */
import { type AxisView, panShift, plotClip } from './panShift'

/**
 * The points are redrawn after the pointer rests this long during a drag (and on release by plotly's relayout).
 * Longer than a redraw (150-230 ms at load 14-20 here), so that a slow frame does not set off a chain of redraws
 * (with 150 ms: median moves of 130 ms in one pan of bench/mapPan at load 20).
 */
export const REST_MS = 300

// --- plotly's internals this relies on (plotly.js 4.1: dragbox.js updateSubplots, scattergl/scene_update.js) ---
interface PlotlyAxis {
  range: [unknown, unknown]
  r2l(v: unknown): number
  _length: number
  _offset: number
}
interface Scene {
  draw(): void
}
interface Subplot {
  xaxis: PlotlyAxis
  yaxis: PlotlyAxis
  _scene?: Scene
}
interface Regl {
  clear(options: unknown): void
}
interface GlCanvasDatum {
  regl?: Regl
}
interface GraphDiv extends HTMLElement {
  _dragging?: boolean
  _fullLayout?: {
    _plots: Record<string, Subplot>
    _glcanvas?: { each(fn: (this: HTMLCanvasElement, d: GlCanvasDatum) => void): void }
  }
  on(event: string, handler: () => void): void
  removeListener?(event: string, handler: () => void): void
}

const view = (a: PlotlyAxis): AxisView => ({ range: [a.r2l(a.range[0]), a.r2l(a.range[1])], length: a._length, offset: a._offset })

/** Marks functions this module wrapped (so a scene or regl that survives a re-plot is wrapped once). */
const WRAPPED = Symbol('glPanByTransform')
type Wrapped<F> = F & { [WRAPPED]?: F }
const original = <F>(f: Wrapped<F>): F => f[WRAPPED] ?? f

/**
 * Make pans of `gd` (a plotly graph div with one scattergl subplot) move the last GL frame until the pointer rests
 * `restMs` or is released. Returns the function that stops it (the plot is left as plotly draws it).
 */
export function panGlByTransform(gd: HTMLElement, restMs = REST_MS): () => void {
  const graph = gd as GraphDiv
  let drawn: { x: AxisView; y: AxisView } | null = null // the view of the canvases' last real frame
  let moved = false // whether the canvases are shown translated
  let rest = 0
  let active = true // the wrappers outlive a stop (plotly keeps them): stopped, they only pass calls on

  const subplot = (): Subplot | null => {
    const withScene = Object.values(graph._fullLayout?._plots ?? {}).filter((p) => p._scene)
    return withScene.length === 1 ? withScene[0]! : null // several GL subplots: plotly draws as it does
  }
  const viewOf = (sp: Subplot) => ({ x: view(sp.xaxis), y: view(sp.yaxis) })
  const canvases = (): { canvas: HTMLCanvasElement; regl?: Regl }[] => {
    const out: { canvas: HTMLCanvasElement; regl?: Regl }[] = []
    graph._fullLayout?._glcanvas?.each(function (d) {
      out.push({ canvas: this, regl: d.regl })
    })
    return out
  }
  const place = (sp: Subplot, dx: number, dy: number) => {
    const all = canvases()
    const { clientWidth: width, clientHeight: height } = all[0]?.canvas ?? { clientWidth: 0, clientHeight: 0 } // one read before the writes
    const clip = plotClip(view(sp.xaxis), view(sp.yaxis), width, height, dx, dy)
    for (const { canvas } of all) {
      canvas.style.transform = `translate(${dx}px, ${dy}px)`
      canvas.style.clipPath = clip
    }
    moved = true
  }
  const unplace = () => {
    if (!moved) return
    moved = false
    for (const { canvas } of canvases()) {
      canvas.style.transform = ''
      canvas.style.clipPath = ''
    }
  }
  /** The shift to show instead of drawing, or null to draw (not a pan drag of the one GL subplot). */
  const shift = (): { sp: Subplot; dx: number; dy: number } | null => {
    const sp = subplot()
    if (!active || !graph._dragging || !sp || !drawn) return null
    const s = panShift(drawn, viewOf(sp))
    return s && { sp, ...s }
  }
  /** Plotly's own draw of the subplot at its current ranges; the canvases back in place. */
  const drawNow = (sp: Subplot, scene: Scene) => {
    original(scene.draw).call(scene)
    unplace()
    drawn = viewOf(sp)
  }
  const redrawAtRest = () => {
    rest = 0
    const sp = subplot()
    if (!moved || !sp?._scene) return
    for (const { regl } of canvases()) if (regl) original(regl.clear).call(regl, { color: true, depth: true })
    drawNow(sp, sp._scene)
  }

  const install = () => {
    const sp = subplot()
    const scene = sp?._scene
    if (!sp || !scene) return
    if (!graph._dragging) drawn = viewOf(sp) // after a plot the canvases show its ranges
    if (!(scene.draw as Wrapped<Scene['draw']>)[WRAPPED]) {
      const wrapped: Wrapped<Scene['draw']> = () => {
        const s = shift()
        if (!s) return drawNow(subplot() ?? sp, scene) // plotly relinks its axes to the subplot on each plot
        place(s.sp, s.dx, s.dy)
        clearTimeout(rest)
        rest = window.setTimeout(redrawAtRest, restMs)
      }
      wrapped[WRAPPED] = scene.draw
      scene.draw = wrapped
    }
    for (const { regl } of canvases()) {
      if (!regl || (regl.clear as Wrapped<Regl['clear']>)[WRAPPED]) continue
      const clear = regl.clear
      const wrapped: Wrapped<Regl['clear']> = (options) => {
        if (!shift()) clear.call(regl, options) // a pan keeps the frame it moves
      }
      wrapped[WRAPPED] = clear
      regl.clear = wrapped
    }
  }
  graph.on('plotly_afterplot', install)
  install()
  return () => {
    active = false
    clearTimeout(rest)
    graph.removeListener?.('plotly_afterplot', install)
    unplace()
  }
}
