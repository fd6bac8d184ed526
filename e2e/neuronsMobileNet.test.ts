/**
 * Issue 12 on a third-party-style model in the window: a Keras-structured MobileNetV2 (test/helpers/mobileNetV2Layers.ts:
 * ReLU6, depthwise convs, batch norm, inverted residual adds, seeded weights; α 0.35, 10 blocks, 96² input, 5 classes)
 * saved as a TF.js layers folder with its convscope.json and labels, opened in served mode on a few demo images:
 * - guided backprop of a unit of a late block (block_7, after the last stride) at its max: non-zero inside the
 *   receptive field the panel outlines and exactly zero outside it (read from the downloaded .npy);
 * - the unit card: a Conv_1 unit's filter with the reason it has no class weights, then an out_relu unit's class
 *   weights, largest first;
 * - direction targets typed in the TargetPicker: the class's weights on out_relu explain exactly what the class
 *   logit does (the GAP head's logit is that direction + the bias: same guided map, same occlusion drops), typed
 *   channel weights "a:1, b:-1" and "unit b − unit a" give opposite vanilla-gradient maps, and the direction's
 *   activation maximization runs in the Classes view.
 * Screenshots: test-results/e2e/mobilenet-*.png.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Locator, Page } from 'playwright-core'
import { decodeNpy } from '../src/main/engine/store/npy'
import { mobileNetV2Folder } from '../test/helpers/mobileNetV2Layers'
import { browserMissing, demoValFolder, mapAgainstField, openImageFolder, openModelFolder, openSessionPage, screenshot, servedSession, waitForCount, waitForText, waitUntil } from './helpers'

const missing = browserMissing()
const session = servedSession('convscope-e2e-mobilenet-', ['--backend', 'wasm', '--no-demo'])
const SIZE = 96
const LABELS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon']
const LATE = 'block_7_expand_relu'

/** The channels of the shown Activations grid, largest max first (from each tile's "channel k · max v"). */
async function channelsByMax(page: Page): Promise<number[]> {
  const titles = await page.getByTestId('activation-tile').evaluateAll((els) => els.map((e) => e.getAttribute('title') ?? ''))
  const maxima = titles.map((t) => Number(/max (\S+)/.exec(t)?.[1]))
  assert.ok(maxima.length > 0 && maxima.every(Number.isFinite), `tile titles: ${titles.slice(0, 3)}`)
  return maxima.map((v, k) => [v, k] as const).sort((a, b) => b[0] - a[0]).map(([, k]) => k)
}

/** The pixel map the panel shows, through its "Save .npy" download: h × w × 3 float32. */
async function downloadMap(page: Page, panel: Locator, name: string): Promise<Float32Array> {
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), panel.getByTestId('pixel-npy').click()])
  const path = join(session.tmp, `${name}.npy`)
  await download.saveAs(path)
  const npy = decodeNpy(await readFile(path))
  assert.deepEqual(npy.shape, [SIZE, SIZE, 3])
  return npy.data as Float32Array
}

const peak = (v: Float32Array) => v.reduce((m, a) => Math.max(m, Math.abs(a)), 0)
/** max |a − b| over the peak of b. */
const relativeDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0) / peak(b)

/** Wait for a new caption (a changed target), then for its map to be drawn. */
async function mapShown(panel: Locator, caption: RegExp): Promise<string> {
  const text = await waitForText(panel.getByTestId('pixel-caption'), caption, 60_000)
  await panel.locator('[data-testid="pixel-overlay"] [data-testid="heatmap"][data-ready="true"]').waitFor({ timeout: 30_000 })
  return text
}

test('a TF.js MobileNetV2 in the window: guided backprop of a late unit and a class, the unit card, occlusion, direction targets', { timeout: 300_000, skip: missing ?? false }, async (t) => {
  const modelDir = await mobileNetV2Folder(join(session.tmp, 'mobilenet_v2'), LABELS, { size: SIZE, alpha: 0.35, blocks: 10 })
  const val = await demoValFolder(join(session.tmp, 'demo'))
  const { page, errors } = await openSessionPage(session, 'wasm')

  await t.test('the folder opens as a TF.js layers model with its labels; an image of the demo folder', async () => {
    await openModelFolder(page, modelDir, SIZE)
    await openImageFolder(page, val, 14)
    await page.getByTestId('tab-activations').click()
    await page.getByTestId('image-item').first().click()
  })

  await t.test(`guided backprop of a ${LATE} unit at its max: non-zero in its receptive field, exactly zero outside`, async () => {
    await page.getByTestId('activations-layer-select').selectOption(LATE)
    await page.getByTestId('activations-grid').waitFor({ timeout: 60_000 })
    await waitForCount(page.getByTestId('activation-tile'), 144, 60_000)
    const [unit] = await channelsByMax(page)
    await page.locator(`[data-testid="activation-tile"][data-unit="${unit}"] canvas`).click()
    const panel = page.getByTestId('pixel-maps')
    await waitUntil(async () => (await panel.getByTestId('pixel-method-select').inputValue().catch(() => '')) === 'guided', 30_000, () => 'guided backprop first')
    await mapShown(panel, new RegExp(`${LATE} channel ${unit} at its max \\(y \\d, x \\d\\)[\\s\\S]*receptive field`))
    const map = await downloadMap(page, panel, 'late-unit')
    const { inside, outside, box } = await mapAgainstField(panel, map, SIZE)
    const [, , w, h] = box as [number, number, number, number]
    // block_7's field is 75 px (jump 16): a box inside the 96² input, with input outside it.
    assert.ok(w <= 75 && h <= 75 && w * h < SIZE * SIZE, `box ${box}`)
    assert.ok(inside > 0, 'a map inside the receptive field')
    assert.equal(outside, 0, 'nothing outside it')
    await screenshot(page, 'mobilenet-01-late-unit')
  })

  let outChannels: number[] = []
  await t.test('the unit card: a Conv_1 filter and why it has no class weights; out_relu’s class weights', async () => {
    await page.getByTestId('activations-layer-select').selectOption('Conv_1')
    await waitForCount(page.getByTestId('activation-tile'), 64, 60_000)
    await page.locator('[data-testid="activation-tile"][data-unit="3"] canvas').click()
    await page.getByTestId('open-unit-card').click()
    const card = page.getByTestId('unit-card')
    await waitForText(card.getByTestId('unit-card-unit'), /^3$/)
    await card.getByTestId('unit-card-filter').locator('canvas').waitFor({ timeout: 30_000 })
    await waitForText(card.getByTestId('unit-card-weights-unsupported'), /"out_relu"/, 30_000)
    await page.getByTestId('activations-layer-select').selectOption('out_relu')
    await waitForCount(page.getByTestId('activation-tile'), 64, 60_000)
    outChannels = await channelsByMax(page)
    await page.locator(`[data-testid="activation-tile"][data-unit="${outChannels[0]}"] canvas`).click()
    await waitForText(card.getByTestId('unit-card-unit'), new RegExp(`^${outChannels[0]}$`))
    await waitForCount(card.getByTestId('unit-card-weight'), 5, 30_000)
    const weights = (await card.locator('[data-testid="unit-card-weight"] .num').allTextContents()).map(Number.parseFloat)
    assert.ok(weights.every(Number.isFinite) && weights.some((w) => w !== 0), `weights: ${weights}`)
    assert.ok(weights.every((w, i) => i === 0 || w <= weights[i - 1]!), `largest weight first: ${weights}`)
    await screenshot(page, 'mobilenet-02-unit-card')
    await page.getByTestId('unit-card-close').click()
  })

  await t.test('a class’s weights as a direction explain what its logit does: the same guided backprop map', async () => {
    await page.getByTestId('tab-classes').click()
    const panel = page.getByTestId('pixel-maps')
    await panel.waitFor({ timeout: 60_000 })
    await panel.locator('[data-testid="pixel-method"] button[data-method="guided"]').click()
    const classText = await mapShown(panel, /Guided backprop of [\s\S]*class \d \((alpha|beta|gamma|delta|epsilon)\) logit/)
    const logitMap = await downloadMap(page, panel, 'class-logit')
    assert.ok(peak(logitMap) > 0, `a class map: ${classText}`)
    await panel.getByTestId('pixel-target-kind-direction').click()
    await panel.getByTestId('pixel-target-direction-source').selectOption('class')
    await waitForText(panel.getByTestId('pixel-target-direction-words'), /the weights of \w+ on out_relu \(reads its logit minus the bias\)/, 30_000)
    await mapShown(panel, /a direction in out_relu/)
    const directionMap = await downloadMap(page, panel, 'class-direction')
    assert.ok(relativeDiff(directionMap, logitMap) < 1e-5, `direction vs logit: ${relativeDiff(directionMap, logitMap)}`)
    await screenshot(page, 'mobilenet-03-class-direction')
  })

  await t.test('typed channel weights a:1, b:-1 and unit b − unit a give opposite vanilla gradients', async () => {
    const panel = page.getByTestId('pixel-maps')
    const [a, b] = outChannels as [number, number]
    await panel.locator('[data-testid="pixel-method"] button[data-method="backprop"]').click()
    const classCaption = await mapShown(panel, /Gradient \(backprop\) of [\s\S]*a direction in out_relu/)
    await panel.getByTestId('pixel-target-direction-source').selectOption('weights')
    await panel.getByTestId('pixel-target-direction-layer').selectOption('out_relu')
    await panel.getByTestId('pixel-target-direction-weights').fill(`${a}:1, ${b}:-1`)
    await panel.getByTestId('pixel-target-direction-weights').press('Enter')
    await waitForText(panel.getByTestId('pixel-target-direction-words'), new RegExp(`out_relu: ${a} \\(\\+1\\), ${b} \\(−1\\)|out_relu: ${b} \\(−1\\), ${a} \\(\\+1\\)`))
    await waitUntil(async () => ((await panel.getByTestId('pixel-caption').textContent()) ?? classCaption) !== classCaption, 60_000, () => 'the map of the typed weights')
    const typedCaption = await mapShown(panel, /Gradient \(backprop\) of [\s\S]*a direction in out_relu/)
    const typed = await downloadMap(page, panel, 'typed')
    await panel.getByTestId('pixel-target-direction-source').selectOption('difference')
    await panel.getByTestId('pixel-target-direction-a').fill(String(b))
    await panel.getByTestId('pixel-target-direction-a').dispatchEvent('change')
    await panel.getByTestId('pixel-target-direction-b').fill(String(a))
    await panel.getByTestId('pixel-target-direction-b').dispatchEvent('change')
    await waitForText(panel.getByTestId('pixel-target-direction-words'), new RegExp(`out_relu: unit ${b} − unit ${a}`))
    // The caption's value changes sign with the new target.
    await waitUntil(async () => ((await panel.getByTestId('pixel-caption').textContent()) ?? typedCaption) !== typedCaption, 60_000, () => 'the map of unit b − unit a')
    await mapShown(panel, /Gradient \(backprop\) of [\s\S]*a direction in out_relu/)
    const difference = await downloadMap(page, panel, 'difference')
    assert.ok(peak(typed) > 0, 'a map of a:1, b:-1')
    const negated = typed.map((v) => -v)
    assert.ok(relativeDiff(difference, negated) < 1e-5, `b − a = −(a − b): ${relativeDiff(difference, negated)}`)
    await screenshot(page, 'mobilenet-04-typed-direction')
  })

  await t.test('occlusion: the class-weights direction drops as much as the class logit, at the same place', async () => {
    const panel = page.getByTestId('occlusion')
    await panel.scrollIntoViewIfNeeded()
    await panel.getByTestId('occlusion-size').fill('12')
    await panel.getByTestId('occlusion-stride').fill('12')
    const run = async (caption: RegExp) => {
      await panel.getByTestId('occlusion-run').click()
      const text = await waitForText(panel.getByTestId('occlusion-caption'), caption, 120_000)
      await panel.locator('[data-testid="heatmap"][data-ready="true"]').waitFor()
      const drop = /most at the box \(([^)]+)\)/.exec(text)?.[1]
      const box = await panel.getByTestId('heatmap').getAttribute('data-box')
      return { drop: Number(drop), box }
    }
    const logit = await run(/class \d \(\w+\) logit[\s\S]*8×8 positions of a 12-px grey square, stride 12/)
    assert.ok(logit.drop > 0, `covering part of the image lowers the logit: ${logit.drop}`)
    await panel.getByTestId('occlusion-target-kind-direction').click()
    await panel.getByTestId('occlusion-target-direction-source').selectOption('class')
    const direction = await run(/a direction in out_relu[\s\S]*8×8 positions/)
    assert.ok(Math.abs(direction.drop - logit.drop) <= 2e-3 * Math.abs(logit.drop), `drops: direction ${direction.drop}, logit ${logit.drop}`)
    assert.equal(direction.box, logit.box)
    await screenshot(page, 'mobilenet-05-occlusion-direction')
  })

  await t.test('activation maximization of the direction in the Classes view', async () => {
    const panel = page.getByTestId('direction-actmax-panel')
    await waitForText(panel.getByTestId('direction-actmax-what'), /the weights of \w+ on out_relu/)
    await panel.getByTestId('direction-actmax-steps').fill('8')
    await panel.getByTestId('direction-actmax-run').click()
    await panel.getByTestId('direction-actmax-image').first().waitFor({ timeout: 120_000 })
    await waitForText(panel.getByTestId('direction-actmax-caption'), /a direction in out_relu: 8 steps/)
    await panel.scrollIntoViewIfNeeded()
    await screenshot(page, 'mobilenet-06-direction-actmax')
  })

  assert.deepEqual(errors, [])
})
