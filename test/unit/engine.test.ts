/**
 * The engine service end to end, in process: open a model, read its filters and activations, list an
 * image folder, and find the model again from the workspace catalog in a fresh engine.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { ConvscopeError, parseResult, type ModelInfo } from '../../src/shared/api'
import { noopContext } from '../../src/main/engine/context'
import { createEngine, type EngineService } from '../../src/main/engine/engine'
import { makeTinyCnn, type TinyCnn } from '../fixtures/models'

let root: string
let workspace: string
let cnn: TinyCnn
let engine: EngineService
const call = (e: EngineService, method: Parameters<EngineService['handle']>[0], params: unknown) => e.handle(method, params, noopContext())

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'convscope-engine-'))
  workspace = join(root, 'workspace')
  engine = createEngine({ workspace, backend: 'cpu' })
  await engine.init()
  cnn = await makeTinyCnn(join(root, 'model'), { labels: 'txt' })
  for (const [cls, colour] of [['reds', { r: 230, g: 10, b: 10 }], ['blues', { r: 10, g: 10, b: 230 }]] as const) {
    await mkdir(join(root, 'images', cls), { recursive: true })
    for (const i of [0, 1]) await sharp({ create: { width: 36 + i, height: 30, channels: 3, background: colour } }).png().toFile(join(root, 'images', cls, `${i}.png`))
  }
})
after(async () => {
  engine.dispose()
  await rm(root, { recursive: true, force: true })
})

test('open a model, then its filters and activations by id', async () => {
  const info = parseResult('openModel', await call(engine, 'openModel', { path: cnn.dir })) as ModelInfo
  assert.deepEqual(info.layers.map((l) => l.name), cnn.layerNames)

  const filters = parseResult('getFilters', await call(engine, 'getFilters', { modelId: info.id, layer: 'conv1' }))
  assert.deepEqual(filters.shape, [3, 3, 3, 8])
  assert.equal(filters.rgb, true, 'the first conv reads the image: RGB tiles')
  const deeper = parseResult('getFilters', await call(engine, 'getFilters', { modelId: info.id, layer: 'conv3' }))
  assert.equal(deeper.rgb, false)

  const folder = parseResult('openImageFolder', await call(engine, 'openImageFolder', { path: join(root, 'images') }))
  assert.deepEqual(folder.classes, ['blues', 'reds'])
  assert.equal(folder.images.length, 4)

  const act = parseResult('getActivations', await call(engine, 'getActivations', { modelId: info.id, layer: 'pool1', image: folder.images[0].path }))
  assert.deepEqual(act.shape, [16, 16, 8])
  assert.equal(act.values.length, 16 * 16 * 8)
  assert.equal(act.channelMax.length, 8)
})

test('a fresh engine on the same workspace reopens a recent model by id', async () => {
  const info = (await call(engine, 'openModel', { path: cnn.dir })) as ModelInfo
  const second = createEngine({ workspace, backend: 'cpu' })
  await second.init()
  try {
    const recent = parseResult('listRecentModels', await call(second, 'listRecentModels', {}))
    assert.equal(recent[0].id, info.id)
    const filters = parseResult('getFilters', await call(second, 'getFilters', { modelId: info.id, layer: 'conv1' }))
    assert.deepEqual(filters.shape, [3, 3, 3, 8])
  } finally {
    second.dispose()
  }
})

test('unknown model ids and bad params are clear errors', async () => {
  await assert.rejects(call(engine, 'getFilters', { modelId: 'feedbeef', layer: 'conv1' }), (e: unknown) => e instanceof ConvscopeError && e.code === 'NOT_FOUND' && /open its folder first/.test(e.message))
  await assert.rejects(call(engine, 'openModel', { path: '' }), (e: unknown) => e instanceof ConvscopeError && e.code === 'BAD_REQUEST')
})
