/**
 * The image list's short names (src/renderer/src/lib/imageNames.ts): the prefix every file name shares is
 * dropped at a word boundary, so rows that all began "ILSVRC2012_val_000…" read differently.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { commonNamePrefix, withoutPrefix } from '../../src/renderer/src/lib/imageNames'

test('ImageNet val names lose their shared "ILSVRC2012_val_" and keep the number', () => {
  const names = ['ILSVRC2012_val_00000001.JPEG', 'ILSVRC2012_val_00000293.JPEG', 'ILSVRC2012_val_00049999.JPEG']
  const prefix = commonNamePrefix(names)
  assert.equal(prefix, 'ILSVRC2012_val_')
  assert.deepEqual(
    names.map((n) => withoutPrefix(n, prefix)),
    ['…00000001.JPEG', '…00000293.JPEG', '…00049999.JPEG'],
  )
})

test('short or absent shared prefixes are kept: the demo names stay whole', () => {
  assert.equal(commonNamePrefix(['c00_val_00000.jpg', 'c13_val_00099.jpg']), '')
  assert.equal(commonNamePrefix(['cat.png', 'dog.png']), '')
  assert.equal(commonNamePrefix(['only_one_image.png']), '')
  assert.equal(withoutPrefix('c00_val_00000.jpg', ''), 'c00_val_00000.jpg')
})

test('a prefix that is a whole name is kept, so no row reads as a bare ellipsis', () => {
  assert.equal(commonNamePrefix(['scan_', 'scan_1.png', 'scan_2.png']), '')
  assert.equal(commonNamePrefix(['holiday photo 1.jpg', 'holiday photo 2.jpg']), 'holiday photo ')
})
