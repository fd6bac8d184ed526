/**
 * First start: on an empty workspace the workbench opens the bundled demo network and generates the demo
 * images into the workspace, so every view has something real to show with no user action.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { browserMissing, collectPageErrors, screenshot, servedSession, waitForDemo, waitForText } from './helpers'

const missing = browserMissing()
const session = servedSession('convscope-first-', ['--backend', 'wasm'])

test('an empty workspace opens the demo model and its generated images', { timeout: 300_000, skip: missing ?? false }, async () => {
  const page = await session.browser.newPage({ viewport: { width: 1440, height: 900 } })
  const errors = collectPageErrors(page)
  await page.goto(session.served.url)

  await waitForDemo(page)
  await screenshot(page, 'first-start-01-workspace')
  assert.ok(existsSync(join(session.tmp, 'workspace', 'demo-data', 'val', 'c00_striped_triangle')), 'demo images are in the workspace')

  await page.getByTestId('tab-architecture').click()
  await page.getByTestId('arch-row-conv_last').waitFor()
  await page.getByTestId('tab-activations').click()
  await page.getByTestId('image-item').first().waitFor()
  await page.getByTestId('activation-tile').first().waitFor({ timeout: 60_000 })
  await waitForText(page.getByTestId('predictions'), /striped triangle/, 60_000)
  await screenshot(page, 'first-start-02-activations')
  assert.deepEqual(errors, [])
})
