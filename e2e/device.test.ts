/**
 * The Workspace view's Executor table (issue 11, item 3) in served mode on this machine (Linux x64, no CUDA
 * provider installed): an ONNX model's forward work runs on onnxruntime-cpu, CUDA's row says why not; choosing tfjs
 * moves the model's forward work there and is saved in the workspace (a reload keeps it); choosing CUDA is refused
 * with the reason and the install line, and nothing changes. Screenshot: test-results/e2e/device-executor.png.
 */
import assert from 'node:assert/strict'
import { copyFile, mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Page } from 'playwright-core'
import { browserMissing, collectPageErrors, ROOT, screenshot, servedSession, waitForText } from './helpers'

const linuxX64 = process.platform === 'linux' && process.arch === 'x64'
const missing = browserMissing() ?? (linuxX64 ? null : 'the reasons asserted are those of Linux x64 without the CUDA provider')
const session = servedSession('convscope-e2e-device-', ['--backend', 'wasm', '--no-demo'])

const row = (page: Page, executor: string) => page.locator(`[data-testid="executor-row"][data-executor="${executor}"]`)

test('the Executor table: onnxruntime-cpu in use, why not CUDA; the setting chooses tfjs (saved), refuses CUDA', { timeout: 240_000, skip: missing ?? false }, async (t) => {
  const modelDir = join(session.tmp, 'tiny-onnx')
  await mkdir(modelDir, { recursive: true })
  await copyFile(join(ROOT, 'test/fixtures/onnx/tiny_cnn.onnx'), join(modelDir, 'tiny_cnn.onnx'))
  const settingsFile = join(session.tmp, 'workspace', 'settings.json')

  const page: Page = await session.browser.newPage({ viewport: { width: 1440, height: 1000 } })
  const errors = collectPageErrors(page)
  await page.goto(session.served.url)
  await page.getByTestId('model-path-input').fill(modelDir)
  await page.getByTestId('open-model-button').click()
  await waitForText(page.getByTestId('model-facts'), /Parameters/, 60_000)

  await t.test('the open ONNX model runs on onnxruntime-cpu; CUDA, DirectML and CoreML say why not', async () => {
    await waitForText(page.getByTestId('executor-model-name'), /^onnxruntime-cpu$/, 60_000)
    await waitForText(row(page, 'onnxruntime-cpu').getByTestId('executor-state'), /in use/)
    await waitForText(row(page, 'onnxruntime-cpu').getByTestId('executor-reason'), /^auto: CUDA is not available: the CUDA provider is not installed/)
    await waitForText(row(page, 'onnxruntime-cuda').getByTestId('executor-state'), /^unavailable$/)
    await waitForText(row(page, 'onnxruntime-cuda').getByTestId('executor-reason'), /libonnxruntime_providers_cuda\.so is not in /)
    await waitForText(row(page, 'onnxruntime-dml').getByTestId('executor-reason'), /has no DirectML provider/)
    await waitForText(row(page, 'onnxruntime-coreml').getByTestId('executor-reason'), /has no CoreML provider/)
    await waitForText(row(page, 'tfjs-wasm').getByTestId('executor-state'), /^available$/)
    await screenshot(page, 'device-executor')
  })

  await t.test('choosing tfjs moves the model there and is saved in the workspace; a reload keeps it', async () => {
    await page.getByTestId('executor-choice').selectOption('tfjs')
    await waitForText(page.getByTestId('executor-model-name'), /^tfjs-wasm$/)
    await waitForText(page.getByTestId('executor-model-reason'), /^tfjs is chosen$/)
    assert.deepEqual(JSON.parse(await readFile(settingsFile, 'utf8')), { executor: 'tfjs', device: 'auto' })
    await page.reload()
    await waitForText(page.getByTestId('executor-model-name'), /^tfjs-wasm$/, 60_000)
    assert.equal(await page.getByTestId('executor-choice').inputValue(), 'tfjs')
  })

  await t.test('choosing CUDA is refused with the reason and the install line; nothing changes', async () => {
    await page.getByTestId('device-choice').selectOption('cuda')
    const toast = await waitForText(page.getByTestId('error-toast-message').last(), /device cuda \(CUDA\) is not available/)
    assert.ok(toast.includes('npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12'), toast)
    await waitForText(page.getByTestId('executor-model-name'), /^tfjs-wasm$/)
    assert.equal(await page.getByTestId('device-choice').inputValue(), 'auto')
    assert.deepEqual(JSON.parse(await readFile(settingsFile, 'utf8')), { executor: 'tfjs', device: 'auto' })
  })

  assert.deepEqual(errors, [])
})
