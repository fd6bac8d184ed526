/**
 * Tables as CSV (RFC 4180): fields with a comma, a quote, a line break or edge spaces are quoted, quotes
 * doubled, rows end in CRLF. Pure (no DOM types), so node tests cover it; an HTML table fits `TableLike`.
 */

export type CsvValue = string | number | null | undefined

export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return ''
  const text = String(value)
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

export const toCsv = (rows: readonly (readonly CsvValue[])[]): string => rows.map((row) => row.map(csvField).join(',') + '\r\n').join('')

/** The parts of an HTMLTableElement the export reads: its rows (head and body) and their cells. */
export interface TableLike {
  rows: ArrayLike<{ cells: ArrayLike<CellLike> }>
}
export interface CellLike {
  textContent: string | null
  colSpan?: number
  /** `data-csv` on a cell gives the exact value where the cell shows a rounded or decorated one. */
  dataset?: { csv?: string }
}

/** The cells' text as shown (white space collapsed), a colspan filled with empty fields so columns line up. */
export function tableRows(table: TableLike): string[][] {
  return Array.from(table.rows, (row) =>
    Array.from(row.cells).flatMap((cell) => {
      const text = cell.dataset?.csv ?? (cell.textContent ?? '').replace(/\s+/g, ' ').trim()
      return [text, ...Array<string>(Math.max(0, (cell.colSpan ?? 1) - 1)).fill('')]
    }),
  )
}
