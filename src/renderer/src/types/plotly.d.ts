// The few plotly.js calls the renderer makes (plotly.js-dist-min ships no types).
declare module 'plotly.js-dist-min' {
  export interface PlotlyClickEvent {
    points: { pointNumber: number; pointIndex: number; x: unknown; y: unknown }[]
  }
  export interface PlotlyElement extends HTMLElement {
    on(event: 'plotly_click', handler: (event: PlotlyClickEvent) => void): void
  }
  type Data = Record<string, unknown>
  const Plotly: {
    newPlot(el: HTMLElement, data: Data[], layout?: Data, config?: Data): Promise<PlotlyElement>
    react(el: HTMLElement, data: Data[], layout?: Data, config?: Data): Promise<PlotlyElement>
    purge(el: HTMLElement): void
    /** A data: URL of the chart (a div it drew, or a figure) as PNG or SVG; width/height in CSS pixels. */
    toImage(figure: HTMLElement | { data: Data[]; layout?: Data }, options: { format: 'png' | 'svg'; width: number; height: number; scale?: number }): Promise<string>
    Plots: { resize(el: HTMLElement): void }
  }
  export default Plotly
}

// The same API in plotly's strict bundle (no Function(): its WebGL traces run under the window's CSP).
declare module 'plotly.js-strict-dist-min' {
  import Plotly from 'plotly.js-dist-min'
  export default Plotly
}
