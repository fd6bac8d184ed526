/**
 * Issue 12 in the window on a third-party TF.js MobileNetV2 with trained weights (nsfwjs 4.4.0's, a Keras layers
 * model: test/helpers/thirdPartyMobileNet.ts), opened in served mode as a researcher opens a model folder:
 * guided backprop of the strongest unsaturated block_3_expand_relu unit at its max (ReLU6 passes no gradient at 6) is non-zero inside the receptive field the
 * panel outlines and exactly zero outside it (read from the downloaded .npy); the Classes view's occlusion of the
 * top class runs to a map. (e2e/neuronsMobileNet.test.ts drives the rest of the panels on a Keras-structured stand-in.)
 * Screenshots: test-results/e2e/third-party-*.png.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { decodeNpy } from '../src/main/engine/store/npy'
import { THIRD_PARTY_SIZE as SIZE, thirdPartyMobileNetV2 } from '../test/helpers/thirdPartyMobileNet'
import { browserMissing, demoValFolder, mapAgainstField, openImageFolder, openModelFolder, openSessionPage, screenshot, servedSession, waitForCount, waitForText, waitUntil } from './helpers'

const missing = browserMissing()
const session = servedSession('convscope-e2e-third-party-', ['--backend', 'wasm', '--no-demo'])
const LAYER = 'block_3_expand_relu'

test('a third-party TF.js MobileNetV2 (nsfwjs) in the window: guided backprop of a unit, occlusion of a class', { timeout: 240_000, skip: missing ?? false }, async (t) => {
  const modelDir = await thirdPartyMobileNetV2(join(session.tmp, 'nsfwjs_mobilenet_v2'))
  const val = await demoValFolder(join(session.tmp, 'demo'))
  const { page, errors } = await openSessionPage(session, 'wasm')

  await t.test('the model folder opens with its labels; an image of the demo folder', async () => {
    await openModelFolder(page, modelDir, SIZE)
    await openImageFolder(page, val, 14)
    await page.getByTestId('tab-activations').click()
    await page.getByTestId('image-item').nth(6).click()
  })

  await t.test(`guided backprop of the strongest unsaturated ${LAYER} unit: non-zero in its receptive field, exactly zero outside`, async () => {
    await page.getByTestId('activations-layer-select').selectOption(LAYER)
    await waitForCount(page.getByTestId('activation-tile'), 144, 60_000)
    const titles = await page.getByTestId('activation-tile').evaluateAll((els) => els.map((e) => e.getAttribute('title') ?? ''))
    const maxima = titles.map((s) => Number(/max (\S+)/.exec(s)?.[1]))
    // ReLU6 passes no gradient where it saturates (the rule 0 < f < 6): the strongest unit whose max is below 6.
    const unsaturated = maxima.filter((v) => v > 0 && v < 6)
    assert.ok(unsaturated.length > 0, `maxima: ${maxima.slice(0, 8)}`)
    const unit = maxima.indexOf(Math.max(...unsaturated))
    await page.locator(`[data-testid="activation-tile"][data-unit="${unit}"] canvas`).click()
    const panel = page.getByTestId('pixel-maps')
    await waitUntil(async () => (await panel.getByTestId('pixel-method-select').inputValue().catch(() => '')) === 'guided', 30_000, () => 'guided backprop first')
    await waitForText(panel.getByTestId('pixel-caption'), new RegExp(`${LAYER} channel ${unit} at its max[\\s\\S]*receptive field`), 90_000)
    await panel.locator('[data-testid="pixel-overlay"] [data-testid="heatmap"][data-ready="true"]').waitFor({ timeout: 30_000 })
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), panel.getByTestId('pixel-npy').click()])
    const path = join(session.tmp, 'unit.npy')
    await download.saveAs(path)
    const npy = decodeNpy(await readFile(path))
    assert.deepEqual(npy.shape, [SIZE, SIZE, 3])
    const { inside, outside, box } = await mapAgainstField(panel, npy.data as Float32Array, SIZE)
    assert.ok(box[2]! < SIZE && box[3]! < SIZE, `a field inside the input: ${box}`)
    assert.ok(inside > 0, 'a map inside the receptive field')
    assert.equal(outside, 0, 'nothing outside it')
    await screenshot(page, 'third-party-01-guided-unit')
  })

  await t.test('the Classes view: occlusion of the top class runs to a map with its largest drop', async () => {
    await page.getByTestId('tab-classes').click()
    const panel = page.getByTestId('occlusion')
    await panel.waitFor({ timeout: 60_000 })
    await panel.scrollIntoViewIfNeeded()
    await panel.getByTestId('occlusion-size').fill('56')
    await panel.getByTestId('occlusion-stride').fill('56')
    await panel.getByTestId('occlusion-run').click()
    const caption = await waitForText(panel.getByTestId('occlusion-caption'), /(Drawing|Hentai|Neutral|Porn|Sexy)[\s\S]*4×4 positions of a 56-px grey square, stride 56/, 120_000)
    await panel.locator('[data-testid="heatmap"][data-ready="true"]').waitFor()
    assert.match(caption, /most at the box \(/)
    await screenshot(page, 'third-party-02-occlusion')
  })

  assert.deepEqual(errors, [])
})
