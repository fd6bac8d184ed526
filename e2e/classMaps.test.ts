/**
 * The Classes view end to end (issue 5) in served mode on the bundled demo (the GAP network and the demo val
 * folder, opened on first start): the top-5 CAMs of an image with class names, scores, boxes and the
 * annotation's boxes; deletion / insertion curves, for the image and averaged over a few images; Grad-CAM and
 * the threshold; a class across images; a localization run over a few
 * images with its table, threshold sweep and failures (and a cancelled one over the whole folder); the
 * fully-convolutional class grid of the fc network. Screenshots: test-results/e2e/classes-*.png.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Page } from 'playwright-core'
import { browserMissing, collectPageErrors, ROOT, screenshot, servedSession, waitForCount, waitForDemo, waitForText, waitUntil } from './helpers'

const missing = browserMissing()
const session = servedSession('convscope-e2e-classes-', ['--backend', 'wasm'])

test('classes view: top-5 CAMs with boxes, a localization run with its table and sweep, the class grid', { timeout: 400_000, skip: missing ?? false }, async (t) => {
  const page: Page = await session.browser.newPage({ viewport: { width: 1600, height: 1000 } })
  const errors = collectPageErrors(page)
  await page.goto(session.served.url)

  await t.test('the demo opens on first start', async () => {
    await waitForDemo(page)
  })

  await t.test('the Classes tab shows the top-5 CAMs with class names, scores, boxes and the ground truth', async () => {
    await page.getByTestId('tab-classes').click()
    await waitForCount(page.getByTestId('cam-card'), 5, 60_000)
    await waitForCount(page.locator('[data-testid="cam-card"] [data-testid="heatmap"]:not([data-ready="true"])'), 0)
    assert.equal(await page.locator('[data-testid="map-method"] button[aria-pressed="true"]').textContent(), 'CAM')
    const labels = (await page.getByTestId('cam-label').allTextContents()).map((s) => s.replace(/^\s*#\d\s*/, '').trim())
    assert.equal(new Set(labels).size, 5, `five different classes: ${labels}`)
    assert.ok(labels.includes('striped triangle'), `the first image is a striped triangle; top-5: ${labels}`)
    const scores = (await page.getByTestId('cam-score').allTextContents()).map((s) => Number.parseFloat(s))
    assert.ok(scores.every((s, i) => i === 0 || s <= scores[i - 1]!), `scores fall with rank: ${scores}`)
    const boxes = await page.locator('[data-testid="cam-card"] [data-testid="heatmap"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-box')))
    assert.ok(boxes.every((b) => /^\d+,\d+,\d+,\d+$/.test(b ?? '')), `a box per map: ${boxes}`)
    const truthCard = page.locator('[data-testid="cam-card"]', { hasText: 'striped triangle' })
    assert.match((await truthCard.getByTestId('heatmap').getAttribute('data-gt')) ?? '', /^\d+,\d+,\d+,\d+/, 'the annotated box is drawn on its class')
    await waitForText(page.getByTestId('classmaps-caption'), /CAM maps of the top-5 classes at conv_last[\s\S]*20 %[\s\S]*annotated striped triangle/)
    await waitForCount(page.getByTestId('class-across-tile'), 12, 60_000)
    await page.getByTestId('faithfulness-chart').locator('.main-svg').first().waitFor({ timeout: 60_000 })
    const legend = await page.getByTestId('faithfulness-chart').locator('.legendtext').allTextContents()
    assert.equal(legend.length, 4, `deletion, insertion and their random baselines: ${legend}`)
    assert.ok(legend.every((l) => /AUC \d\.\d{3}$/.test(l)), `AUCs in the legend: ${legend}`)
    await screenshot(page, 'classes-01-cam')
  })

  await t.test('a class picked among the Activations view\'s predictions is the Classes view\'s focus (linked selection)', async () => {
    await page.getByTestId('tab-activations').click()
    const second = page.getByTestId('predictions').locator('li').nth(1)
    await second.waitFor({ timeout: 60_000 })
    const picked = await second.getAttribute('data-class')
    await second.click()
    await page.locator('[data-testid="predictions"] li.selected').waitFor()
    await page.getByTestId('tab-classes').click()
    await waitForCount(page.locator(`[data-testid="cam-card"].selected[data-class="${picked}"]`), 1, 60_000)
    // Back to the image's top-1 class for the steps below.
    await page.getByTestId('cam-card').first().click()
    await waitForCount(page.locator('[data-testid="cam-card"].selected'), 1)
    assert.equal(await page.locator('[data-testid="cam-card"].selected').getAttribute('data-class'), await page.getByTestId('cam-card').first().getAttribute('data-class'))
  })

  await t.test('mean deletion / insertion curves over 4 images of the folder', async () => {
    await page.getByTestId('faithfulness-folder-limit').fill('4')
    await page.getByTestId('faithfulness-folder-start').click()
    await waitForText(page.getByTestId('faithfulness-folder-facts'), /Mean over 4 images of\s+val/, 120_000)
    await page.getByTestId('faithfulness-folder-chart').locator('.main-svg').first().waitFor()
    assert.equal(await page.getByTestId('faithfulness-folder-chart').locator('.legendtext').count(), 4, 'CAM and the random order, deletion and insertion')
  })

  await t.test('Grad-CAM at the default layer and a higher threshold', async () => {
    await page.locator('[data-testid="map-method"] button[data-method="gradcam"]').click()
    await waitForText(page.getByTestId('classmaps-caption'), /^\s*Grad-CAM maps of the top-5 classes at conv_last/, 60_000)
    await page.getByTestId('map-threshold').fill('0.5')
    await page.getByTestId('map-threshold').dispatchEvent('change')
    await waitForText(page.getByTestId('classmaps-caption'), /above 50 % of the map/, 60_000)
    await waitForCount(page.getByTestId('cam-card'), 5)
    await screenshot(page, 'classes-02-gradcam')
    // The class target's score: Grad-CAM of the probability; CAM explains the logit only (the option is disabled there).
    await page.getByTestId('map-score').selectOption('probability')
    await waitForText(page.getByTestId('classmaps-caption'), /^\s*Grad-CAM maps of the top-5 classes' probabilities at conv_last/, 60_000)
    await waitForCount(page.getByTestId('cam-card'), 5)
    await page.getByTestId('map-threshold').fill('0.2')
    await page.getByTestId('map-threshold').dispatchEvent('change')
    await page.locator('[data-testid="map-method"] button[data-method="cam"]').click()
    await waitForText(page.getByTestId('classmaps-caption'), /^\s*CAM maps of the top-5 classes at[\s\S]*above 20 %/, 60_000)
    assert.equal(await page.getByTestId('map-score').inputValue(), 'logit')
    assert.equal(await page.locator('[data-testid="map-score"] option[value="probability"]').isDisabled(), true)
    await page.getByTestId('map-score').selectOption('logit')
  })

  await t.test('a localization run over 28 images: the method table, the threshold sweep and the failures', async () => {
    await page.getByTestId('localize-limit').fill('28')
    await page.getByTestId('localize-start').click()
    await page.getByTestId('localize-table').waitFor({ timeout: 120_000 })
    await waitForCount(page.getByTestId('localize-row'), 4)
    const methods = await page.locator('[data-testid="localize-row"] td:first-child').allTextContents()
    assert.deepEqual(methods, ['CAM', 'Grad-CAM', 'Grad-CAM++', 'Gradient (backprop)'])
    const cells = await page.locator('[data-testid="localize-row"] td.num').allTextContents()
    assert.ok(cells.every((c) => /^\d+\.\d %$/.test(c)), `percentages: ${cells}`)
    await waitForText(page.getByTestId('localize-facts'), /^\s*28 of 1400 images of\s+val/)
    await page.getByTestId('localize-sweep').locator('.main-svg').first().waitFor()
    assert.equal(await page.getByTestId('localize-sweep').locator('.scatterlayer .trace').count(), 8, 'two curves per method')
    await screenshot(page, 'classes-03-localization')
  })

  await t.test('clicking a failure selects its image', async () => {
    // A failure on an image other than the selected one (the demo net is ~90 % right: 28 images give a few).
    const failure = page.locator('[data-testid="localize-failure"]:not(.selected)').first()
    assert.ok((await page.locator('[data-testid="localize-failure"]:not(.selected)').count()) > 0, 'failures to click through')
    const name = ((await failure.locator('.name').textContent()) ?? '').trim()
    await failure.click()
    await waitForText(page.getByTestId('status-selection'), new RegExp(name.replace('.', '\\.')))
    await waitForCount(page.getByTestId('cam-card'), 5, 60_000)
    await screenshot(page, 'classes-04-failure')
  })

  await t.test('a run over the whole folder shows progress and can be cancelled', async () => {
    await page.getByTestId('localize-limit').fill('')
    await page.getByTestId('localize-start').click()
    await page.getByTestId('localize-progress').waitFor()
    await waitForText(page.getByTestId('localize-progress-text'), /^\d+\/1400 images/, 60_000)
    await page.getByTestId('localize-cancel').click()
    await page.getByTestId('localize-progress').waitFor({ state: 'detached', timeout: 60_000 })
    await waitForText(page.getByTestId('localize-facts'), /28 of 1400 images/, 5_000) // the last finished report stays
  })

  await t.test('the Jobs view lists the evaluations: done, done, cancelled', async () => {
    await page.getByTestId('tab-jobs').click()
    const rows = page.locator('[data-testid="job-row"][data-method="startLocalization"], [data-testid="job-row"][data-method="startFaithfulness"]')
    await waitForCount(rows, 3)
    const states = await rows.evaluateAll((els) => els.map((e) => `${e.getAttribute('data-method')} ${e.getAttribute('data-state')}`))
    assert.deepEqual(states.sort(), ['startFaithfulness done', 'startLocalization cancelled', 'startLocalization done'])
    await page.getByTestId('tab-classes').click()
  })

  await t.test('the fc network: CAM disabled with the reason, and its fully-convolutional class grid', async () => {
    await page.getByTestId('tab-workspace').click()
    await page.getByTestId('model-path-input').fill(join(ROOT, 'resources', 'demo-models', 'fc'))
    await page.getByTestId('open-model-button').click()
    await waitForText(page.getByTestId('model-name'), /^fc$/, 60_000)
    await page.getByTestId('tab-classes').click()
    const cam = page.locator('[data-testid="map-method"] button[data-method="cam"]')
    await cam.waitFor()
    await waitUntil(async () => await cam.isDisabled(), 30_000, () => 'CAM is disabled for fc')
    await waitForText(page.getByTestId('map-unsupported'), /CAM: /)
    await waitForCount(page.getByTestId('cam-card'), 5, 60_000)
    await waitForText(page.getByTestId('class-grid-facts'), /\d+×\d+ positions[\s\S]*flatten → dense as convolutions/, 60_000)
    assert.ok((await page.getByTestId('class-grid-legend').locator('li').count()) >= 1)
    await screenshot(page, 'classes-05-fc-grid')
  })

  assert.deepEqual(errors, [])
})
