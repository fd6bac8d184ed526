/**
 * File-list datasets (imageList.ts): parsing (relative and absolute paths, comments, blank lines, CRLF, an
 * optional TAB class column, precise errors), `listDataset` telling lists from folders, and `convscope scan
 * --data list.txt`: a listed file that does not exist is skipped as "missing", and a list naming a folder's
 * images in the folder's order scans to exactly the folder's result.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { listDataset, listImageFile, parseImageList } from '../../src/main/engine/images/imageList'
import { listImageFolder } from '../../src/main/engine/images/imageFolder'
import { scanCommand } from '../../src/main/cli/scanCommand'
import { readManifest } from '../../src/main/engine/scan/manifest'
import { runCli } from '../fixtures/cli'
import { writeNoiseImageTree } from '../fixtures/images'
import { makeTinyCnn } from '../fixtures/models'

let root: string
let data: string
let modelDir: string

before(async () => {
  await tf.setBackend('cpu')
  root = await mkdtemp(join(tmpdir(), 'convscope-list-'))
  modelDir = join(root, 'model')
  await makeTinyCnn(modelDir, { sidecar: { inputSize: [32, 32], range: [0, 1], resize: 'stretch' } })
  data = join(root, 'data')
  await writeNoiseImageTree(data, { classes: ['birds', 'fish'], perClass: 5, seed: 3, size: () => [40, 30], name: (i) => `p${i}` })
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

test('a list gives paths relative to its folder or absolute, in its order, with optional TAB classes', () => {
  const list = '/lists/set/val.txt'
  const text = ['# validation images', '', 'b/2.jpg\tcat', '  ', 'a/1.jpg', '/abs/x.png\tdog\r', '../up/y.png\t cat ', '   # indented comment'].join('\n')
  const folder = parseImageList(text, list)
  assert.equal(folder.root, '/lists/set')
  assert.deepEqual(
    folder.images.map((i) => [i.path, i.relPath, i.className]),
    [
      ['/lists/set/b/2.jpg', 'b/2.jpg', 'cat'],
      ['/lists/set/a/1.jpg', 'a/1.jpg', null],
      ['/abs/x.png', '../../abs/x.png', 'dog'],
      ['/lists/up/y.png', '../up/y.png', 'cat'],
    ],
  )
  assert.deepEqual(folder.classes, ['cat', 'dog'])
  assert.equal(folder.truncated, false)
  const limited = parseImageList(text, list, 2)
  assert.deepEqual(limited.images.map((i) => i.relPath), ['b/2.jpg', 'a/1.jpg'])
  assert.equal(limited.truncated, true)
  assert.equal(parseImageList('a.png\nb.png\n', list, 2).truncated, false, 'exactly at the limit is not truncated')
})

test('a list with a repeated path, extra columns or a class without a path is refused with its line number', () => {
  assert.throws(() => parseImageList('a.png\n# x\n./a.png\n', '/l/list.txt'), /\/l\/list\.txt line 3: \.\/a\.png is listed already on line 1/)
  assert.throws(() => parseImageList('a.png\tcat\textra\n', '/l/list.txt'), /line 1: 3 tab-separated columns/)
  assert.throws(() => parseImageList('ok.png\n\tcat\n', '/l/list.txt'), /line 2: no path before the tab/)
})

test('listDataset reads a file as a list and a folder as a folder; a binary file or a missing list is refused', async () => {
  const list = join(root, 'some.txt')
  await writeFile(list, 'data/fish/p1.png\n')
  assert.deepEqual((await listDataset(list)).images.map((i) => i.relPath), ['data/fish/p1.png'])
  assert.deepEqual(await listDataset(data), await listImageFolder(data))
  await assert.rejects(listDataset(join(data, 'birds', 'p0.png')), /is not a text file list of image paths/)
  await assert.rejects(listImageFile(join(root, 'nope.txt')), /File list .*nope\.txt does not exist/)
})

const cli = (args: string[]) => runCli(scanCommand, args)

const scanArgs = (dataArg: string, out: string) => ['--model', modelDir, '--data', dataArg, '--out', out, '--layers', 'conv3,conv4', '--top', '3', '--backend', 'cpu']

test('scan --data list.txt: a listed file that does not exist is skipped as "missing", with the list\'s classes', async () => {
  const list = join(data, 'subset.txt')
  await writeFile(list, ['# two birds, a fish that is gone, a fish', 'birds/p3.png\tbird', 'birds/p1.png\tbird', 'fish/gone.png\tfish', `${join(data, 'fish', 'p0.png')}\tfish`, ''].join('\n'))
  const out = join(root, 'scan-list')
  const r = await cli(scanArgs(list, out))
  assert.equal(r.code, 0, r.err)
  assert.match(r.err, /4 images/)
  assert.match(r.out, /skipped 1 file\(s\):\n {2}fish\/gone\.png: missing/)
  const manifest = await readManifest(out)
  assert.equal(manifest.dataset.root, data)
  assert.deepEqual(manifest.images.map((i) => [i.path, i.className, i.width]), [
    ['birds/p3.png', 'bird', 40],
    ['birds/p1.png', 'bird', 40],
    ['fish/gone.png', 'fish', null],
    ['fish/p0.png', 'fish', 40],
  ])
  assert.deepEqual(manifest.skipped, [{ index: 2, path: 'fish/gone.png', reason: 'missing' }])
  // The same list again: the finished result is recognised (same dataset identity) and reused.
  const again = await cli(scanArgs(list, out))
  assert.equal(again.code, 0, again.err)
  assert.deepEqual(await readManifest(out), manifest)
  // A changed list is another dataset.
  await writeFile(list, 'birds/p3.png\n')
  await assert.rejects(cli(scanArgs(list, out)), /another dataset/)
})

test("a list of a folder's images in the folder's order scans to exactly the folder's result", async () => {
  const folder = await listImageFolder(data)
  const list = join(data, 'all.txt')
  await writeFile(list, folder.images.map((i) => `${i.relPath}\t${i.className}`).join('\r\n') + '\r\n')
  const fromFolder = join(root, 'scan-folder')
  const fromList = join(root, 'scan-all-list')
  assert.equal((await cli(scanArgs(data, fromFolder))).code, 0)
  assert.equal((await cli(scanArgs(list, fromList))).code, 0)
  const { timing: _a, ...a } = await readManifest(fromFolder)
  const { timing: _b, ...b } = await readManifest(fromList)
  assert.deepEqual(b, a)
  const names = (await readdir(fromFolder)).filter((n) => n.endsWith('.npy')).sort()
  assert.equal(names.length, 2 * 4)
  for (const n of names) assert.ok((await readFile(join(fromFolder, n))).equals(await readFile(join(fromList, n))), `${n} differs`)
})
