/**
 * The Jobs view and the jobs engine process end to end, in served mode: the first start generates the demo
 * images (a job), a scan of them started from the Units view shows up in the Jobs view with its progress;
 * with its progress and a file it skipped; while it runs, the Activations view computes another image's
 * activations (the interactive engine process answers: the window stays responsive); the scan is cancelled from the Jobs view, run again there, resumes
 * from its checkpoint and finishes, and its link opens the Units view. Screenshots: test-results/e2e/jobs-*.png.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Locator, Page } from 'playwright-core'
import { browserMissing, collectPageErrors, screenshot, servedSession, waitForText, waitUntil } from './helpers'

const missing = browserMissing()
// tfjs on wasm: fast enough that the 1 400 demo images scan in a minute or two here, slow enough to act while it
// runs (on onnxruntime, the default executor, the scan can finish before the test gets to cancel it).
const session = servedSession('convscope-e2e-jobs-', ['--backend', 'wasm', '--executor', 'tfjs'])

/** The Jobs view's rows of scans, newest first. */
const scanRows = (page: Page): Locator => page.locator('[data-testid="job-row"][data-method="startScan"]')
const scanRow = (page: Page): Locator => scanRows(page).first()

/** done and total of a row's "done / total images" text. */
async function counts(row: Locator): Promise<{ done: number; total: number }> {
  const text = (await row.getByTestId('job-counts').textContent()) ?? ''
  const match = /^([\d,]+) \/ ([\d,]+)/.exec(text.trim())
  assert.ok(match, `job counts: ${JSON.stringify(text)}`)
  return { done: Number(match[1]!.replace(/,/g, '')), total: Number(match[2]!.replace(/,/g, '')) }
}

/** The activation tiles' titles ("channel k · max v"): they change when another image's activations arrive. */
const tileTitles = (page: Page): Promise<string[]> =>
  page.locator('[data-testid="activations-grid"]:not(.stale) [data-testid="activation-tile"]').evaluateAll((els) => els.slice(0, 24).map((e) => e.getAttribute('title') ?? ''))

test('jobs view: a scan runs in the jobs process while the views answer; cancel, run again (resumed), show its units', { timeout: 600_000, skip: missing ?? false }, async (t) => {
  const page: Page = await session.browser.newPage({ viewport: { width: 1440, height: 900 } })
  const errors = collectPageErrors(page)
  await page.goto(session.served.url)

  await t.test('the first start generates the demo images as a job and opens them', async () => {
    await waitForText(page.getByTestId('image-folder-summary'), /1400 images/, 300_000)
    await page.getByTestId('tab-jobs').click()
    const demo = page.locator('[data-testid="job-row"][data-method="prepareDemo"]')
    await waitForText(demo.getByTestId('job-state'), /^done$/)
    assert.match((await demo.getByTestId('job-counts').textContent()) ?? '', /^1,400 \/ 1,400/)
    // A file the scan cannot read, first in its class folder: the scan skips it, counts it and lists it.
    await writeFile(join(session.tmp, 'workspace', 'demo-data', 'val', 'c00_striped_triangle', 'broken.jpg'), 'not a JPEG')
  })

  await t.test('a scan started in the Units view shows in the Jobs view with progress, images/s, ETA and the skipped file', async () => {
    await page.getByTestId('tab-units').click()
    // Every layer, not only the default ones: a longer scan leaves time to act while it runs on a slow machine.
    for (const box of await page.getByTestId('scan-layers').locator('input[type="checkbox"]').all()) await box.check()
    await page.getByTestId('scan-start-button').click()
    // The status bar shows the running scan and leads to the Jobs view.
    await waitForText(page.getByTestId('engine-busy'), /Scanning val/, 60_000)
    await page.getByTestId('engine-busy').click()
    await page.getByTestId('jobs-view').waitFor()
    const row = scanRow(page)
    await waitForText(row.getByTestId('job-state'), /^running$/)
    await waitForText(row.getByTestId('job-counts'), /^[\d,]+ \/ 1,401 images$/, 120_000)
    await waitForText(row.getByTestId('job-rate'), /^[\d.]+ images\/s$/, 120_000)
    await waitForText(row.getByTestId('job-eta'), /^\d+:\d\d$/)
    await waitForText(row.getByTestId('job-skipped'), /^\s*1 file\s*$/)
    await row.getByTestId('job-skipped-toggle').click()
    await waitForText(row.getByTestId('job-skipped-list'), /c00_striped_triangle\/broken\.jpg\s+\S/)
    assert.match((await row.getByTestId('job-elapsed').textContent()) ?? '', /^\d+:\d\d$/)
    const fraction = Number(await row.getByTestId('job-progress-bar').getAttribute('data-fraction'))
    assert.ok(fraction > 0 && fraction < 1, `progress bar at ${fraction}`)
    await waitForText(page.getByTestId('engine-process-jobs'), /pid \d+ · wasm/)
    const interactive = (await page.getByTestId('engine-process-engine').textContent()) ?? ''
    assert.notEqual(/pid (\d+)/.exec(interactive)?.[1], /pid (\d+)/.exec((await page.getByTestId('engine-process-jobs').textContent()) ?? '')?.[1], 'two processes')
    await screenshot(page, 'jobs-01-running')
  })

  await t.test('while the scan runs, the Activations view gets another image’s activations', async () => {
    await page.getByTestId('tab-activations').click()
    await page.getByTestId('activation-tile').first().waitFor({ timeout: 120_000 })
    const before = await tileTitles(page)
    const started = Date.now()
    await page.getByTestId('image-item').nth(7).click()
    let after: string[] = []
    await waitUntil(async () => (after = await tileTitles(page)).length > 0 && after.join() !== before.join(), 60_000, () => 'new activations')
    const seconds = (Date.now() - started) / 1000
    t.diagnostic(`activations of another image during the scan: ${seconds.toFixed(1)} s`)
    assert.ok(seconds < 20, `activations took ${seconds.toFixed(1)} s while the scan ran`)
    await page.getByTestId('predictions').waitFor()
    await screenshot(page, 'jobs-02-activations-during-scan')
    // It was the scan's own process that stayed busy: the scan is still running.
    await page.getByTestId('tab-jobs').click()
    await waitForText(scanRow(page).getByTestId('job-state'), /^running$/, 5_000)
  })

  let cancelledAt = 0
  await t.test('Cancel in the Jobs view stops the scan', async () => {
    const row = scanRow(page)
    await row.getByTestId('job-cancel').click()
    await waitForText(row.getByTestId('job-state'), /^cancelled$/, 60_000)
    cancelledAt = (await counts(row)).done
    assert.ok(cancelledAt > 0 && cancelledAt < 1401, `cancelled at ${cancelledAt}`)
    assert.equal(await row.getByTestId('job-cancel').count(), 0)
    await screenshot(page, 'jobs-03-cancelled')
  })

  await t.test('Run again resumes the scan from its checkpoint and finishes it; its link opens the Units view', async () => {
    await scanRow(page).getByTestId('job-rerun').click()
    await waitUntil(async () => (await scanRows(page).count()) === 2, 10_000, () => 'a second scan row')
    const row = scanRow(page) // the newest
    await waitForText(row.getByTestId('job-state'), /^(running|done)$/)
    await waitForText(row.getByTestId('job-state'), /^done$/, 400_000)
    assert.deepEqual(await counts(row), { done: 1401, total: 1401 })
    await waitForText(row.getByTestId('job-skipped'), /^\s*1 file\s*$/)
    await row.getByTestId('job-resumed').waitFor()
    await waitForText(row.getByTestId('job-rate'), /^[\d.]+ images\/s$/)
    await screenshot(page, 'jobs-04-done')
    await row.getByTestId('job-open-units').click()
    await page.getByTestId('unit-patches').waitFor({ timeout: 120_000 })
    assert.match(page.url(), /#units$/)
    await waitForText(page.getByTestId('scan-facts'), /1401 images/)
    await screenshot(page, 'jobs-05-units')
  })

  await t.test('a click on a bar of the unit’s class selectivity selects that class; the Classes view follows', async () => {
    const chart = page.getByTestId('class-histogram')
    await chart.locator('.main-svg').first().waitFor({ timeout: 60_000 })
    const folder = ((await chart.locator('.xtick text').first().textContent()) ?? '').trim() // e.g. c06_gold_star
    const box = await chart.locator('.bars .point').first().boundingBox()
    assert.ok(box, 'the first bar is drawn')
    // plotly listens on its drag layer above the bars: click there, at the bar's centre
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2)
    await page.getByTestId('tab-classes').click()
    const label = folder.replace(/^c\d\d_/, '').replace(/_/g, ' ')
    await waitForText(page.getByTestId('class-across').locator('h3'), new RegExp(`^\\s*${label}\\s`), 60_000)
  })

  assert.deepEqual(errors, [])
})
