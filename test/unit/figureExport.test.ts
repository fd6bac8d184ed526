/**
 * Figure export's pure parts (src/renderer/src/export): CSV quoting as RFC 4180 reads it back, an HTML
 * table's rows with colspans and exact `data-csv` values, the PNG size for 2× and for a chosen width with
 * its caps, `<model>-<view>-<what>` file names, and the data: URLs plotly hands back decoded to bytes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { csvField, tableRows, toCsv } from '../../src/renderer/src/export/csv'
import { dataUrlBytes } from '../../src/renderer/src/export/dataUrl'
import { figureFileName } from '../../src/renderer/src/export/fileName'
import { MAX_AREA, MAX_SIDE, figureSize } from '../../src/renderer/src/export/figureSize'

/** A strict RFC 4180 reader, to check that what toCsv writes reads back as the same cells. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++
      else if (c === '"') quoted = false
      else field += c
    } else if (c === '"') quoted = true
    else if (c === ',') row.push(field), (field = '')
    else if (c === '\r' && text[i + 1] === '\n') rows.push([...row, field]), (row = []), (field = ''), i++
    else field += c
  }
  assert.equal(field + row.join(''), '', 'the text ends with a CRLF')
  return rows
}

test('plain fields stay bare; commas, quotes, line breaks and edge spaces are quoted with quotes doubled', () => {
  assert.equal(csvField('conv1'), 'conv1')
  assert.equal(csvField(0.25), '0.25')
  assert.equal(csvField(null), '')
  assert.equal(csvField(undefined), '')
  assert.equal(csvField('[13, 13, 96]'), '"[13, 13, 96]"')
  assert.equal(csvField('say "cat"'), '"say ""cat"""')
  assert.equal(csvField('two\nlines'), '"two\nlines"')
  assert.equal(csvField(' padded'), '" padded"')
})

test('toCsv writes CRLF rows that an RFC 4180 reader reads back cell for cell', () => {
  const rows = [
    ['method', 'top-1 loc. err.', 'note'],
    ['Grad-CAM', '71.4 %', 'a "quoted", multi\r\nline note'],
    ['CAM', '', ' edge '],
  ]
  const text = toCsv(rows)
  assert.ok(text.startsWith('method,top-1 loc. err.,note\r\n'))
  assert.deepEqual(parseCsv(text), rows)
})

test('tableRows reads head and body cells as shown, fills colspans and prefers data-csv', () => {
  const cell = (textContent: string, extra: { colSpan?: number; csv?: string } = {}) => ({
    textContent,
    colSpan: extra.colSpan ?? 1,
    dataset: extra.csv === undefined ? {} : { csv: extra.csv },
  })
  const table = {
    rows: [
      { cells: [cell('#'), cell('Layer'), cell('RF', { colSpan: 2 })] },
      { cells: [cell(' 0 '), cell('\n  conv1\n  '), cell('11'), cell('4')] },
      { cells: [cell('1'), cell('dense'), cell('1.2 M', { csv: '1234567' }), cell('')] },
    ],
  }
  assert.deepEqual(tableRows(table), [
    ['#', 'Layer', 'RF', ''],
    ['0', 'conv1', '11', '4'],
    ['1', 'dense', '1234567', ''],
  ])
})

test('2× doubles the CSS size; a chosen width sets the width and keeps the aspect', () => {
  assert.deepEqual(figureSize({ width: 300.5, height: 120 }, { scale: 2 }), { scale: 2, width: 601, height: 240, reduced: false })
  const wide = figureSize({ width: 400, height: 250 }, { width: 1600 })
  assert.equal(wide.scale, 4)
  assert.deepEqual([wide.width, wide.height, wide.reduced], [1600, 1000, false])
  // A width below the CSS size shrinks the figure.
  assert.deepEqual(figureSize({ width: 900, height: 300 }, { width: 300 }), { scale: 1 / 3, width: 300, height: 100, reduced: false })
})

test('sizes over the canvas caps are reduced to fit, and say so', () => {
  const tall = figureSize({ width: 900, height: 12000 }, { scale: 2 })
  assert.ok(tall.reduced)
  assert.ok(tall.height <= MAX_SIDE && tall.width * tall.height <= MAX_AREA + tall.width + tall.height)
  const big = figureSize({ width: 4000, height: 4000 }, { scale: 4 })
  assert.ok(big.reduced)
  assert.ok(big.width * big.height <= MAX_AREA * 1.001)
  assert.equal(big.width, big.height)
})

test('a figure without a size, or a size of zero, is refused', () => {
  assert.throws(() => figureSize({ width: 0, height: 100 }, { scale: 2 }), /no size/)
  assert.throws(() => figureSize({ width: 100, height: 100 }, { width: 0 }), /not a usable size/)
  assert.throws(() => figureSize({ width: 100, height: 100 }, { scale: Number.NaN }), /not a usable size/)
})

test('file names are <model>-<view>-<what>.<ext> with unsafe characters replaced', () => {
  assert.equal(figureFileName({ model: 'demo-gap', view: 'activations', what: 'grid' }, 'png'), 'demo-gap-activations-grid.png')
  assert.equal(figureFileName({ model: 'My net / v2 (é)', view: 'classes', what: 'cam cards' }, 'png'), 'My-net-v2-e-classes-cam-cards.png')
  assert.equal(figureFileName({ model: null, view: 'architecture', what: 'table' }, 'csv'), 'architecture-table.csv')
  assert.equal(figureFileName({ model: '..', view: '', what: '' }, 'svg'), 'figure.svg')
})

test('data: URLs decode to their bytes: base64 (plotly PNG) and percent-encoded (plotly SVG)', () => {
  const png = dataUrlBytes(`data:image/png;base64,${Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 255]).toString('base64')}`)
  assert.equal(png.type, 'image/png')
  assert.deepEqual([...png.bytes], [0x89, 0x50, 0x4e, 0x47, 0, 255])
  const svg = dataUrlBytes(`data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg"><text>AUC · 0.5 %</text></svg>')}`)
  assert.equal(svg.type, 'image/svg+xml')
  assert.equal(new TextDecoder().decode(svg.bytes), '<svg xmlns="http://www.w3.org/2000/svg"><text>AUC · 0.5 %</text></svg>')
  assert.throws(() => dataUrlBytes('blob:http://x/1'), /not a data: URL/)
})
