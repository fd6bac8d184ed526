/**
 * The representation space end to end (issue 13) in served mode on the bundled demo (the GAP network and
 * its 1400 val images, opened on first start): the codes job with progress; a PCA map; hover shows the
 * image; a click selects it and the Activations view follows; a box selection lists its images; the
 * neighbours panel, code space beside pixel space; a t-SNE map with progress; the image grid and its PNG;
 * then a 50 000-point map (a codes folder the test writes from the demo's codes, format in
 * engine/codes/codesFolder.ts) whose hover and pan latencies are measured in the page and written to
 * test-results/e2e/embeddings-50k.json beside the screenshot embeddings-05-map-50k.png. Hover and each pan frame
 * must take under 100 ms, on software WebGL too (a pan moves the last GL frame: components/EmbeddingMap.vue);
 * after the pan the points are drawn where the axes put them.
 */
import assert from 'node:assert/strict'
import { mkdir, open, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Locator, Page } from 'playwright-core'
import { npyHeader, readNpy } from '../src/main/engine/store/npy'
import { browserMissing, collectPageErrors, screenshot, SCREENSHOTS, servedSession, waitForCount, waitForDemo, waitForText, waitUntil } from './helpers'

const missing = browserMissing()
const session = servedSession('convscope-e2e-embeddings-', [])
const BIG = 50_000

/** Page coordinates of points of the map's first traces (plotly keeps its axes on the graph div). */
async function pointsOnScreen(map: Locator, count: number): Promise<{ x: number; y: number }[]> {
  return map.evaluate((el, n) => {
    type Axis = { _offset: number; l2p(v: number): number }
    const gd = el as unknown as { _fullLayout: { xaxis: Axis; yaxis: Axis }; _fullData: { x: ArrayLike<number>; y: ArrayLike<number>; hoverinfo: string }[] }
    const rect = (el as unknown as PageElement).getBoundingClientRect()
    const right = rect.left + rect.width
    const bottom = rect.top + rect.height
    const { xaxis, yaxis } = gd._fullLayout
    const out: { x: number; y: number }[] = []
    const traces = gd._fullData.filter((t) => t.hoverinfo !== 'skip')
    for (let i = 0; out.length < n && i < 50 * n; i++) {
      const t = traces[i % traces.length]!
      const j = Math.floor((i * 7919) % t.x.length)
      const x = rect.left + xaxis._offset + xaxis.l2p(t.x[j]!)
      const y = rect.top + yaxis._offset + yaxis.l2p(t.y[j]!)
      if (x > rect.left + 40 && x < right - 60 && y > rect.top + 20 && y < bottom - 40) out.push({ x, y })
    }
    return out
  }, count)
}

/**
 * Of the base traces' points inside the plot area (every 97th), how many have a painted pixel of the GL canvas where the
 * axes put them (plotly's canvases keep their drawing buffer, so a 2-D copy reads the frame on screen when untransformed).
 */
async function paintedWhereAxesPut(map: Locator): Promise<{ painted: number; points: number }> {
  return map.evaluate((el) => {
    type Axis = { _offset: number; _length: number; l2p(v: number): number }
    type Canvas = PageElement & { width: number; height: number }
    type Context = { drawImage(c: unknown, x: number, y: number): void; getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } }
    const gd = el as unknown as { _fullLayout: { xaxis: Axis; yaxis: Axis }; _fullData: { x: ArrayLike<number>; y: ArrayLike<number>; hoverinfo: string }[] }
    const canvas = (el as unknown as PageElement).querySelector('.gl-canvas-context') as Canvas
    const doc = (globalThis as unknown as { document: { createElement(tag: string): Canvas & { getContext(kind: string): Context } } }).document
    const copy = doc.createElement('canvas')
    copy.width = canvas.width
    copy.height = canvas.height
    const context = copy.getContext('2d')
    context.drawImage(canvas, 0, 0)
    const pixels = context.getImageData(0, 0, copy.width, copy.height).data
    const rect = canvas.getBoundingClientRect()
    const ratio = canvas.width / rect.width
    const { xaxis, yaxis } = gd._fullLayout
    let painted = 0
    let points = 0
    for (const t of gd._fullData.filter((d) => d.hoverinfo !== 'skip')) {
      for (let j = 0; j < t.x.length; j += 97) {
        const px = xaxis.l2p(t.x[j]!)
        const py = yaxis.l2p(t.y[j]!)
        if (!(px > 3 && px < xaxis._length - 3 && py > 3 && py < yaxis._length - 3)) continue
        points++
        const cx = Math.round((xaxis._offset + px) * ratio)
        const cy = Math.round((yaxis._offset + py) * ratio)
        if (pixels[(cy * copy.width + cx) * 4 + 3]! > 0) painted++
      }
    }
    return { painted, points }
  })
}

/** Hover each point in turn; the map reports each hover's latency (input event to the frame showing the thumbnail). */
async function hoverLatencies(page: Page, points: { x: number; y: number }[]): Promise<number[]> {
  const box = page.locator('.map-box')
  const out: number[] = []
  for (const p of points) {
    await page.mouse.move(p.x + 30, p.y + 30)
    await page.waitForTimeout(80) // past plotly's hover throttle, so each move is handled as it comes
    const before = await box.getAttribute('data-hover-ms')
    await page.mouse.move(p.x, p.y)
    let after: string | null = null
    await waitUntil(async () => !!(after = await box.getAttribute('data-hover-ms')) && after !== before, 10_000, () => 'a hover thumbnail')
    out.push(Number(after))
  }
  return out
}

/** What the pan measurement uses of the page (the e2e project has no DOM types). */
interface PageWindow {
  document: { dispatchEvent(e: unknown): void }
  MouseEvent: new (type: string, init: Record<string, unknown>) => unknown
  performance: { now(): number }
  requestAnimationFrame(callback: () => void): number
  setTimeout(callback: () => void, ms: number): number
}
interface PageElement {
  querySelector(selector: string): PageElement
  getBoundingClientRect(): { left: number; top: number; width: number; height: number }
  dispatchEvent(e: unknown): void
  style: { transform: string }
}

/**
 * Pan by dragging the plot area: per step, the time from the move event to the frame after it, and the GL
 * canvas's CSS transform then (the last frame moved with the pointer); in the page.
 * (No named functions inside: tsx would wrap them in a helper the page does not have.)
 */
async function panLatencies(map: Locator, steps: number): Promise<{ times: number[]; transforms: string[] }> {
  return map.evaluate(async (el, n) => {
    const w = globalThis as unknown as PageWindow
    const drag = (el as unknown as PageElement).querySelector('.nsewdrag')
    const r = drag.getBoundingClientRect()
    const x0 = r.left + r.width / 2
    const y0 = r.top + r.height / 2
    drag.dispatchEvent(new w.MouseEvent('mousedown', { clientX: x0, clientY: y0, bubbles: true, buttons: 1, button: 0 }))
    const canvas = (el as unknown as PageElement).querySelector('.gl-canvas-context')
    const times: number[] = []
    const transforms: string[] = []
    for (let i = 1; i <= n + 1; i++) {
      const t0 = w.performance.now()
      const last = i > n
      const init = { clientX: x0 + Math.min(i, n) * 12, clientY: y0 + Math.min(i, n) * 6, bubbles: true, buttons: last ? 0 : 1 }
      w.document.dispatchEvent(new w.MouseEvent(last ? 'mouseup' : 'mousemove', init))
      await new Promise<void>((done) => w.requestAnimationFrame(() => w.setTimeout(done, 0)))
      if (last) await new Promise<void>((done) => w.requestAnimationFrame(() => w.setTimeout(done, 0)))
      times.push(w.performance.now() - t0) // the last: the relayout at the end of the drag
      transforms.push(canvas.style.transform)
    }
    return { times, transforms }
  }, steps)
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/**
 * A codes folder of BIG rows next to `dir`: row i is the demo's code of image i mod n plus a little noise, with
 * that image, class and prediction; the thumbnails file is sparse (zeros: the map never reads it).
 */
async function writeBigCodes(dir: string, out: string): Promise<void> {
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'))
  const codes = await readNpy(join(dir, 'codes.npy'))
  const predicted = await readNpy(join(dir, 'predicted.npy'))
  const [n, dim] = codes.shape as [number, number]
  const source = codes.data as Float32Array
  const big = new Float32Array(BIG * dim)
  let seed = 12345
  const noise = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.05
  for (let r = 0; r < BIG; r++) for (let c = 0; c < dim; c++) big[r * dim + c] = source[(r % n) * dim + c]! * (1 + noise())
  const bigPredicted = Int32Array.from({ length: BIG }, (_, r) => (predicted.data as Int32Array)[r % n]!)
  await mkdir(out, { recursive: true })
  await writeFile(join(out, 'codes.npy'), Buffer.concat([npyHeader('float32', [BIG, dim]), Buffer.from(big.buffer)]))
  await writeFile(join(out, 'predicted.npy'), Buffer.concat([npyHeader('int32', [BIG]), Buffer.from(bigPredicted.buffer)]))
  const pixels = await open(join(out, 'pixels.npy'), 'w')
  const header = npyHeader('uint8', [BIG, 3072])
  await pixels.write(header)
  await pixels.truncate(header.length + BIG * 3072)
  await pixels.close()
  const images = Array.from({ length: BIG }, (_, r) => manifest.images[r % n])
  const big50k = { ...manifest, dataset: { ...manifest.dataset, id: `${manifest.dataset.id}-x${BIG}`, count: BIG }, images, skipped: [], codes: { ...manifest.codes, dtype: 'float32' } }
  await writeFile(join(out, 'manifest.json'), JSON.stringify(big50k))
}

test('embeddings: codes, PCA map with hover / click / box select, neighbours, t-SNE, grid; 50 000 points', { timeout: 600_000, skip: missing ?? false }, async (t) => {
  const page: Page = await session.browser.newPage({ viewport: { width: 1600, height: 1000 } })
  const errors = collectPageErrors(page)
  await page.goto(session.served.url)
  const map = page.getByTestId('embedding-map')
  let codesDir = ''

  await t.test('the demo opens; its codes are computed with progress', async () => {
    await waitForDemo(page)
    await page.getByTestId('tab-embeddings').click()
    await page.getByTestId('codes-start').click()
    await waitForText(page.getByTestId('codes-progress-text'), /\d+\/1400 images/, 60_000)
    await waitForText(page.getByTestId('codes-facts'), /1,400 codes of \d+ numbers/, 240_000)
    codesDir = await page.getByTestId('codes-select').inputValue()
    assert.ok(codesDir.includes('codes'), codesDir)
  })

  await t.test('a PCA map: hover shows the image, a click selects it and the Activations view follows', async () => {
    await page.getByTestId('embed-method').selectOption('pca')
    await page.getByTestId('embed-run').click()
    await waitForText(page.getByTestId('embed-caption'), /PCA of 1,400 codes[\s\S]*explained variance \d/, 60_000)
    await map.locator('.scatterlayer, canvas').first().waitFor()
    const [p] = await pointsOnScreen(map, 1)
    await page.mouse.move(p!.x, p!.y)
    const thumb = page.getByTestId('map-hover')
    await thumb.waitFor({ timeout: 10_000 })
    assert.match((await thumb.locator('img').getAttribute('src')) ?? '', /\/file\?path=.*\.(png|jpe?g)&/)
    await screenshot(page, 'embeddings-01-pca-hover')
    const row = Number(await thumb.getAttribute('data-row'))
    await page.mouse.click(p!.x, p!.y)
    const image = await page.getByTestId('neighbours-query-image').locator('strong').getAttribute('title', { timeout: 30_000 })
    assert.match(image ?? '', /\.(png|jpe?g)$/, `selected ${image} (row ${row})`)
    await page.getByTestId('tab-activations').click()
    await waitUntil(async () => (await page.locator('[data-testid="image-item"].selected').getAttribute('data-path').catch(() => null)) === image, 30_000, () => 'the Activations list selects it')
    await page.getByTestId('tab-embeddings').click()
  })

  await t.test('neighbours of the selected image: k in code space beside k in pixel space, nearest first', async () => {
    const panel = page.getByTestId('neighbours-panel')
    await waitForCount(panel.getByTestId('neighbours-code').getByTestId('neighbour'), 10, 30_000)
    await waitForCount(panel.getByTestId('neighbours-pixel').getByTestId('neighbour'), 10, 30_000)
    for (const side of ['code', 'pixel']) {
      const d = (await panel.locator(`[data-testid="neighbours-${side}"] .num`).allTextContents()).map(Number.parseFloat)
      assert.ok(d.every((v, i) => i === 0 || v >= d[i - 1]!), `${side} distances ascending: ${d}`)
    }
    await panel.getByTestId('neighbours-metric-l2').click()
    await waitForText(panel.getByTestId('neighbours-code').locator('h4'), /L2/)
    await waitForCount(panel.getByTestId('neighbours-code').getByTestId('neighbour'), 10, 30_000)
    // The neighbours are marked on the map (an overlay trace), and a click on one selects it.
    await waitUntil(async () => (await map.evaluate((el) => (el as unknown as { _fullData: { name: string }[] })._fullData.some((d) => d.name === 'neighbours'))), 10_000, () => 'the neighbours marked')
    const first = panel.getByTestId('neighbours-code').getByTestId('neighbour').first()
    const path = (await first.getAttribute('title'))!.split('\n')[0]!
    await first.click()
    await waitUntil(async () => (await panel.getByTestId('neighbours-query-image').locator('strong').getAttribute('title')) === path, 30_000, () => 'the neighbour becomes the query')
    await screenshot(page, 'embeddings-02-neighbours')
  })

  await t.test('a box selection lists its images, and a grid of them', async () => {
    await map.locator('.modebar-btn[data-val="select"]').click()
    const box = (await map.locator('.nsewdrag').boundingBox())!
    await page.mouse.move(box.x + box.width * 0.1, box.y + box.height * 0.1)
    await page.mouse.down()
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5, { steps: 8 })
    await page.mouse.move(box.x + box.width * 0.9, box.y + box.height * 0.9, { steps: 8 })
    await page.mouse.up()
    const count = Number((await waitForText(page.getByTestId('lasso-count'), /^\d+ images$/, 10_000)).split(' ')[0])
    assert.ok(count > 0)
    await waitForCount(page.getByTestId('lasso-image'), Math.min(count, 120), 10_000)
    await page.getByTestId('grid-cols').fill('8')
    await page.getByTestId('grid-rows').fill('8')
    await page.getByTestId('lasso-grid').click()
    await waitForText(page.getByTestId('grid-caption'), new RegExp(`${Math.min(count, 64)} images on a 8×8 grid[\\s\\S]*the lasso selection`), 60_000)
    await map.locator('.modebar-btn[data-val="pan"]').click()
    await screenshot(page, 'embeddings-03-selection-grid')
  })

  await t.test('t-SNE with progress, then the image grid of the map and its PNG', async () => {
    await page.getByTestId('embed-method').selectOption('tsne')
    await page.getByTestId('embed-param-iterations').fill('300')
    await page.getByTestId('embed-param-iterations').dispatchEvent('change')
    await page.getByTestId('embed-run').click()
    await waitForText(page.getByTestId('embed-progress-text'), /^\d+\/300 iterations/, 60_000)
    await waitForText(page.getByTestId('embed-caption'), /t-SNE · iterations 300 of 1,400 codes/, 240_000)
    await page.getByTestId('grid-source-map').click()
    await page.getByTestId('grid-cols').fill('12')
    await page.getByTestId('grid-rows').fill('10')
    await page.getByTestId('grid-cell').fill('24')
    await page.getByTestId('grid-run').click()
    await waitForText(page.getByTestId('grid-caption'), /120 images on a 12×10 grid of 24-px cells/, 60_000)
    const grid = page.getByTestId('grid-image')
    await waitUntil(async () => (await grid.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)) === 12 * 24, 30_000, () => 'the grid PNG loads at 12 × 24 px')
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.getByTestId('grid-png').click()])
    const saved = join(session.tmp, download.suggestedFilename())
    await download.saveAs(saved)
    const png = await readFile(saved)
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG')
    assert.equal(png.readUInt32BE(16), 12 * 24, 'PNG width')
    assert.equal(png.readUInt32BE(20), 10 * 24, 'PNG height')
    await page.getByTestId('grid-panel').scrollIntoViewIfNeeded()
    await screenshot(page, 'embeddings-04-tsne-grid')
  })

  await t.test('an image from outside the codes folder as the query (the grid PNG): its code is computed', async () => {
    const src = (await page.getByTestId('grid-image').getAttribute('src'))!
    const png = new URL(src, session.served.url).searchParams.get('path')!
    const panel = page.getByTestId('neighbours-panel')
    await panel.getByTestId('neighbours-path').fill(png)
    await panel.getByTestId('neighbours-query').click()
    await waitForText(panel.getByTestId('neighbours-query-image'), /not in the codes folder/, 60_000)
    await waitForCount(panel.getByTestId('neighbours-code').getByTestId('neighbour'), 10, 30_000)
  })

  await t.test('colour by unit: the unit selected in the Activations view, and why not without a scan of its layer', async () => {
    await page.getByTestId('colour-unit').click()
    await waitForText(page.getByTestId('colour-unit-note'), /Select a unit/)
    await page.getByTestId('tab-activations').click()
    await page.locator('[data-testid="activation-tile"][data-unit="3"] canvas').click({ timeout: 60_000 })
    await waitForText(page.getByTestId('status-unit'), /^3$/)
    await page.getByTestId('tab-embeddings').click()
    await waitForText(page.getByTestId('colour-unit-note'), /No unit colouring: no finished scan of model gap over .* keeps the maxima of layer \S+; scan that folder/, 30_000)
    await page.getByTestId('colour-class').click()
  })

  await t.test(`${BIG.toLocaleString('en-US')} points: hover and pan frames under 100 ms; after the pan the points are drawn where the axes are`, async () => {
    const bigDir = `${codesDir}-x${BIG}`
    await writeBigCodes(codesDir, bigDir)
    await page.getByTestId('tab-units').click() // back to the view: it lists the codes folders again
    await page.getByTestId('tab-embeddings').click()
    await waitUntil(async () => (await page.getByTestId('codes-select').locator(`option[value="${bigDir}"]`).count()) === 1, 30_000, () => 'the big codes folder listed')
    await page.getByTestId('codes-select').selectOption(bigDir)
    await page.getByTestId('embed-method').selectOption('pca')
    await page.getByTestId('embed-run').click()
    await waitForText(page.getByTestId('embed-caption'), /PCA of 50,000 codes/, 120_000)
    await page.getByTestId('colour-class').click()
    await page.waitForTimeout(500)
    const hover = await hoverLatencies(page, await pointsOnScreen(map, 12))
    const paintedBefore = await paintedWhereAxesPut(map)
    const { times: pan, transforms } = await panLatencies(map, 10)
    await page.waitForTimeout(300) // the relayout after the drag has drawn
    const paintedAfter = await paintedWhereAxesPut(map)
    const transformAfter = await map.locator('.gl-canvas-context').evaluate((c) => (c as unknown as PageElement).style.transform)
    const again = await hoverLatencies(page, await pointsOnScreen(map, 6)) // after the pan too
    const hoverAll = [...hover, ...again]
    const webgl = await page.evaluate(() => {
      type GL = { getExtension(name: string): { UNMASKED_RENDERER_WEBGL: number } | null; getParameter(p: number): string }
      const canvas = (globalThis as unknown as { document: { createElement(tag: string): { getContext(kind: string): GL | null } } }).document.createElement('canvas')
      const gl = canvas.getContext('webgl')
      const info = gl?.getExtension('WEBGL_debug_renderer_info')
      return gl && info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : 'none'
    })
    const result = {
      points: BIG,
      webgl,
      hoverMs: hoverAll,
      panStepMs: pan.slice(0, -1),
      relayoutMs: pan[pan.length - 1],
      medianHoverMs: median(hoverAll),
      medianPanStepMs: median(pan.slice(0, -1)),
      panTransforms: transforms,
      paintedBefore,
      paintedAfter,
    }
    await mkdir(SCREENSHOTS, { recursive: true })
    await writeFile(join(SCREENSHOTS, 'embeddings-50k.json'), JSON.stringify(result, null, 2))
    console.log(`50k map: ${JSON.stringify(result)}`)
    await page.mouse.move(10, 10)
    await screenshot(page, 'embeddings-05-map-50k')
    assert.ok(result.medianHoverMs < 100, `median hover ${result.medianHoverMs} ms`)
    assert.ok(result.medianPanStepMs < 100, `median pan step ${result.medianPanStepMs} ms`)
    // During the drag the last frame moved with the pointer (some steps may fall on a redraw at rest).
    const moved = transforms.slice(0, -1).filter((tf) => /^translate\(\d+(\.\d+)?px, \d+(\.\d+)?px\)$/.test(tf))
    assert.ok(moved.length >= 5, `pan steps shown as a moved frame: ${transforms.join(' | ')}`)
    // After it the canvas is back in place with plotly's own frame: the points where the axes put them.
    assert.equal(transformAfter, '')
    assert.ok(paintedBefore.points > 100 && paintedBefore.painted >= 0.95 * paintedBefore.points, `before the pan ${JSON.stringify(paintedBefore)}`)
    assert.ok(paintedAfter.points > 100 && paintedAfter.painted >= 0.95 * paintedAfter.points, `after the pan ${JSON.stringify(paintedAfter)}`)
  })

  assert.deepEqual(errors, [])
})
