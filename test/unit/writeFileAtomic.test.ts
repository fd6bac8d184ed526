/** The one atomic write (issue 9) behind catalogs, models, .npy files, demo datasets and scan checkpoints. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openAtomicFile, temporaryFileOwner, temporaryPath, writeFileAtomic } from '../../src/main/engine/store/writeFileAtomic'

test('writeFileAtomic replaces the file whole, from a string, bytes or parts, and leaves no temp file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'convscope-atomic-'))
  try {
    const path = join(dir, 'sub', 'state.json')
    await writeFileAtomic(path, 'first version, longer than the second')
    await writeFileAtomic(path, 'second')
    assert.equal(await readFile(path, 'utf8'), 'second')
    await writeFileAtomic(path, [Buffer.from('ab'), new Uint8Array([99, 100]), Buffer.alloc(0), Buffer.from('e')], { durable: false })
    assert.equal(await readFile(path, 'utf8'), 'abcde', 'parts are written in order')
    assert.deepEqual(await readdir(join(dir, 'sub')), ['state.json'])
    await assert.rejects(writeFileAtomic(join(dir, 'none', 'x'), 'x', { makeDir: false }), /ENOENT/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('nothing is at the path until commit; abort removes the temp file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'convscope-atomic-'))
  try {
    const path = join(dir, 'big.bin')
    await writeFile(path, 'old')
    const file = await openAtomicFile(path)
    await file.handle.write(Buffer.from('new bytes'))
    assert.equal(await readFile(path, 'utf8'), 'old', 'readers still see the old file')
    await file.commit()
    assert.equal(await readFile(path, 'utf8'), 'new bytes')
    const dropped = await openAtomicFile(path)
    await dropped.handle.write(Buffer.from('never'))
    await dropped.abort()
    assert.deepEqual(await readdir(dir), ['big.bin'])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('temp files name their process: two writes never share one, and cleanup can tell whose they are', () => {
  const a = temporaryPath('/x/y.json')
  const b = temporaryPath('/x/y.json')
  assert.notEqual(a, b)
  assert.equal(temporaryFileOwner(a), process.pid)
  assert.equal(temporaryFileOwner('c01_train_00002.jpg.tmp-2147483646'), 2147483646, 'the demo writer’s older name')
  assert.equal(temporaryFileOwner('manifest.json'), null)
  assert.equal(temporaryFileOwner('notes.tmp-draft'), null)
})
