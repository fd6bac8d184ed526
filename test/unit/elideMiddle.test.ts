/**
 * The Architecture view's shortened layer names (src/renderer/src/lib/elideMiddle.ts): the middle of a long
 * name becomes "…", its start and end stay, and the result is never longer than asked.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { elideMiddle } from '../../src/renderer/src/lib/elideMiddle'

test('a PyTorch scope name keeps its start and end around one ellipsis', () => {
  assert.equal(elideMiddle('layer3.1.downsample.0', 20), 'layer3.1.…wnsample.0')
  assert.equal(elideMiddle('layer3.1.downsample.0', 13), 'layer3…mple.0')
})

test('names that fit, and a name exactly as long as the limit, are left whole', () => {
  assert.equal(elideMiddle('conv1', 40), 'conv1')
  assert.equal(elideMiddle('layer1.0.relu_1', 15), 'layer1.0.relu_1')
  assert.equal(elideMiddle('', 10), '')
})

test('a 200-character TF graph name is cut to the limit and both of its ends are recognisable', () => {
  const name = `StatefulPartitionedCall/${'model/block_'.repeat(14)}conv/BiasAdd/ReadVariableOp_${'x'.repeat(8)}`.slice(0, 200)
  assert.equal(name.length, 200)
  const short = elideMiddle(name, 48)
  assert.equal(Array.from(short).length, 48)
  assert.ok(short.startsWith('StatefulPartitionedCall'), short)
  assert.ok(short.endsWith(name.slice(-24)), short)
  assert.equal(short.split('…').length, 2, 'exactly one ellipsis')
})

test('the limit counts code points, so an astral character is never split in half', () => {
  const name = `😀${'a'.repeat(30)}😀`
  const short = elideMiddle(name, 9)
  assert.equal(Array.from(short).length, 9)
  assert.ok(short.startsWith('😀') && short.endsWith('😀'), short)
})

test('limits too small for an ellipsis keep the start only', () => {
  assert.equal(elideMiddle('abcdef', 2), 'ab')
  assert.equal(elideMiddle('abcdef', 0), '')
})
