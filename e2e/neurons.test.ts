/**
 * From a neuron back to the pixels, end to end (issue 12) in served mode on the bundled demo (the GAP
 * network and its val folder, opened on first start), tfjs on wasm: scan the folder at conv_last; a unit's
 * top patches with their guided-backprop maps in the Units view; the unit card (filter, patches with guided
 * crops, class selectivity, class weights, activation maximization with a live preview then the result)
 * following the selection; pixel maps of the selected image for a unit and a class in three renderings, with
 * the .npy download; occlusion with progress, cancel, and a finished map. Screenshots: test-results/e2e/neurons-*.png.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Page } from 'playwright-core'
import { browserMissing, collectPageErrors, screenshot, servedSession, waitForCount, waitForDemo, waitForText, waitUntil } from './helpers'

const missing = browserMissing()
// tfjs on wasm: occlusion with stride 1 runs long enough to be cancelled (onnxruntime may finish first).
const session = servedSession('convscope-e2e-neurons-', ['--backend', 'wasm', '--executor', 'tfjs'])
const UNIT = 5

test('neurons: unit card with guided patches, class weights and actmax; pixel maps; occlusion', { timeout: 600_000, skip: missing ?? false }, async (t) => {
  const page: Page = await session.browser.newPage({ viewport: { width: 1600, height: 1000 } })
  const errors = collectPageErrors(page)
  await page.goto(session.served.url)

  await t.test('the demo opens; a scan of its folder at conv_last', async () => {
    await waitForDemo(page)
    await page.getByTestId('tab-units').click()
    const layers = page.getByTestId('scan-layers')
    await layers.waitFor()
    for (const box of await layers.locator('input').all()) {
      const value = await box.evaluate((e) => (e as unknown as { value: string }).value)
      await box.setChecked(value === 'conv_last')
    }
    await page.getByTestId('scan-start-button').click()
    await page.getByTestId('units-layer-select').waitFor({ timeout: 240_000 })
    assert.equal(await page.getByTestId('units-layer-select').inputValue(), 'conv_last')
    await page.getByTestId('units-unit-input').fill(String(UNIT))
    await page.getByTestId('units-unit-input').dispatchEvent('change')
    await waitForText(page.getByTestId('status-unit'), new RegExp(`^${UNIT}$`))
    await waitForCount(page.getByTestId('unit-patch'), 16, 60_000)
  })

  await t.test('the Units view shows the guided-backprop map of the unit beside each top patch', async () => {
    await page.getByTestId('units-guided-toggle').check()
    await waitForCount(page.locator('[data-testid="unit-patches"] [data-testid="guided-crop"][data-ready="true"]'), 16, 120_000)
    await screenshot(page, 'neurons-01-units-guided')
  })

  await t.test('the unit card: filter, top patches with guided crops, class selectivity and class weights', async () => {
    await page.getByTestId('units-open-card').click()
    const card = page.getByTestId('unit-card')
    await card.waitFor()
    await waitForText(card.getByTestId('unit-card-unit'), new RegExp(`^${UNIT}$`))
    await card.getByTestId('unit-card-filter').locator('canvas').waitFor({ timeout: 30_000 })
    await waitForCount(card.getByTestId('unit-card-patch'), 8, 60_000)
    await waitForCount(card.locator('[data-testid="guided-crop"][data-ready="true"]'), 8, 60_000)
    await waitForText(card.getByTestId('unit-card-guided-facts'), /8 maps \(8 from the scan folder's cache\)/, 30_000)
    await card.getByTestId('unit-card-selectivity').waitFor()
    await waitForCount(card.getByTestId('unit-card-weight'), 5, 30_000)
    const weights = (await card.locator('[data-testid="unit-card-weight"] .num').allTextContents()).map(Number.parseFloat)
    assert.ok(weights.every((w, i) => i === 0 || w <= weights[i - 1]!), `largest weight first: ${weights}`)
    await screenshot(page, 'neurons-02-unit-card')
  })

  await t.test('activation maximization in the card: a live preview, then the image and its value', async () => {
    const card = page.getByTestId('unit-card')
    await card.getByTestId('unit-card-actmax-steps').fill('96')
    await card.getByTestId('unit-card-actmax-run').click()
    await card.getByTestId('unit-card-actmax-progress').waitFor({ timeout: 30_000 })
    await card.getByTestId('unit-card-actmax-preview').waitFor({ timeout: 120_000 })
    assert.match((await card.getByTestId('unit-card-actmax-preview').getAttribute('src')) ?? '', /^data:image\/png;base64,/)
    await waitForText(card.getByTestId('unit-card-actmax-progress-text'), /^step \d+\/96/)
    await screenshot(page, 'neurons-03-actmax-preview')
    await card.getByTestId('unit-card-actmax-image').waitFor({ timeout: 180_000 })
    await waitForText(card.getByTestId('unit-card-actmax-caption'), new RegExp(`conv_last[\\s\\S]*${UNIT}[\\s\\S]*96 steps`))
    await screenshot(page, 'neurons-04-actmax-result')
  })

  await t.test('the card follows the selection: a tile clicked in the Activations view', async () => {
    await page.getByTestId('tab-activations').click()
    await page.getByTestId('activation-tile').first().waitFor({ timeout: 60_000 })
    await page.locator('[data-testid="activation-tile"][data-unit="7"] canvas').click()
    await waitForText(page.getByTestId('unit-card').getByTestId('unit-card-unit'), /^7$/)
    await waitForCount(page.getByTestId('unit-card').getByTestId('unit-card-patch'), 8, 60_000)
    await page.getByTestId('unit-card-close').click()
    await page.getByTestId('unit-card').waitFor({ state: 'detached' })
  })

  await t.test('pixel maps of the selected image for the unit, then for a class: three renderings and the .npy', async () => {
    const panel = page.getByTestId('pixel-maps')
    await waitUntil(async () => (await panel.getByTestId('pixel-method-select').inputValue().catch(() => '')) === 'guided', 30_000, () => 'guided backprop chosen first')
    await waitForText(panel.getByTestId('pixel-rule'), /\(f>0\)·\(R>0\)·R/)
    await waitForText(panel.getByTestId('pixel-caption'), /conv_last[\s\S]*7/, 60_000)
    await panel.getByTestId('pixel-signed').locator('canvas').waitFor()
    await panel.getByTestId('pixel-abs').locator('canvas').waitFor()
    await panel.locator('[data-testid="pixel-overlay"] [data-testid="heatmap"][data-ready="true"]').waitFor({ timeout: 30_000 })
    await panel.scrollIntoViewIfNeeded()
    await screenshot(page, 'neurons-05-pixel-unit')
    // A position clicked on the enlarged unit (8×8 map): the maps explain the unit there, with its receptive field.
    const enlarged = page.getByTestId('unit-enlarged')
    const box = (await enlarged.boundingBox())!
    await enlarged.click({ position: { x: box.width * (0.5 / 8), y: box.height * (1.5 / 8) } })
    await waitForText(page.getByTestId('unit-picked'), /picked \(y 1, x 0\)/)
    await waitForText(panel.getByTestId('pixel-caption'), /conv_last channel 7 at \(y 1, x 0\)[\s\S]*receptive field/, 60_000)
    await panel.getByTestId('pixel-target-kind-class').click()
    await waitForText(panel.getByTestId('pixel-caption'), /class/, 60_000)
    await panel.locator('[data-testid="pixel-overlay"] [data-testid="heatmap"][data-ready="true"]').waitFor({ timeout: 30_000 })
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), panel.getByTestId('pixel-npy').click()])
    const path = join(session.tmp, download.suggestedFilename())
    await download.saveAs(path)
    const bytes = await readFile(path)
    assert.match(download.suggestedFilename(), /guided.*\.npy$/)
    assert.equal(bytes.subarray(1, 6).toString('latin1'), 'NUMPY')
    assert.match(bytes.toString('latin1', 10, 80), /'descr': '<f4', 'fortran_order': False, 'shape': \(64, 64, 3\)/)
    assert.equal(bytes.length, 128 + 64 * 64 * 3 * 4, 'a 128-byte header, then 64×64×3 float32')
    await panel.getByTestId('pixel-method-select').selectOption('deconvnet')
    await waitForText(panel.getByTestId('pixel-rule'), /\(R>0\)·R/)
    await waitForText(panel.getByTestId('pixel-caption'), /[Dd]econv/, 60_000)
    await screenshot(page, 'neurons-06-pixel-class')
  })

  await t.test('occlusion in the Classes view: progress and cancel, then a finished map over the image', async () => {
    await page.getByTestId('tab-classes').click()
    const panel = page.getByTestId('occlusion')
    await panel.waitFor({ timeout: 60_000 })
    await panel.getByTestId('occlusion-size').fill('8')
    await panel.getByTestId('occlusion-stride').fill('1')
    await panel.getByTestId('occlusion-run').click()
    await waitForText(panel.getByTestId('occlusion-progress-text'), /^\d+\/\d+ /, 60_000)
    await panel.getByTestId('occlusion-cancel').click()
    await panel.getByTestId('occlusion-cancelled').waitFor({ timeout: 30_000 })
    await panel.getByTestId('occlusion-stride').fill('4')
    await panel.getByTestId('occlusion-run').click()
    await waitForText(panel.getByTestId('occlusion-caption'), /15×15 positions of a 8-px grey square, stride 4/, 120_000)
    await panel.locator('[data-testid="heatmap"][data-ready="true"]').waitFor()
    await waitUntil(async () => /^\d+(\.\d+)?,/.test((await panel.getByTestId('heatmap').getAttribute('data-box')) ?? ''), 10_000, () => 'the box of the largest drop')
    await panel.scrollIntoViewIfNeeded()
    await screenshot(page, 'neurons-07-occlusion')
  })

  assert.deepEqual(errors, [])
})
