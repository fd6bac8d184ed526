/**
 * The window's session kept by the engine (issue 9: a reload or a second tab came back empty), and the image
 * check a typed-in path goes through before it becomes the selected image.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import sharp from 'sharp'
import { ConvscopeError, parseResult, type Session } from '../../src/shared/api'
import { noopContext } from '../../src/main/engine/context'
import { createEngine } from '../../src/main/engine/engine'
import { SessionStore } from '../../src/main/engine/store/session'

let root: string
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'convscope-session-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

const session: Session = {
  modelDir: '/models/gap',
  imageFolder: '/data/val',
  layer: 'conv_last',
  unit: 3,
  image: '/data/val/c00/1.png',
  classIndex: 7,
  view: 'classes',
}

test('a saved session reads back whole; none before the first save', async () => {
  const store = new SessionStore(join(root, 'fresh'))
  assert.equal(await store.read(), null)
  await store.write(session)
  assert.deepEqual(await store.read(), session)
  assert.deepEqual(JSON.parse(await readFile(store.file, 'utf8')), session, 'plain JSON at <workspace>/session.json')
})

test('a damaged or foreign session file reads as none, and the next save replaces it', async () => {
  const store = new SessionStore(join(root, 'damaged'))
  await store.write(session)
  await writeFile(store.file, '{"modelDir": "/models/gap", "view"')
  assert.equal(await store.read(), null)
  await writeFile(store.file, JSON.stringify({ ...session, view: 'nowhere' }))
  assert.equal(await store.read(), null, 'an unknown view is not a session')
  await store.write({ ...session, unit: null })
  assert.equal((await store.read())?.unit, null)
})

test('a session the contract refuses is not written', async () => {
  const store = new SessionStore(join(root, 'refused'))
  await assert.rejects(store.write({ ...session, unit: -1 }))
  assert.equal(await store.read(), null)
})

test('the engine keeps the session in the workspace: a second engine process (another window) finds it', async () => {
  const workspace = join(root, 'workspace')
  const first = createEngine({ workspace })
  const second = createEngine({ workspace })
  try {
    assert.equal(await first.handle('getSession', {}, noopContext()), null)
    assert.deepEqual(await first.handle('saveSession', session, noopContext()), {})
    assert.deepEqual(await second.handle('getSession', {}, noopContext()), session)
    await assert.rejects(first.handle('saveSession', { ...session, view: 'elsewhere' }, noopContext()), (e: unknown) => e instanceof ConvscopeError && e.code === 'BAD_REQUEST')
  } finally {
    first.dispose()
    second.dispose()
  }
})

test('getImageFacts reads an image header and refuses a file that is no image, or none', async () => {
  const engine = createEngine({ workspace: join(root, 'workspace') })
  try {
    const png = join(root, 'picture.png')
    await sharp({ create: { width: 40, height: 24, channels: 4, background: { r: 200, g: 10, b: 10, alpha: 0.5 } } }).png().toFile(png)
    const facts = parseResult('getImageFacts', await engine.handle('getImageFacts', { image: png }, noopContext()))
    assert.deepEqual({ width: facts.width, height: facts.height, format: facts.format }, { width: 40, height: 24, format: 'png' })
    assert.ok(facts.notes.includes('alpha flattened on white'), `notes: ${facts.notes}`)

    const broken = join(root, 'broken.png')
    await writeFile(broken, 'not a PNG at all')
    await assert.rejects(engine.handle('getImageFacts', { image: broken }, noopContext()), (e: unknown) => e instanceof ConvscopeError && e.code === 'BAD_IMAGE')
    await assert.rejects(engine.handle('getImageFacts', { image: join(root, 'missing.png') }, noopContext()), (e: unknown) => e instanceof ConvscopeError && e.code === 'NOT_FOUND')
  } finally {
    engine.dispose()
  }
})
