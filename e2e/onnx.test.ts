/**
 * ONNX models end to end (issue 10) in served mode: torchvision's resnet18 with seeded random weights, exported
 * by scripts/onnx/exportTorchvision.py (cached under test/.cache/torchvision), opened from its .onnx file and
 * walked through every view on a few images of the demo dataset: Architecture (PyTorch layer names, receptive
 * fields), Filters (conv1 as RGB tiles), Activations, Units (a short scan), Classes (CAM, Grad-CAM, deletion /
 * insertion, localization) and Jobs. First, long layer names (200 characters, as TF graph exports have) in the
 * Architecture view: elided in the middle, whole on hover, copied whole, filtered.
 * Screenshots: test-results/e2e/onnx-*.png.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import * as tf from '@tensorflow/tfjs'
import type { Page } from 'playwright-core'
import { fsIOHandler } from '../src/main/engine/models/fsIOHandler'
import { browserMissing, collectPageErrors, demoValFolder, openImageFolder, ROOT, screenshot, servedSession, waitForCount, waitForText, waitUntil } from './helpers'

const PYTHON = '/usr/bin/python3'
const TORCHVISION_CACHE = join(ROOT, 'test', '.cache', 'torchvision')

/** Why resnet18 cannot be exported here (Debian's python3-torch / -torchvision / -onnx missing), or null. */
function torchMissing(): string | null {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision, onnx'], { encoding: 'utf8' })
  return probe.status === 0 ? null : `${PYTHON} cannot import torch, torchvision and onnx (apt-get install python3-torch python3-torchvision python3-onnx)`
}

const missing = browserMissing() ?? torchMissing()
const session = servedSession('convscope-e2e-onnx-', ['--backend', 'wasm', '--no-demo'])

/** A name as long as TF graph exports make them (200 characters), ending in `tag`. */
const longName = (tag: string): string => {
  const scope = 'StatefulPartitionedCall/model/functional_block/' + 'residual_unit_with_a_descriptive_scope/'.repeat(5)
  return `${scope.slice(0, 199 - tag.length)}/${tag}`
}
const LONG_NAMES = [longName('conv_a/Conv2D'), longName('conv_b/Conv2D'), longName('relu_b/Relu')]

/** A tiny tf.layers CNN whose layers carry 200-character names. */
async function makeLongNamesModel(dir: string): Promise<void> {
  const input = tf.input({ shape: [16, 16, 3], name: 'input' })
  let x = tf.layers.conv2d({ name: LONG_NAMES[0], filters: 4, kernelSize: 3 }).apply(input) as tf.SymbolicTensor
  x = tf.layers.conv2d({ name: LONG_NAMES[1], filters: 4, kernelSize: 3 }).apply(x) as tf.SymbolicTensor
  x = tf.layers.reLU({ name: LONG_NAMES[2] }).apply(x) as tf.SymbolicTensor
  const model = tf.model({ inputs: input, outputs: x })
  await mkdir(dir, { recursive: true })
  await model.save(fsIOHandler(dir))
  model.dispose()
}

const rowOf = (page: Page, layer: string) => page.getByTestId(`arch-row-${layer}`)
/** The RF size, jump and start cells of a layer's Architecture row, as shown. */
const rfCellsOf = async (page: Page, layer: string) => (await rowOf(page, layer).locator('td.num').allTextContents()).slice(2, 5).map((s) => s.trim())

test('an ONNX resnet18 in every view; long layer names readable in the Architecture view', { timeout: 600_000, skip: missing ?? false }, async (t) => {
  // Cached: the script skips a model whose stamp (script hash, torch version) is unchanged.
  execFileSync(PYTHON, [join(ROOT, 'scripts', 'onnx', 'exportTorchvision.py'), '--out', TORCHVISION_CACHE, '--models', 'resnet18'], { stdio: 'inherit' })
  // Fed 112×112 (the export takes any size): a quarter of the work at 224, so every view answers in seconds.
  const resnetDir = join(session.tmp, 'resnet18')
  await mkdir(resnetDir, { recursive: true })
  await copyFile(join(TORCHVISION_CACHE, 'resnet18', 'model.onnx'), join(resnetDir, 'resnet18.onnx'))
  await writeFile(join(resnetDir, 'convscope.json'), JSON.stringify({ inputSize: [112, 112], range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }))
  const val = await demoValFolder(join(session.tmp, 'demo'), 1)
  const longDir = join(session.tmp, 'long-names')
  await makeLongNamesModel(longDir)

  const context = await session.browser.newContext({ viewport: { width: 1600, height: 1000 }, permissions: ['clipboard-read', 'clipboard-write'] })
  const page: Page = await context.newPage()
  const errors = collectPageErrors(page)
  await page.goto(session.served.url)
  await waitForText(page.getByTestId('backend-name'), /^wasm$/)

  await t.test('long layer names: elided in the middle, whole on hover, copied whole, filtered by a substring', async () => {
    await page.getByTestId('model-path-input').fill(longDir)
    await page.getByTestId('open-model-button').click()
    await waitForText(page.getByTestId('model-facts'), /16, 16, 3/, 60_000)
    await page.getByTestId('tab-architecture').click()
    const name = rowOf(page, LONG_NAMES[1]).getByTestId('elided-name')
    await name.waitFor()
    const shown = ((await name.locator('code').textContent()) ?? '').trim()
    assert.equal(shown.length, 40, `shown as 40 characters: ${shown}`)
    assert.ok(shown.startsWith('StatefulPartitioned') && shown.endsWith('/conv_b/Conv2D') && shown.includes('…'), shown)
    assert.equal(await name.getAttribute('title'), LONG_NAMES[1], 'the whole name on hover')
    const columns = await rowOf(page, LONG_NAMES[1]).boundingBox()
    assert.ok(columns && columns.width <= 1600, 'the row fits the window')
    const clipboard = () => page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText())
    const selectedRows = () => page.locator('[data-testid="arch-table"] tr[aria-selected="true"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-layer')))
    const selected = await selectedRows()
    assert.ok(!selected.includes(LONG_NAMES[2]))
    const last = rowOf(page, LONG_NAMES[2]).getByTestId('elided-name')
    await last.hover()
    await last.getByTestId('copy-name').click()
    assert.equal(await clipboard(), LONG_NAMES[2], 'the copy button copies the whole name')
    assert.equal(await rowOf(page, LONG_NAMES[2]).getAttribute('aria-selected'), 'false', 'copying does not select the row')
    assert.deepEqual(await selectedRows(), selected, 'the selection is unchanged')
    await name.locator('code').selectText()
    await page.keyboard.press('Control+C')
    assert.equal(await clipboard(), LONG_NAMES[1], 'Ctrl+C on the elided text copies the whole name')
    await waitForText(page.getByTestId('arch-count'), /^\s*4 of 4 layers/)
    await page.getByTestId('arch-filter').fill('relu_b')
    await waitForText(page.getByTestId('arch-count'), /^\s*1 of 4 layers/)
    await waitForCount(page.locator('[data-testid="arch-table"] tbody tr[data-layer]'), 1)
    await rowOf(page, LONG_NAMES[2]).waitFor()
    await screenshot(page, 'onnx-01-long-names')
    await page.getByTestId('arch-filter').fill('no such layer')
    await waitForText(page.getByTestId('arch-no-match'), /no such layer/)
    await page.getByTestId('arch-filter').fill('')
  })

  await t.test('the folder browser offers the .onnx file; opening it shows an ONNX model', async () => {
    await page.getByTestId('tab-workspace').click()
    await page.getByTestId('model-path-input').fill(session.tmp)
    await page.getByTestId('browse-model-button').click()
    const folder = page.getByTestId('browse-entry').filter({ hasText: 'resnet18' })
    await waitForText(folder, /resnet18\s*model/)
    await folder.click()
    const file = page.getByTestId('browse-model-file').filter({ hasText: 'resnet18.onnx' })
    await file.waitFor()
    await screenshot(page, 'onnx-02-folder-browser')
    await file.click()
    await waitForText(page.getByTestId('model-facts'), /ONNX model/, 120_000)
    await waitForText(page.getByTestId('model-facts'), /112, 112, 3/)
    await waitForText(page.getByTestId('model-name'), /^resnet18$/)
    assert.ok((await page.getByTestId('model-path-input').inputValue()).startsWith(resnetDir), 'the input shows where the model is')
    await screenshot(page, 'onnx-03-opened')
  })

  await t.test('Architecture: PyTorch layer names and the hand-checked receptive fields', async () => {
    await page.getByTestId('tab-architecture').click()
    for (const layer of ['conv1', 'relu', 'maxpool', 'layer1.0.conv1', 'layer1.0.add', 'layer1.0.relu_1', 'layer4.1.relu_1', 'avgpool', 'flatten', 'fc']) {
      await rowOf(page, layer).waitFor({ timeout: 10_000 })
    }
    // conv1 7×7 / 2, pad 3: field 7, jump 2, unit 0 centred on pixel 0.
    assert.deepEqual(await rfCellsOf(page, 'conv1'), ['7', '2', '0'])
    // + maxpool 3×3 / 2 (11, 4), 4 convs 3×3 in layer1 (43), then each stage: one 3×3 / 2 and three 3×3:
    // layer2 51 → 99 (jump 8), layer3 115 → 211 (16), layer4 243 → 435 (32). The residual adds merge a 1×1
    // shortcut of a smaller field: the enclosing one is shown, marked ≈.
    const [size, jump, start] = await rfCellsOf(page, 'layer4.1.relu_1')
    assert.match(size!, /^≈?435$/)
    assert.match(jump!, /^≈?32$/)
    assert.match(start!, /^≈?0$/)
    await page.getByTestId('arch-filter').fill('layer4')
    const count = await waitForText(page.getByTestId('arch-count'), /^\s*\d+ of \d+ layers/)
    const rows = await page.locator('[data-testid="arch-table"] tbody tr[data-layer]').evaluateAll((els) => els.map((e) => e.getAttribute('data-layer') ?? ''))
    assert.ok(rows.length > 0 && rows.every((r) => r.includes('layer4')), `only layer4 rows: ${rows}`)
    assert.match(count, new RegExp(`^\\s*${rows.length} of `))
    await rowOf(page, 'layer4.1.relu_1').click()
    assert.equal(await rowOf(page, 'layer4.1.relu_1').getAttribute('aria-selected'), 'true')
    await waitForText(page.getByTestId('status-selection'), /layer4\.1\.relu_1/)
    await screenshot(page, 'onnx-04-architecture')
    await page.getByTestId('arch-filter').fill('')
  })

  await t.test('Filters: conv1 as 64 RGB tiles of 7×7', async () => {
    await page.getByTestId('tab-filters').click()
    await page.getByTestId('filters-layer-select').selectOption('conv1')
    await page.getByTestId('filters-grid').waitFor()
    await waitForText(page.getByTestId('filters-caption'), /one filter's 7×7 kernel over the image's red, green and blue/)
    assert.equal(await page.getByTestId('filter-tile').count(), 64)
    await page.getByTestId('filter-tile').nth(5).locator('canvas').hover()
    await waitForText(page.getByTestId('filters-hover'), /^filter 5, /)
    await screenshot(page, 'onnx-05-filters')
  })

  let percents: number[] = []
  await t.test('Activations: an image of the demo dataset, every channel of layer1.0.relu_1, the top-5', async () => {
    await openImageFolder(page, val, 14)
    await page.getByTestId('tab-activations').click()
    await page.getByTestId('activations-layer-select').selectOption('layer1.0.relu_1')
    await page.getByTestId('image-item').first().click()
    await page.getByTestId('activations-grid').waitFor({ timeout: 120_000 })
    await waitForCount(page.getByTestId('activation-tile'), 64, 60_000)
    assert.equal(await page.getByTestId('predictions').locator('li').count(), 5)
    // resnet18 ends in logits: the top-5 are shown as softmax probabilities.
    percents = (await page.getByTestId('predictions').locator('li .score').allTextContents()).map((t) => Number.parseFloat(t))
    assert.ok(percents.every((p) => p >= 0 && p <= 100) && percents.reduce((a, b) => a + b, 0) <= 100.5, `probabilities: ${percents}`)
    await page.getByTestId('activation-tile').nth(7).locator('canvas').hover()
    await waitForText(page.getByTestId('activations-hover'), /^channel 7 · max/)
    await screenshot(page, 'onnx-06-activations')
  })

  await t.test('Units: a scan of layer4.1.relu_1 over the 14 images, then a unit’s top patches', async () => {
    await page.getByTestId('tab-units').click()
    await page.getByTestId('scan-start-button').waitFor()
    const chips = page.getByTestId('scan-layers')
    for (const layer of await chips.locator('input:checked').evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value))) {
      await chips.locator(`input[value="${layer}"]`).uncheck()
    }
    await chips.locator('input[value="layer4.1.relu_1"]').check()
    await page.getByTestId('scan-k').fill('4')
    await page.getByTestId('scan-start-button').click()
    await page.getByTestId('unit-patches').waitFor({ timeout: 240_000 })
    assert.equal(await page.getByTestId('units-layer-select').inputValue(), 'layer4.1.relu_1')
    await waitForText(page.getByTestId('scan-facts'), /14 images/)
    await waitForCount(page.getByTestId('unit-patch'), 4)
    await waitForCount(page.locator('[data-testid="unit-patch"] .crop:not([data-ready="true"])'), 0, 30_000)
    await page.getByTestId('activation-histogram').locator('.main-svg').first().waitFor({ timeout: 30_000 })
    await screenshot(page, 'onnx-07-units')
  })

  await t.test('Classes: CAM of the top-5 classes with a box per map, its deletion / insertion curves, the class grid', async () => {
    await page.getByTestId('tab-classes').click()
    const cam = page.locator('[data-testid="map-method"] button[data-method="cam"]')
    await cam.waitFor()
    const unsupported = async () => (await page.getByTestId('map-unsupported').textContent({ timeout: 1000 }).catch(() => null)) ?? ''
    await waitUntil(async () => await cam.isEnabled(), 30_000, () => 'CAM is offered for the global-average-pooling head of resnet18')
    assert.equal(await unsupported(), '', 'no method is marked unsupported')
    await cam.click()
    await waitForCount(page.getByTestId('cam-card'), 5, 120_000)
    await waitForCount(page.locator('[data-testid="cam-card"] [data-testid="heatmap"]:not([data-ready="true"])'), 0, 60_000)
    await waitForText(page.getByTestId('classmaps-caption'), /^\s*CAM maps of the top-5 classes at layer4\.1\.relu_1/)
    const scores = (await page.getByTestId('cam-score').allTextContents()).map((s) => Number.parseFloat(s))
    assert.ok(scores.every((s, i) => s <= 100 && (i === 0 || s <= scores[i - 1]!)), `probabilities fall with rank: ${scores}`)
    assert.deepEqual(scores.map((s) => s.toFixed(1)), percents.map((p) => p.toFixed(1)), 'the same top-5 as the Activations view')
    const boxes = await page.locator('[data-testid="cam-card"] [data-testid="heatmap"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-box')))
    assert.ok(boxes.every((b) => /^\d+,\d+,\d+,\d+$/.test(b ?? '')), `a box per map: ${boxes}`)
    await page.getByTestId('faithfulness-chart').locator('.main-svg').first().waitFor({ timeout: 240_000 })
    const legend = await page.getByTestId('faithfulness-chart').locator('.legendtext').allTextContents()
    assert.equal(legend.length, 4, `deletion, insertion and their random baselines: ${legend}`)
    assert.ok(legend.every((l) => /AUC \d\.\d{3}$/.test(l)), `AUCs in the legend: ${legend}`)
    // Global pooling removed: at twice the 112 input, layer4's 7×7 map gives 7×7 positions.
    await waitForText(page.getByTestId('class-grid-facts'), /7×7 positions/, 120_000)
    await screenshot(page, 'onnx-08-cam')
  })

  await t.test('Classes: Grad-CAM of the top-5 classes', async () => {
    await page.locator('[data-testid="map-method"] button[data-method="gradcam"]').click()
    await waitForText(page.getByTestId('classmaps-caption'), /^\s*Grad-CAM maps of the top-5 classes at layer4\.1\.relu_1/, 240_000)
    await waitForCount(page.getByTestId('cam-card'), 5)
    await waitForCount(page.locator('[data-testid="cam-card"] [data-testid="heatmap"]:not([data-ready="true"])'), 0, 120_000)
    await screenshot(page, 'onnx-09-gradcam')
  })

  await t.test('Classes: localization over 3 images of the annotated folder with CAM and Grad-CAM', async () => {
    // Two methods over 3 images keep it short: the Classes view above already ran each on resnet18.
    for (const box of await page.locator('[data-testid^="localize-method-"]').all()) {
      const method = ((await box.getAttribute('data-testid')) ?? '').replace('localize-method-', '')
      if (await box.isEnabled()) await box.setChecked(method === 'cam' || method === 'gradcam')
    }
    await page.getByTestId('localize-limit').fill('3')
    await page.getByTestId('localize-start').click()
    await page.getByTestId('localize-table').waitFor({ timeout: 240_000 })
    const methods = await page.locator('[data-testid="localize-row"] td:first-child').allTextContents()
    assert.deepEqual(methods, ['CAM', 'Grad-CAM'])
    const cells = await page.locator('[data-testid="localize-row"] td.num').allTextContents()
    assert.ok(cells.length > 0 && cells.every((c) => /^\d+\.\d %$/.test(c)), `percentages: ${cells}`)
    await waitForText(page.getByTestId('localize-facts'), /^\s*3 of 14 images of\s+val/)
    await screenshot(page, 'onnx-10-localization')
  })

  await t.test('Jobs: the scan and the localization run are done', async () => {
    await page.getByTestId('tab-jobs').click()
    const rows = page.locator('[data-testid="job-row"][data-method="startScan"], [data-testid="job-row"][data-method="startLocalization"]')
    await waitUntil(async () => (await rows.count()) >= 2, 30_000, () => 'the scan and localization jobs are listed')
    const states = await rows.evaluateAll((els) => els.map((e) => `${e.getAttribute('data-method')} ${e.getAttribute('data-state')}`))
    assert.deepEqual([...new Set(states)].sort(), ['startLocalization done', 'startScan done'])
    await screenshot(page, 'onnx-11-jobs')
  })

  assert.deepEqual(errors, [], 'no page errors, console errors or CSP violations')
  await context.close()
})
