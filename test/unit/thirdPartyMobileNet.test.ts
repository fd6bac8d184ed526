/**
 * Issue 12 on a third-party TF.js MobileNetV2 with trained weights (nsfwjs 4.4.0's, test/helpers/thirdPartyMobileNet.ts),
 * through the CLI a researcher runs:
 * - `saliency --method guided` of a block_3 unit at its max: non-zero inside the receptive field the command reports,
 *   exactly zero outside it (the ReLU6 rule at every expand / depthwise activation, residual adds in between);
 * - `saliency` of a class (guided backprop through the three-dense head): a map;
 * - `occlusion` of a class probability: one value per position, and the largest drop it reports is the target's
 *   value minus the smallest occluded value (an identity of the map).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { occlusionCommand } from '../../src/main/cli/occlusionCommand'
import { saliencyCommand } from '../../src/main/cli/saliencyCommand'
import { DEMO_CLASSES, generateDemoDataset } from '../../src/main/engine/demo'
import { readNpy } from '../../src/main/engine/store/npy'
import { runCli } from '../fixtures/cli'
import { THIRD_PARTY_SIZE, thirdPartyMobileNetV2 } from '../helpers/thirdPartyMobileNet'

let scratch: string
let model: string
let image: string

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'convscope-third-party-'))
  model = await thirdPartyMobileNetV2(join(scratch, 'mobilenet_v2'))
  await generateDemoDataset({ out: join(scratch, 'demo'), count: { train: 0, val: 1 }, classes: 7, size: 160, seed: 0 })
  image = join(scratch, 'demo', 'val', DEMO_CLASSES[6]!.id, 'c06_val_00000.jpg')
})
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

interface Printed {
  target: { description: string; value: number; receptiveField: { x: number; y: number; width: number; height: number } | null }
  height: number
  width: number
  maxAbs: number
}

test('nsfwjs MobileNetV2: guided backprop of a block_3 unit is non-zero in its receptive field and exactly zero outside', async () => {
  const npy = join(scratch, 'unit.npy')
  const run = await runCli(saliencyCommand, ['--model', model, '--image', image, '--method', 'guided', '--unit', 'block_3_expand_relu:0', '--json', '--npy', npy])
  assert.equal(run.code, 0, run.err)
  const printed = JSON.parse(run.out) as Printed
  assert.match(printed.target.description, /^block_3_expand_relu channel 0 at its max \(y \d+, x \d+\)$/)
  assert.deepEqual([printed.height, printed.width], [THIRD_PARTY_SIZE, THIRD_PARTY_SIZE])
  const box = printed.target.receptiveField!
  assert.ok(box.width < THIRD_PARTY_SIZE && box.height < THIRD_PARTY_SIZE, `a field inside the input: ${JSON.stringify(box)}`)
  const map = (await readNpy(npy)).data as Float32Array
  let inside = 0
  let outside = 0
  for (let i = 0; i < THIRD_PARTY_SIZE * THIRD_PARTY_SIZE; i++) {
    const [y, x] = [Math.floor(i / THIRD_PARTY_SIZE), i % THIRD_PARTY_SIZE]
    const m = Math.max(Math.abs(map[3 * i]!), Math.abs(map[3 * i + 1]!), Math.abs(map[3 * i + 2]!))
    if (x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height) inside = Math.max(inside, m)
    else outside = Math.max(outside, m)
  }
  assert.ok(inside > 0, 'a map inside the field')
  assert.equal(outside, 0, 'nothing outside it')
  assert.equal(inside, printed.maxAbs)
})

test('nsfwjs MobileNetV2: guided backprop of a class through its dense head, and occlusion of its probability', async () => {
  const run = await runCli(saliencyCommand, ['--model', model, '--image', image, '--method', 'guided', '--class', 'Drawing', '--json'])
  assert.equal(run.code, 0, run.err)
  const printed = JSON.parse(run.out) as Printed
  assert.equal(printed.target.description, 'class 0 (Drawing) logit')
  assert.ok(printed.maxAbs > 0, 'a class map')

  const occluded = await runCli(occlusionCommand, ['--model', model, '--image', image, '--class', 'Drawing', '--score', 'probability', '--size', '64', '--stride', '64', '--json'])
  assert.equal(occluded.code, 0, occluded.err)
  const o = JSON.parse(occluded.out) as { target: { value: number }; rows: number; cols: number; values: number[]; largestDrop: { drop: number } }
  assert.deepEqual([o.rows, o.cols], [3, 3])
  assert.equal(o.values.length, 9)
  assert.ok(o.values.every((v) => v >= 0 && v <= 1), 'probabilities')
  assert.ok(Math.abs(o.largestDrop.drop - (o.target.value - Math.min(...o.values))) < 1e-6, `largest drop ${o.largestDrop.drop} = value − min`)
})
