import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, mkdir, rm, writeFile, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { ConvscopeError } from '../../src/shared/api'
import { listImageFolder, isImageFileName } from '../../src/main/engine/images/imageFolder'

let dir: string
const touch = async (rel: string) => {
  const path = join(dir, rel)
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, 'x') // the listing looks at names only; contents are readImage's business
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'convscope-folder-'))
  for (const rel of [
    'tree/n02/b.JPEG',
    'tree/n02/a.jpg',
    'tree/n01/x.png',
    'tree/n01/deeper/y.webp',
    'tree/n01/notes.txt',
    'tree/n01/.hidden.jpg',
    'tree/.cache/z.jpg',
    'tree/empty-class/readme.md',
    'flat/B.jpg',
    'flat/a.PNG',
    'flat/c.jpeg',
    'flat/d.gif',
    'nested/top.jpg',
    'nested/sub/inner.jpg',
    'nested/sub/more/deep.png',
    'mixed/a/z.jpg',
    'mixed/b.jpg',
    'file.jpg',
  ]) {
    await touch(rel)
  }
  await mkdir(join(dir, 'none'))
  await symlink(join(dir, 'tree'), join(dir, 'tree', 'n02', 'loop'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

test('ImageNet-style tree: class = first folder below the root, sorted, hidden and non-image files skipped', async () => {
  const f = await listImageFolder(join(dir, 'tree'), 100)
  assert.equal(f.root, join(dir, 'tree'))
  assert.deepEqual(
    f.images.map((i) => [i.relPath, i.className]),
    [
      ['n01/deeper/y.webp', 'n01'],
      ['n01/x.png', 'n01'],
      ['n02/a.jpg', 'n02'],
      ['n02/b.JPEG', 'n02'],
    ],
  )
  assert.deepEqual(f.classes, ['n01', 'n02'])
  assert.equal(f.images[0]!.path, join(dir, 'tree', 'n01', 'deeper', 'y.webp'))
  assert.equal(f.truncated, false)
})

test('flat folder: extensions case-insensitive, code-unit order, no classes', async () => {
  const f = await listImageFolder(join(dir, 'flat'), 100)
  assert.deepEqual(f.images.map((i) => i.relPath), ['B.jpg', 'a.PNG', 'c.jpeg'])
  assert.ok(f.images.every((i) => i.className === null))
  assert.deepEqual(f.classes, [])
})

test('nested folder with images at the root: not a class tree', async () => {
  const f = await listImageFolder(join(dir, 'nested'), 100)
  assert.deepEqual(f.images.map((i) => [i.relPath, i.className]), [
    ['sub/inner.jpg', null],
    ['sub/more/deep.png', null],
    ['top.jpg', null],
  ])
  // Root images that sort after a sub-folder still make it flat, even when the walk stops inside that sub-folder.
  const m = await listImageFolder(join(dir, 'mixed'), 1)
  assert.deepEqual(m.images.map((i) => [i.relPath, i.className]), [['a/z.jpg', null]])
  assert.equal(m.truncated, true)
})

test('limit truncates deterministically', async () => {
  const f = await listImageFolder(join(dir, 'tree'), 3)
  assert.equal(f.truncated, true)
  assert.deepEqual(f.images.map((i) => i.relPath), ['n01/deeper/y.webp', 'n01/x.png', 'n02/a.jpg'])
  const exact = await listImageFolder(join(dir, 'tree'), 4)
  assert.equal(exact.truncated, false)
})

test('empty folder, missing folder, file instead of folder', async () => {
  assert.deepEqual(await listImageFolder(join(dir, 'none'), 10), { root: join(dir, 'none'), images: [], classes: [], truncated: false })
  await assert.rejects(listImageFolder(join(dir, 'nope'), 10), (e: ConvscopeError) => e.code === 'NOT_FOUND' && e.message.includes('nope'))
  await assert.rejects(listImageFolder(join(dir, 'file.jpg'), 10), (e: ConvscopeError) => e.code === 'BAD_REQUEST')
})

test('isImageFileName', () => {
  assert.ok(isImageFileName('a.JPG') && isImageFileName('b.webp') && isImageFileName('c.Jpeg'))
  assert.ok(!isImageFileName('.jpg') && !isImageFileName('a.gif') && !isImageFileName('jpg'))
})
