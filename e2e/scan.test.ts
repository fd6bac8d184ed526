/**
 * Dataset scans end to end (issue 4) in served mode: open a model and an image folder, scan it from the Units
 * view with progress in the view and the status bar, cancel and resume, then see a unit's top patches, the
 * histograms, the overview, and a click on a patch selecting its image. Screenshots: test-results/e2e/scan-*.png.
 */
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import sharp from 'sharp'
import type { Page } from 'playwright-core'
import { makeTinyCnn, seededRandom } from '../test/fixtures/models'
import { browserMissing, collectPageErrors, screenshot, servedSession, waitForCount, waitForText } from './helpers'

const missing = browserMissing()
const CLASSES = ['discs', 'stripes', 'checks']
const PER_CLASS = 300 // enough images that the scan runs for a few seconds on the cpu backend

/** Small pictures with a class-typical pattern at a random place, so units have something to prefer. */
async function makeDataset(dir: string): Promise<void> {
  const rand = seededRandom(3)
  const w = 64
  const h = 48
  for (const [c, cls] of CLASSES.entries()) {
    await mkdir(join(dir, cls), { recursive: true })
    const jobs: Promise<unknown>[] = []
    for (let i = 0; i < PER_CLASS; i++) {
      const cx = 12 + rand() * 40
      const cy = 10 + rand() * 28
      const bg = [rand() * 120, rand() * 120, rand() * 120]
      const px = Buffer.alloc(w * h * 3)
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const d2 = (x - cx) ** 2 + (y - cy) ** 2
          const on = c === 0 ? d2 < 60 : c === 1 ? d2 < 150 && x % 4 < 2 : d2 < 150 && (Math.floor(x / 3) + Math.floor(y / 3)) % 2 === 0
          const colour = on ? [240, 60 + 80 * c, 40] : bg
          px.set(colour.map(Math.round), (y * w + x) * 3)
        }
      }
      jobs.push(sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(dir, cls, `${cls}-${String(i).padStart(3, '0')}.png`)))
    }
    await Promise.all(jobs)
  }
}

// tfjs on the cpu backend: slow enough that the scan runs for a while (progress, cancel); onnxruntime, the default
// executor, can finish the 900 images before the test clicks Cancel.
// Decode threads asked for (the engine inherits this file's environment): 900 images are under the size from which
// scans use them by default, and this scan's cancel and resume should run through them too.
process.env.CONVSCOPE_DECODE_THREADS = '1'
const session = servedSession('convscope-e2e-scan-', ['--backend', 'cpu', '--no-demo', '--executor', 'tfjs'])

test('units view: scan a folder with progress, cancel, resume, then a unit’s top patches and histograms', { timeout: 300_000, skip: missing ?? false }, async (t) => {
  const modelDir = join(session.tmp, 'tiny-cnn')
  const imageDir = join(session.tmp, 'shapes')
  // 96² input: slow enough on the cpu backend that the scan runs for a while (progress, cancel)
  await makeTinyCnn(modelDir, { inputSize: 96, sidecar: { inputSize: [96, 96], range: [0, 1], resize: 'stretch' }, labels: 'txt' })
  await makeDataset(imageDir)

  const page: Page = await session.browser.newPage({ viewport: { width: 1440, height: 900 } })
  const errors = collectPageErrors(page)
  await page.goto(session.served.url)

  await t.test('open the model and the image folder', async () => {
    await waitForText(page.getByTestId('backend-name'), /^cpu$/)
    await page.getByTestId('model-path-input').fill(modelDir)
    await page.getByTestId('open-model-button').click()
    await waitForText(page.getByTestId('model-facts'), /Parameters/)
    await page.getByTestId('image-folder-input').fill(imageDir)
    await page.getByTestId('open-image-folder-button').click()
    await waitForText(page.getByTestId('image-folder-summary'), /900 images/)
  })

  await t.test('the Units view offers to scan the folder with the default layers', async () => {
    await page.getByTestId('tab-units').click()
    await page.getByTestId('scan-start-button').waitFor()
    const layers = await page.getByTestId('scan-layers').locator('input:checked').evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value))
    // Issue 9: the activation outputs (ReLU fused into conv1, dw2, pw2, conv4; relu3 after the add), not conv3 before its ReLU.
    assert.deepEqual(layers, ['conv1', 'dw2', 'pw2', 'relu3', 'conv4'], 'the activation outputs')
    await screenshot(page, 'scan-01-ready')
  })

  await t.test('scanning shows progress with images/s and ETA, also in the status bar; cancel stops it', async () => {
    for (const layer of ['conv1', 'dw2', 'pw2']) await page.getByTestId('scan-layers').locator(`input[value="${layer}"]`).uncheck()
    await page.getByTestId('scan-k').fill('8')
    await page.getByTestId('scan-start-button').click()
    await page.getByTestId('scan-progress').waitFor()
    await waitForText(page.getByTestId('scan-progress-text'), /^\d+\/900 images · ETA \d+:\d\d · [\d.]+ images\/s · 0 skipped$/)
    await waitForText(page.getByTestId('engine-busy'), /Scanning shapes[\s\S]*\d+\/900 [\d.]+ images\/s/)
    await screenshot(page, 'scan-02-progress')
    await page.getByTestId('scan-cancel').click()
    await page.getByTestId('scan-progress').waitFor({ state: 'detached' })
    await page.getByTestId('scan-resume').waitFor()
  })

  await t.test('resuming finishes the scan; the unit’s top patches and histograms appear', async () => {
    await page.getByTestId('scan-resume').click()
    await page.getByTestId('scan-progress').waitFor()
    await page.getByTestId('unit-patches').waitFor({ timeout: 120_000 })
    assert.equal(await page.getByTestId('unit-patch').count(), 8)
    assert.equal(await page.getByTestId('units-layer-select').inputValue(), 'conv4')
    await waitForText(page.getByTestId('scan-facts'), /900 images/)
    await page.getByTestId('class-histogram').locator('.main-svg').first().waitFor()
    await page.getByTestId('activation-histogram').locator('.main-svg').first().waitFor()
    const classes = await page.getByTestId('class-histogram').locator('.xtick text').allTextContents()
    assert.ok(classes.length >= 1 && classes.every((c) => CLASSES.includes(c)), `class axis: ${classes}`)
    await waitForCount(page.locator('[data-testid="unit-patch"] .crop:not([data-ready="true"])'), 0, 30_000)
    await page.getByTestId('unit-patch').nth(2).hover()
    await waitForText(page.getByTestId('patch-preview'), /^\s*#3\s/)
    await screenshot(page, 'scan-03-unit')
  })

  await t.test('another unit, the overview, and a click on a patch selects its image', async () => {
    await page.getByTestId('units-unit-input').fill('5')
    await page.getByTestId('units-unit-input').dispatchEvent('change')
    await waitForText(page.getByTestId('status-unit'), /^5$/)
    await page.getByTestId('units-mode-overview').click()
    await page.getByTestId('units-overview').waitFor()
    await waitForText(page.getByTestId('units-overview'), /unit 15/, 60_000)
    assert.equal(await page.getByTestId('overview-row').count(), 16)
    await waitForCount(page.locator('[data-testid="units-overview"] .crop:not([data-ready="true"])'), 0, 60_000)
    await screenshot(page, 'scan-04-overview')
    await page.getByTestId('overview-row').nth(2).getByRole('button', { name: 'unit 2' }).click()
    await page.getByTestId('unit-patches').waitFor()
    await waitForText(page.getByTestId('status-unit'), /^2$/)
    const first = page.getByTestId('unit-patch').first()
    const title = (await first.getAttribute('title')) ?? ''
    await first.click()
    const name = /\/([^/\n]+\.png)/.exec(title)![1]!
    await waitForText(page.getByTestId('status-selection'), new RegExp(name.replace('.', '\\.')))
    await screenshot(page, 'scan-05-selected')
  })

  await t.test('a dense layer can be ticked and scanned: its units are 1×1 maps whose patch is the whole image', async () => {
    await page.getByTestId('units-mode-unit').click()
    const chips = page.getByTestId('scan-layers')
    const fc = chips.locator('input[value="fc"]')
    await fc.waitFor()
    assert.equal(await fc.isChecked(), false, 'dense layers are offered, not ticked by default')
    for (const layer of await chips.locator('input:checked').evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value))) {
      await chips.locator(`input[value="${layer}"]`).uncheck()
    }
    await fc.check()
    await page.getByTestId('scan-start-button').click()
    await waitForText(page.getByTestId('units-layer-select'), /fc/, 120_000)
    await waitForCount(page.getByTestId('unit-patch'), 8, 120_000)
    assert.equal(await page.getByTestId('units-layer-select').inputValue(), 'fc')
    // The images are 64×48: the patch's box is all of each.
    await page.getByTestId('unit-patch').first().hover()
    const box = page.getByTestId('patch-preview').locator('rect.field')
    await box.waitFor()
    assert.deepEqual(await box.evaluate((r) => ['x', 'y', 'width', 'height'].map((a) => r.getAttribute(a))), ['0', '0', '64', '48'])
    await screenshot(page, 'scan-06-dense')
  })

  assert.deepEqual(errors, [])
})
