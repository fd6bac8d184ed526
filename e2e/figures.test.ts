/**
 * Figures out (issue 9, item 8) in served mode on the bundled demo: each view's export menu saves a file
 * through the browser's download. PNGs of the Filters grid at 2× and at a chosen width, of the Activations
 * grid (channels scrolled out of view included) and of the Classes view's CAM cards (canvases drawn from
 * images stay readable): the signature, the pixel size against the element's, real content. A Plotly chart
 * as SVG that parses as SVG; the Architecture table and the Jobs list as CSV with header and rows.
 * The menu's screenshot and the downloaded files: test-results/e2e/figures-*.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import sharp from 'sharp'
import type { Locator, Page } from 'playwright-core'
import { browserMissing, collectPageErrors, SCREENSHOTS, screenshot, servedSession, waitForCount, waitForText } from './helpers'

const missing = browserMissing()
const session = servedSession('convscope-e2e-figures-', ['--backend', 'wasm'])

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** The export menu of the figure whose `data-what` matches (`=` exact, `^=` prefix). */
const exportMenu = (page: Page, what: string, match: '=' | '^=' = '='): Locator => page.locator(`[data-testid="figure-export"][data-what${match}"${what}"]`)

/** Open an export menu, click `button`, and return the downloaded file's name and bytes. */
async function exportFigure(page: Page, menu: Locator, button: string, before?: (menu: Locator) => Promise<void>): Promise<{ name: string; bytes: Buffer }> {
  await menu.locator('summary').click()
  await before?.(menu)
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), menu.getByTestId(button).click()])
  // Kept beside the screenshots, to look at what a researcher gets.
  const path = join(SCREENSHOTS, `figures-download-${button.replace(/^export-/, '')}-${download.suggestedFilename()}`)
  await download.saveAs(path)
  return { name: download.suggestedFilename(), bytes: await readFile(path) }
}

/** Width and height from a PNG's IHDR chunk, after checking the signature. */
function pngSize(bytes: Buffer): { width: number; height: number } {
  assert.ok(bytes.subarray(0, 8).equals(PNG_SIGNATURE), 'the file starts with the PNG signature')
  assert.equal(bytes.subarray(12, 16).toString('latin1'), 'IHDR')
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) }
}

/** A blank (one-colour) PNG would mean nothing was drawn: count the distinct colours of a downsized copy. */
async function distinctColours(bytes: Buffer): Promise<number> {
  const { data } = await sharp(bytes).resize(200, 200, { fit: 'fill', kernel: 'nearest' }).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  const colours = new Set<number>()
  for (let i = 0; i < data.length; i += 3) colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!)
  return colours.size
}

/** RFC 4180 rows (quoted fields, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  const field = /("(?:[^"]|"")*"|[^,\r\n]*)(,|\r\n)/gy
  let row: string[] = []
  let end = 0
  for (let m = field.exec(text); m; m = field.exec(text)) {
    row.push(m[1]!.startsWith('"') ? m[1]!.slice(1, -1).replace(/""/g, '"') : m[1]!)
    if (m[2] === '\r\n') rows.push(row), (row = [])
    end = field.lastIndex
  }
  assert.equal(end, text.length, 'the whole text is CRLF-ended CSV rows')
  return rows
}

test('figure export: PNG at 2× and at a chosen width, SVG of a chart, CSV of a table', { timeout: 400_000, skip: missing ?? false }, async (t) => {
  const page: Page = await session.browser.newPage({ viewport: { width: 1600, height: 1000 }, acceptDownloads: true })
  const errors = collectPageErrors(page)
  await page.goto(session.served.url)

  await t.test('the demo opens on first start', async () => {
    await waitForText(page.getByTestId('model-name'), /^gap$/, 240_000)
    await waitForText(page.getByTestId('image-folder-summary'), /1400 images/, 240_000)
  })

  await t.test('the Filters grid as PNG at 2× the element and at a chosen width, with its tiles drawn', async () => {
    await page.getByTestId('tab-filters').click()
    const select = page.getByTestId('filters-layer-select')
    const first = (await select.locator('option:not([disabled])').first().getAttribute('value'))!
    await select.selectOption(first)
    await page.getByTestId('filter-tile').first().waitFor({ timeout: 60_000 })
    const box = (await page.getByTestId('filters-grid').boundingBox())!

    await exportMenu(page, 'grid').locator('summary').click()
    await screenshot(page, 'figures-01-menu')
    await exportMenu(page, 'grid').locator('summary').click()

    const double = await exportFigure(page, exportMenu(page, 'grid'), 'export-png-2x')
    assert.equal(double.name, 'gap-filters-grid.png')
    const size = pngSize(double.bytes)
    assert.ok(Math.abs(size.width - 2 * box.width) <= 1 && Math.abs(size.height - 2 * box.height) <= 1, `2× of ${box.width}×${box.height}: got ${size.width}×${size.height}`)
    assert.ok((await distinctColours(double.bytes)) > 20, 'the filter tiles are drawn, not a blank page')

    const chosen = await exportFigure(page, exportMenu(page, 'grid'), 'export-png-width', (menu) => menu.getByTestId('export-width').fill('1000'))
    const sized = pngSize(chosen.bytes)
    assert.equal(sized.width, 1000)
    assert.ok(Math.abs(sized.height - (1000 * box.height) / box.width) <= 1, `height keeps the aspect: ${sized.height} for ${box.width}×${box.height}`)
  })

  await t.test('the Activations grid as PNG at 2×, all its channels (also those scrolled out of view)', async () => {
    await page.getByTestId('tab-activations').click()
    await page.getByTestId('activation-tile').first().waitFor({ timeout: 60_000 })
    const grid = page.getByTestId('activations-grid')
    const box = (await grid.boundingBox())!
    const hidden = await grid.evaluate((el) => el.scrollHeight - el.clientHeight)
    const png = await exportFigure(page, exportMenu(page, 'grid'), 'export-png-2x')
    assert.equal(png.name, 'gap-activations-grid.png')
    const size = pngSize(png.bytes)
    assert.ok(Math.abs(size.width - 2 * box.width) <= 1, `2× the grid's width ${box.width}: ${size.width}`)
    assert.ok(Math.abs(size.height - 2 * (box.height + hidden)) <= 1, `2× the grid's height ${box.height} + ${hidden} scrolled away: ${size.height}`)
    assert.ok((await distinctColours(png.bytes)) > 20, 'the channel maps are drawn')
  })

  await t.test('the Architecture table as CSV: its header and a row per layer', async () => {
    await page.getByTestId('tab-architecture').click()
    await page.getByTestId('arch-row-conv_last').waitFor()
    const names = await page.locator('[data-testid="arch-table"] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-layer')))
    const csv = await exportFigure(page, exportMenu(page, 'layers'), 'export-csv')
    assert.equal(csv.name, 'gap-architecture-layers.csv')
    const rows = parseCsv(csv.bytes.toString('utf8'))
    assert.deepEqual(rows[0]!.slice(0, 6), ['#', 'Layer', 'Type', 'Kind', 'Output', 'Params'])
    assert.deepEqual(
      rows.slice(1).map((r) => r[1]),
      names,
    )
    assert.ok(rows.every((r) => r.length === rows[0]!.length), 'every row has the header\'s columns')
    const conv = rows.find((r) => r[1] === 'conv_last')!
    assert.match(conv[4]!, /^\[[\d?]+(, [\d?]+)+\]$/, `the output shape, quoted because of its commas: ${conv[4]}`)
    assert.match(conv[5]!, /^\d+$/, `the exact parameter count: ${conv[5]}`)
    assert.equal(conv[10], 'filters maps', 'the badges of a cell, apart')
  })

  await t.test('the Jobs list (cards, not a <table>) as CSV: the demo images job, done', async () => {
    await page.getByTestId('tab-jobs').click()
    await page.getByTestId('job-row').first().waitFor()
    const shown = await page.getByTestId('job-row').count()
    const csv = await exportFigure(page, exportMenu(page, 'jobs'), 'export-csv')
    assert.equal(csv.name, 'gap-jobs-jobs.csv')
    const rows = parseCsv(csv.bytes.toString('utf8'))
    assert.deepEqual(rows[0], ['job', 'method', 'state', 'done', 'rate', 'ETA', 'elapsed', 'skipped', 'message'])
    assert.equal(rows.length - 1, shown, 'a row per job card')
    assert.ok(rows.slice(1).some((r) => r[2] === 'done'), `a finished job: ${JSON.stringify(rows.slice(1))}`)
  })

  await t.test('the Classes view: CAM cards as PNG and the deletion / insertion chart as SVG', async () => {
    await page.getByTestId('tab-classes').click()
    await waitForCount(page.getByTestId('cam-card'), 5, 60_000)
    await waitForCount(page.locator('[data-testid="cam-card"] [data-testid="heatmap"]:not([data-ready="true"])'), 0)
    const cardsBox = (await page.getByTestId('cam-cards').boundingBox())!
    const cards = await exportFigure(page, exportMenu(page, 'cam-top5-', '^='), 'export-png-2x')
    assert.match(cards.name, /^gap-classes-cam-top5-.+\.png$/)
    const size = pngSize(cards.bytes)
    assert.ok(Math.abs(size.width - 2 * cardsBox.width) <= 1 && Math.abs(size.height - 2 * cardsBox.height) <= 1, `2× of ${cardsBox.width}×${cardsBox.height}: got ${size.width}×${size.height}`)
    assert.ok((await distinctColours(cards.bytes)) > 100, 'the images and their heatmaps are drawn')

    await page.getByTestId('faithfulness-chart').locator('.main-svg').first().waitFor({ timeout: 60_000 })
    const svg = await exportFigure(page, exportMenu(page, 'faithfulness-chart'), 'export-svg')
    assert.equal(svg.name, 'gap-classes-faithfulness-chart.svg')
    const text = svg.bytes.toString('utf8')
    assert.equal(XMLValidator.validate(text), true, 'the SVG is well-formed XML')
    const root = new XMLParser({ ignoreAttributes: false }).parse(text) as { svg?: Record<string, string> }
    assert.ok(root.svg, 'its root element is <svg>')
    assert.equal(root.svg['@_xmlns'], 'http://www.w3.org/2000/svg')
    assert.match(text, /deletion · AUC \d\.\d{3}/, 'the legend is vector text in the SVG')
  })

  assert.deepEqual(errors, [])
})
