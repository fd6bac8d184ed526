/**
 * Served mode end to end: `convscope serve` + headless Chromium drive the workbench like a user would.
 * Needs the built renderer (`npx electron-vite build`) and /usr/bin/chromium. Screenshots of every step
 * land in test-results/e2e/.
 */
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Page } from 'playwright-core'
import { makeTinyCnn } from '../test/fixtures/models'
import { browserMissing, collectPageErrors, layersOf, makeImageFolder, openImageFolder, screenshot, servedSession, waitForText, waitUntil } from './helpers'

const missing = browserMissing()
const session = servedSession('convscope-e2e-', ['--backend', 'cpu', '--no-demo'])

test('served mode: open a model, see its layers, filters and activations, linked by one selection', { timeout: 240_000, skip: missing ?? false }, async (t) => {
  const modelDir = join(session.tmp, 'tiny-cnn')
  const imageDir = join(session.tmp, 'images')
  const tiny = await makeTinyCnn(modelDir, { sidecar: true, labels: 'txt' })
  await makeImageFolder(imageDir)
  const filters = new Map((await layersOf(modelDir)).map((l) => [l.name, l.filters]))
  const conv = tiny.convLayers[0] // the first layer, over RGB
  const pointwise = 'pw2'

  const page: Page = await session.browser.newPage({ viewport: { width: 1440, height: 900 } })
  const errors = collectPageErrors(page)
  await page.goto(session.served.url)

  await t.test('the status bar shows the backend the engine chose', async () => {
    await waitForText(page.getByTestId('backend-name'), /^cpu$/)
    await waitForText(page.getByTestId('backend-panel'), /cpu/)
    await screenshot(page, '01-workspace')
  })

  await t.test('the folder browser finds the model folder and opens it', async () => {
    await page.getByTestId('model-path-input').fill(session.tmp)
    await page.getByTestId('browse-model-button').click()
    const entry = page.getByTestId('browse-entry').filter({ hasText: 'tiny-cnn' })
    await waitForText(entry, /tiny-cnn\s*model/)
    await entry.click()
    await waitForText(page.getByTestId('folder-browser'), /model\.json here/)
    await screenshot(page, '02-folder-browser')
    await page.getByTestId('browse-choose').click()
    await waitForText(page.getByTestId('model-facts'), /Parameters/)
    await waitForText(page.getByTestId('model-facts'), /32, 32, 3/)
    await waitForText(page.getByTestId('model-facts'), /convscope\.json/)
    await waitForText(page.getByTestId('recent-models'), /tiny-cnn/)
    assert.equal(await page.getByTestId('model-path-input').inputValue(), modelDir)
    await screenshot(page, '03-model-opened')
  })

  await t.test('the architecture table has a row per layer; a click selects the layer', async () => {
    await page.getByTestId('tab-architecture').click()
    await page.getByTestId('arch-table').waitFor()
    for (const name of tiny.layerNames) await page.getByTestId(`arch-row-${name}`).waitFor()
    await page.getByTestId(`arch-row-${conv}`).click()
    assert.equal(await page.getByTestId(`arch-row-${conv}`).getAttribute('aria-selected'), 'true')
    await screenshot(page, '04-architecture')
  })

  await t.test('the filters view shows one tile per filter of the selected conv layer', async () => {
    await page.getByTestId('tab-filters').click()
    await page.getByTestId('filters-grid').waitFor()
    assert.equal(await page.getByTestId('filters-layer-select').inputValue(), conv)
    assert.equal(await page.getByTestId('filter-tile').count(), Math.min(filters.get(conv)!, 256))
    await waitForText(page.getByTestId('filters-caption'), /max \|w\|/)
    await page.getByTestId('filter-tile').nth(1).locator('canvas').hover()
    await waitForText(page.getByTestId('filters-hover'), /^filter 1, /)
    await screenshot(page, '05-filters-rgb')
  })

  await t.test('other conv layers show one row per filter with a block per input channel', async () => {
    await page.getByTestId('filters-layer-select').selectOption(pointwise)
    await waitForText(page.getByTestId('filters-caption'), /Each row is one output filter/)
    assert.equal(await page.getByTestId('filter-tile').count(), Math.min(16, filters.get(pointwise)!))
    await page.getByTestId('filter-tile').nth(2).locator('canvas').hover({ position: { x: 2, y: 2 } })
    await waitForText(page.getByTestId('filters-hover'), /^filter 2, \(y 0, x 0\), input channel 0: /)
    await screenshot(page, '06-filters-pointwise')
    await page.getByTestId('filters-layer-select').selectOption(tiny.depthwiseLayers[0])
    await waitForText(page.getByTestId('filters-caption'), /depthwise/)
    await screenshot(page, '07-filters-depthwise')
    await page.getByTestId('filters-layer-select').selectOption(conv)
  })

  await t.test('an image folder lists its images with their classes', async () => {
    await openImageFolder(page, imageDir, 4)
    await page.getByTestId('tab-activations').click()
    await page.getByTestId('image-list').waitFor()
    assert.equal(await page.getByTestId('image-item').count(), 4)
    await waitForText(page.getByTestId('image-list'), /stripes/)
  })

  await t.test('picking an image shows it, the top-5 and every channel of the layer', async () => {
    await page.getByTestId('image-item').filter({ hasText: 'red_disc' }).click()
    await page.getByTestId('activations-grid').waitFor()
    assert.equal(await page.getByTestId('activation-tile').count(), filters.get(conv))
    const image = page.getByTestId('activation-image')
    await image.waitFor()
    await waitUntil(async () => (await image.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)) === 64, 30_000, () => 'the image did not load at 64 px wide')
    assert.equal(await page.getByTestId('predictions').locator('li').count(), 5)
    await page.getByTestId('activation-tile').nth(2).locator('canvas').hover()
    await waitForText(page.getByTestId('activations-hover'), /^channel 2 · max/)
    await screenshot(page, '08-activations')
  })

  await t.test('clicking a channel selects that unit, and the filters view follows', async () => {
    await page.getByTestId('activation-tile').nth(3).locator('canvas').click()
    await waitForText(page.getByTestId('status-unit'), /^3$/)
    await waitForText(page.getByTestId('unit-detail'), /Unit 3/)
    assert.match((await page.getByTestId('activation-tile').nth(3).getAttribute('class')) ?? '', /selected/)
    await screenshot(page, '09-unit-selected')
    await page.getByTestId('tab-filters').click()
    const tile = page.locator('[data-testid="filter-tile"][data-unit="3"]')
    await tile.waitFor()
    assert.match((await tile.getAttribute('class')) ?? '', /selected/)
    await screenshot(page, '10-filters-follow-selection')
  })

  await t.test('a non-spatial layer shows its units as a bar chart', async () => {
    await page.getByTestId('tab-activations').click()
    await page.getByTestId('activations-layer-select').selectOption(tiny.outputLayer)
    await page.locator('[data-testid="activations-bars"] .main-svg').first().waitFor({ timeout: 60_000 })
    // plotly listens on its drag layer above the bars: click where bar 4 is drawn
    const bar = await page.locator('[data-testid="activations-bars"] .point').nth(4).boundingBox()
    assert.ok(bar, 'bar 4 is drawn')
    await page.mouse.click(bar.x + bar.width / 2, bar.y + bar.height / 2)
    await waitForText(page.getByTestId('status-unit'), /^4$/)
    await waitForText(page.getByTestId('unit-max'), /class 04/)
    await screenshot(page, '11-output-bars')
  })

  await t.test('a folder without model.json gives an error toast naming the folder', async () => {
    const notModel = join(session.tmp, 'just-notes')
    await mkdir(notModel, { recursive: true })
    await writeFile(join(notModel, 'notes.txt'), 'not a model')
    await page.getByTestId('tab-workspace').click()
    await page.getByTestId('model-path-input').fill(notModel)
    await page.getByTestId('open-model-button').click()
    const toast = page.getByTestId('error-toast')
    await toast.waitFor()
    await waitForText(toast, new RegExp(notModel.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    await screenshot(page, '12-error-toast')
  })

  assert.deepEqual(errors, [], 'no page errors, console errors or CSP violations')
  await page.close()
})
