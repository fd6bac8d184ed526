/**
 * One export for every view's figure: a plotly chart through plotly (PNG or vector SVG), a table as CSV,
 * and anything else — canvas grids, cards of canvases and labels, tables too — composed into one PNG.
 */
import { composeFigure, figureBox } from './composeFigure'
import { tableRows, toCsv, type CsvValue } from './csv'
import { figureSize, type SizeRequest } from './figureSize'
import { plotlyGraph, plotlyImage } from './plotlyImage'

export type FigureFormat = 'png' | 'svg' | 'csv'

const tableIn = (target: HTMLElement): HTMLTableElement | null => (target instanceof HTMLTableElement ? target : target.querySelector('table'))

/** A table the view lays out without <table> (e.g. the Jobs cards): its rows, header first. */
export type CsvRows = () => readonly (readonly CsvValue[])[]

/** PNG always; SVG where the figure is vector (a plotly chart); CSV where it holds a table or the view gives rows. */
export function figureFormats(target: HTMLElement, rows?: CsvRows): FigureFormat[] {
  return ['png', ...(plotlyGraph(target) ? (['svg'] as const) : []), ...(rows || tableIn(target) ? (['csv'] as const) : [])]
}

export async function figureBlob(target: HTMLElement, format: FigureFormat, request: SizeRequest, csvRows?: CsvRows): Promise<Blob> {
  if (format === 'csv' && csvRows) return new Blob([toCsv(csvRows())], { type: 'text/csv;charset=utf-8' })
  if (format === 'csv') {
    const table = tableIn(target)
    if (!table) throw new Error('this figure has no table')
    const rows = Array.from(table.rows, (row) => ({ cells: Array.from(row.cells, (cell) => ({ textContent: spacedText(cell), colSpan: cell.colSpan, dataset: cell.dataset })) }))
    return new Blob([toCsv(tableRows({ rows }))], { type: 'text/csv;charset=utf-8' })
  }
  const graph = plotlyGraph(target)
  if (graph) return plotlyImage(graph, format, request)
  if (format === 'svg') throw new Error('this figure is drawn in pixels: export it as PNG')
  return pngOf(composeFigure(target, figureSize(figureBox(target), request)))
}

/** A cell's text with its elements' texts apart ("filters maps", not "filtersmaps": templates drop the blanks between tags). */
function spacedText(cell: HTMLTableCellElement): string {
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT)
  const parts: string[] = []
  for (let node = walker.nextNode(); node; node = walker.nextNode()) parts.push((node as Text).data)
  return parts.join(' ')
}

function pngOf(canvas: HTMLCanvasElement): Promise<Blob> {
  return new Promise((resolve, reject) => {
    try {
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('the figure is too large to encode as PNG'))), 'image/png')
    } catch (err) {
      // A tainted canvas (an image from an origin that did not allow reading it back) cannot be encoded.
      reject(new Error(`the figure's images cannot be read back: ${(err as Error).message}`))
    }
  })
}
