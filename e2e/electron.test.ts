/**
 * The Electron app end to end: the same first steps as served mode, in the real window (IPC transport).
 * Skips itself, saying why, where no Electron binary is installed (e.g. ELECTRON_SKIP_BINARY_DOWNLOAD).
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { _electron } from 'playwright-core'
import { makeTinyCnn } from '../test/fixtures/models'
import { collectPageErrors, ROOT, screenshot, waitForText } from './helpers'

/** The Electron executable, or why there is none. */
function electronBinary(): { path: string } | { missing: string } {
  let path: unknown
  try {
    path = createRequire(import.meta.url)('electron')
  } catch (error) {
    return { missing: `require('electron') throws: ${(error as Error).message.split('\n')[0]}` }
  }
  if (typeof path !== 'string' || !existsSync(path)) return { missing: `no executable at ${String(path)}` }
  if (!existsSync(join(ROOT, 'out', 'main', 'index.js'))) return { missing: 'no out/main/index.js: run `npx electron-vite build` first' }
  return { path }
}

test('electron: the window opens a model and shows its layers', { timeout: 180_000 }, async (t) => {
  const electron = electronBinary()
  if ('missing' in electron) {
    t.skip(`Electron binary not installed: ${electron.missing}`)
    return
  }
  const tmp = await mkdtemp(join(tmpdir(), 'convscope-electron-'))
  const app = await _electron.launch({
    executablePath: electron.path,
    args: [join(ROOT, 'out', 'main', 'index.js'), '--no-sandbox', '--workspace', join(tmp, 'workspace'), '--backend', 'cpu'],
    cwd: ROOT,
  })
  try {
    const tiny = await makeTinyCnn(join(tmp, 'tiny-cnn'), { sidecar: true, labels: 'txt' })
    const page = await app.firstWindow()
    const errors = collectPageErrors(page)
    await page.setViewportSize({ width: 1440, height: 900 })

    await waitForText(page.getByTestId('backend-name'), /^cpu$/)
    await page.getByTestId('model-path-input').fill(tiny.dir)
    await page.getByTestId('open-model-button').click()
    await waitForText(page.getByTestId('model-facts'), /32, 32, 3/)
    await screenshot(page, 'electron-01-model-opened')

    await page.getByTestId('tab-architecture').click()
    for (const name of tiny.layerNames) await page.getByTestId(`arch-row-${name}`).waitFor()
    await page.getByTestId(`arch-row-${tiny.convLayers[0]}`).click()
    await page.getByTestId('tab-filters').click()
    await page.getByTestId('filters-grid').waitFor()
    assert.ok((await page.getByTestId('filter-tile').count()) > 0)
    await screenshot(page, 'electron-02-filters')
    assert.deepEqual(errors, [], 'no page errors, console errors or CSP violations')
  } finally {
    await app.close()
    await rm(tmp, { recursive: true, force: true })
  }
})
