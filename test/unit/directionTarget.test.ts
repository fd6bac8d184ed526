/**
 * Direction targets as the window reads them (src/renderer/src/lib/directionTarget.ts), by hand-checked cases:
 * channel:weight pairs, a full list of weights, unit a − unit b, the words for a vector, and the messages for
 * what is not a direction.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { describeVector, parseChannelWeights, unitDifference } from '../../src/renderer/src/lib/directionTarget'

test('channel:weight pairs set those channels (a channel named twice adds up), the others 0', () => {
  assert.deepEqual(parseChannelWeights('1:1, 3:-0.5', 5), { vector: [0, 1, 0, -0.5, 0], error: null })
  assert.deepEqual(parseChannelWeights(' 0:2;0:1  4:1e-1 ', 5).vector, [3, 0, 0, 0, 0.1])
})

test('a plain list gives one weight per channel, and must have exactly that many', () => {
  assert.deepEqual(parseChannelWeights('0.5, 0, -1', 3), { vector: [0.5, 0, -1], error: null })
  assert.match(parseChannelWeights('0.5, 0', 3).error!, /one per channel: 3, got 2/)
  assert.match(parseChannelWeights('1, x, 2', 3).error!, /"x" is not a number/)
})

test('what is not a direction says why', () => {
  assert.match(parseChannelWeights('', 4).error!, /channel:weight pairs/)
  assert.match(parseChannelWeights('4:1', 4).error!, /channel 4 is not in 0 … 3/)
  assert.match(parseChannelWeights('1.5:1', 4).error!, /"1.5:1" is not channel:weight/)
  assert.match(parseChannelWeights('1:', 4).error!, /"1:" is not channel:weight/)
  assert.match(parseChannelWeights('1:1, 2', 4).error!, /not both/)
  assert.match(parseChannelWeights('1:0, 2:0', 4).error!, /every weight is 0/)
})

test('unit a − unit b is +1 at a and −1 at b', () => {
  assert.deepEqual(unitDifference(2, 0, 4), { vector: [-1, 0, 1, 0], error: null })
  assert.match(unitDifference(1, 1, 4).error!, /the same/)
  assert.match(unitDifference(1, 9, 4).error!, /unit 9 is not in 0 … 3/)
})

test('a vector in words: its few weighted channels with signs, else how many', () => {
  assert.equal(describeVector([0, 1, 0, -0.5]), '1 (+1), 3 (−0.5)')
  assert.equal(describeVector([1, 1, 1, 1, 1, 0]), '5 of 6 channels weighted')
})
