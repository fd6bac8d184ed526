/**
 * What a new user ran into (issue 9, item 7, part A), in served mode on the bundled demo network: one <main>
 * landmark; the class focus follows a clicked localization failure; Units and the status bar agree on the
 * unit; a failed load clears what it replaced; an image outside the opened folders does not become the
 * selection, and an image the browser cannot draw stays inside its card; a reload or a second tab restores
 * the session (model, folder, layer, unit, image, class, view) from `<workspace>/session.json`.
 * Each step failed before its fix. Screenshots: test-results/e2e/new-user-*.png.
 */
import assert from 'node:assert/strict'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import sharp from 'sharp'
import type { Page } from 'playwright-core'
import { browserMissing, collectPageErrors, makeImageFolder, openImageFolder, screenshot, servedSession, waitForCount, waitForDemo, waitForText, waitUntil } from './helpers'

const missing = browserMissing()
const session = servedSession('convscope-e2e-newuser-', ['--backend', 'wasm'])

/** The status bar's selection, e.g. {layer: 'conv_last', unit: '3', image: 'red_disc.png'}. */
async function statusSelection(page: Page): Promise<{ layer: string; unit: string; image: string }> {
  const codes = await page.getByTestId('status-selection').locator('code').allTextContents()
  return { layer: codes[0]?.trim() ?? '', unit: codes[1]?.trim() ?? '', image: codes[2]?.trim() ?? '' }
}

async function pickImage(page: Page, name: string): Promise<void> {
  await page.locator(`[data-testid="image-item"][data-path$="/${name}"]`).click()
  await waitUntil(async () => (await statusSelection(page)).image === name, 10_000, () => `status bar names ${name}`)
}

/** Nothing inside `selector` reaches past its box (1 px of rounding allowed). */
async function overflowing(page: Page, selector: string): Promise<string[]> {
  return page.locator(selector).evaluateAll((els) =>
    els.flatMap((box) => {
      const outer = box.getBoundingClientRect()
      return [...box.querySelectorAll('*')]
        .map((inner) => ({ inner, r: inner.getBoundingClientRect() }))
        .filter(({ r }) => r.width > 0 && (r.left < outer.left - 1 || r.right > outer.right + 1 || r.bottom > outer.bottom + 1))
        .map(({ inner, r }) => `${inner.tagName.toLowerCase()}.${inner.className} ${Math.round(r.width)}×${Math.round(r.height)} in ${Math.round(outer.width)}×${Math.round(outer.height)}`)
    }),
  )
}

test('what a new user ran into: stale results, refused images, class focus, unit highlight, landmarks, session restore', { timeout: 900_000, skip: missing ?? false }, async (t) => {
  const pictures = join(session.tmp, 'pictures')
  const [redDisc] = await makeImageFolder(pictures)
  // Named like an image, but not one: every load of it fails.
  await writeFile(join(pictures, 'reds', 'broken.png'), 'not a PNG at all')
  // A TIFF (not listed in the folder, shown by its path): the engine reads it, Chromium cannot draw it.
  const tiff = join(pictures, 'stripes', 'scan.tif')
  await sharp(redDisc!).tiff().toFile(tiff)
  // A readable image outside every folder the user opened.
  const outside = join(session.tmp, 'elsewhere', 'outside.png')
  await mkdir(join(outside, '..'), { recursive: true })
  await copyFile(redDisc!, outside)

  const page: Page = await session.browser.newPage({ viewport: { width: 1600, height: 1000 } })
  const errors = collectPageErrors(page)
  await page.goto(session.served.url)

  await t.test('the demo opens on first start', async () => {
    await waitForDemo(page, 300_000)
  })

  await t.test('one <main> landmark in every view, none nested', async () => {
    for (const tab of ['workspace', 'activations', 'units', 'classes']) {
      await page.getByTestId(`tab-${tab}`).click()
      await page.locator(`main[data-view="${tab}"]`).waitFor()
      assert.equal(await page.locator('main').count(), 1, `one <main> in the ${tab} view`)
    }
  })

  await t.test('a localization failure of another class moves the class focus: the strip and the curves follow it', async () => {
    await page.getByTestId('tab-activations').click()
    const second = page.getByTestId('predictions').locator('li').nth(1)
    await second.waitFor({ timeout: 60_000 })
    const picked = Number(await second.getAttribute('data-class'))
    await second.click()
    await page.getByTestId('tab-classes').click()
    await waitUntil(async () => (await page.getByTestId('class-across').getAttribute('data-class')) === String(picked), 60_000, () => `the strip follows class ${picked}`)
    await page.getByTestId('localize-limit').fill('28')
    await page.getByTestId('localize-start').click()
    await page.getByTestId('localize-table').waitFor({ timeout: 180_000 })
    const other = page.locator(`[data-testid="localize-failure"]:not([data-class="${picked}"])`).first()
    await other.waitFor({ timeout: 10_000 })
    const wanted = (await other.getAttribute('data-class'))!
    await other.click()
    let strip: string | null = null
    let curves: string | null = null
    await waitUntil(async () => (strip = await page.getByTestId('class-across').getAttribute('data-class')) === wanted, 30_000, () => `the "across images" strip shows class ${wanted}, not ${strip}`)
    await waitUntil(async () => (curves = await page.getByTestId('faithfulness').getAttribute('data-class')) === wanted, 30_000, () => `the deletion / insertion curves are of class ${wanted}, not ${curves}`)
    await screenshot(page, 'new-user-01-failure-class')
  })

  await t.test('open a small folder (with a broken file) and scan it', async () => {
    await openImageFolder(page, pictures, 5)
    await page.getByTestId('tab-units').click()
    await page.getByTestId('scan-start-button').click()
    await page.getByTestId('units-layer-select').waitFor({ timeout: 120_000 })
  })

  await t.test('after a layer change Units shows the unit the status bar names', async () => {
    const select = page.getByTestId('units-layer-select')
    const options = await select.locator('option').evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value))
    assert.ok(options.length >= 2, `a scan of several layers: ${options}`)
    const next = options.find((o) => o !== options[options.length - 1])!
    await select.selectOption(next)
    await waitUntil(async () => (await statusSelection(page)).layer === next, 10_000, () => `status bar on layer ${next}`)
    await page.getByTestId('unit-patches').waitFor({ timeout: 30_000 })
    const shown = await page.getByTestId('units-unit-input').inputValue()
    assert.equal((await statusSelection(page)).unit, shown, 'the status bar names the unit Units shows')
    await screenshot(page, 'new-user-02-units-layer')
  })

  await t.test('a failed load clears what it replaced (Activations and Classes)', async () => {
    await page.getByTestId('tab-activations').click()
    await pickImage(page, 'red_disc.png')
    await page.getByTestId('activation-tile').first().waitFor({ timeout: 60_000 })
    await page.getByTestId('predictions').waitFor()
    await waitForText(page.getByTestId('activation-image-facts'), /64×48/)
    await pickImage(page, 'broken.png')
    await page.getByTestId('activations-error').waitFor({ timeout: 30_000 })
    assert.equal(await page.getByTestId('activation-tile').count(), 0, 'no grid of the previous image under the broken one')
    assert.equal(await page.getByTestId('predictions').count(), 0, 'no top-5 of the previous image')
    assert.doesNotMatch((await page.getByTestId('activation-image-facts').textContent()) ?? '', /64×48/, 'no size of the previous image')
    await screenshot(page, 'new-user-03-broken-activations')

    await page.getByTestId('tab-classes').click()
    await pickImage(page, 'red_disc.png')
    await waitForCount(page.getByTestId('cam-card'), 5, 60_000)
    await pickImage(page, 'broken.png')
    await page.getByTestId('classmaps-error').waitFor({ timeout: 30_000 })
    assert.equal(await page.getByTestId('cam-card').count(), 0, 'no maps of the previous image under the broken one')
    assert.equal(await page.getByTestId('class-across').count(), 0, 'no strip for the broken image')
  })

  await t.test('an image outside the opened folders is refused and does not become the selection', async () => {
    await page.getByTestId('tab-activations').click()
    await pickImage(page, 'red_disc.png')
    await page.getByTestId('activation-tile').first().waitFor({ timeout: 60_000 })
    await page.getByTestId('image-path-input').fill(outside)
    await page.getByTestId('show-image-button').click()
    await waitForText(page.getByTestId('error-toast'), /outside the folders you opened/, 10_000)
    assert.equal((await statusSelection(page)).image, 'red_disc.png', 'the selection stays on the previous image')
    assert.ok((await page.getByTestId('activation-tile').count()) > 0, 'its activations stay')
    assert.equal(await page.getByTestId('activations-error').count(), 0, 'no error: nothing was computed for the refused file')
    await page.getByTestId('tab-classes').click()
    await waitForCount(page.getByTestId('cam-card'), 5, 60_000)
    assert.equal(await page.getByTestId('classmaps-error').count(), 0)
    await page.getByTestId('error-toast-close').first().click()
  })

  await t.test('an image the browser cannot draw says so inside its card, at 1600×1000 and 1280×720', async () => {
    await page.getByTestId('tab-classes').click()
    await page.getByTestId('image-path-input').fill(tiff)
    await page.getByTestId('show-image-button').click()
    await waitUntil(async () => (await statusSelection(page)).image === 'scan.tif', 10_000, () => 'status bar names scan.tif')
    await waitForCount(page.getByTestId('cam-card'), 5, 60_000)
    await waitForCount(page.locator('[data-testid="cam-card"] [data-testid="heatmap"]:not([data-ready="true"])'), 0)
    await waitForText(page.getByTestId('cam-card').first(), /image not readable/)
    assert.deepEqual(await overflowing(page, '[data-testid="cam-card"]'), [], 'nothing sticks out of the cards')
    await screenshot(page, 'new-user-04-tiff-1600')
    await page.setViewportSize({ width: 1280, height: 720 })
    assert.deepEqual(await overflowing(page, '[data-testid="cam-card"]'), [], 'nothing sticks out of the cards at 1280×720')
    await screenshot(page, 'new-user-05-tiff-1280')
    await page.setViewportSize({ width: 1600, height: 1000 })
  })

  // The session the steps below expect back: red_disc, unit 2 of conv_last's scan layer, a picked class, the Classes view.
  let expected = { layer: '', unit: '', image: '', cls: '' }
  await t.test('a reload (F5) restores model, folder, selection and view', async () => {
    await pickImage(page, 'red_disc.png')
    await page.getByTestId('tab-units').click()
    await page.getByTestId('units-unit-input').fill('2')
    await page.getByTestId('units-unit-input').dispatchEvent('change')
    await waitUntil(async () => (await statusSelection(page)).unit === '2', 10_000, () => 'unit 2 selected')
    await page.getByTestId('tab-classes').click()
    await waitForCount(page.getByTestId('cam-card'), 5, 60_000)
    await page.getByTestId('cam-card').nth(2).click()
    expected = { ...(await statusSelection(page)), cls: (await page.getByTestId('cam-card').nth(2).getAttribute('data-class'))! }
    await waitUntil(async () => (await page.getByTestId('class-across').getAttribute('data-class')) === expected.cls, 10_000, () => 'class picked')
    // The engine writes the session a moment after the last change.
    const file = join(session.tmp, 'workspace', 'session.json')
    await waitUntil(async () => (await readFile(file, 'utf8').catch(() => '')).includes(`"classIndex": ${expected.cls}`), 10_000, () => `${file} holds the class`)
    const saved = JSON.parse(await readFile(file, 'utf8'))
    assert.equal(saved.imageFolder, pictures)
    assert.equal(saved.view, 'classes')

    await page.reload()
    await waitUntil(async () => JSON.stringify(await statusSelection(page)) === JSON.stringify({ layer: expected.layer, unit: expected.unit, image: expected.image }), 60_000, () => 'the selection is back')
    assert.equal(await page.getByTestId('tab-classes').getAttribute('aria-selected'), 'true', 'the Classes view is back')
    await waitUntil(async () => (await page.getByTestId('class-across').getAttribute('data-class')) === expected.cls, 60_000, () => `class ${expected.cls} is back`)
    await waitForCount(page.getByTestId('image-item'), 5)
    await screenshot(page, 'new-user-06-reloaded')
  })

  await t.test('a second tab (no #view in the address) opens the same session', async () => {
    const second = await session.browser.newPage({ viewport: { width: 1280, height: 720 } })
    const secondErrors = collectPageErrors(second)
    await second.goto(session.served.url)
    await waitUntil(async () => JSON.stringify(await statusSelection(second)) === JSON.stringify({ layer: expected.layer, unit: expected.unit, image: expected.image }), 60_000, () => 'the selection in the second tab')
    assert.equal(await second.getByTestId('tab-classes').getAttribute('aria-selected'), 'true')
    await waitForText(second.getByTestId('status-model-id'), /\S/)
    await waitForCount(second.getByTestId('image-item'), 5)
    await screenshot(second, 'new-user-07-second-tab')
    await second.close()
    assert.deepEqual(secondErrors, [])
  })

  // The refused image, the broken file and the TIFF each log a failed resource load in the console: expected.
  assert.deepEqual(
    errors.filter((e) => !/Failed to load resource/.test(e)),
    [],
  )
})
