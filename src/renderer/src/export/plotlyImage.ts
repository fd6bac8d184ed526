/**
 * Plotly charts export through plotly's own renderer (Plotly.toImage): SVG stays vector, PNG is drawn at the
 * asked scale; both on a white background (the page draws charts on a transparent one).
 */
import { dataUrlBytes } from './dataUrl'
import { figureSize, type SizeRequest } from './figureSize'

/** What plotly keeps on the element it drew into. */
interface PlotlyGraph extends HTMLElement {
  data?: Record<string, unknown>[]
  layout?: Record<string, unknown>
  _fullLayout?: { width: number; height: number }
}

/** The plotly chart in (or at) the target, if there is one. */
export function plotlyGraph(target: HTMLElement): PlotlyGraph | null {
  return target.classList.contains('js-plotly-plot') ? target : target.querySelector<HTMLElement>('.js-plotly-plot')
}

export async function plotlyImage(graph: PlotlyGraph, format: 'png' | 'svg', request: SizeRequest = { scale: 1 }): Promise<Blob> {
  // The strict bundle: it draws WebGL traces (the embedding map's scattergl) under the window's CSP, where plotly.js-dist-min's regl needs Function().
  const plotly = (await import('plotly.js-strict-dist-min')).default
  const css = { width: graph._fullLayout?.width ?? graph.clientWidth, height: graph._fullLayout?.height ?? graph.clientHeight }
  const scale = format === 'svg' ? 1 : figureSize(css, request).scale
  const figure = { data: graph.data ?? [], layout: { ...graph.layout, paper_bgcolor: '#ffffff', plot_bgcolor: '#ffffff' } }
  const { type, bytes } = dataUrlBytes(await plotly.toImage(figure, { format, ...css, scale }))
  return new Blob([bytes as BlobPart], { type: format === 'svg' ? 'image/svg+xml' : type })
}
