/** Rate, ETA and their display, measured one way for the engine, the CLI and the window (issue 9). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatDuration, progressRate, RateMeter, rateFields } from '../../src/shared/progressRate'

test('progressRate: items per second since the first sample, ETA at that rate; unknown before 0.5 s (unless done) or without progress', () => {
  assert.deepEqual(progressRate({ done: 100, at: 0 }, { done: 150, at: 2000 }, 250), { rate: 25, etaSeconds: 4 })
  assert.deepEqual(progressRate({ done: 0, at: 0 }, { done: 10, at: 400 }, 20), { rate: null, etaSeconds: null })
  assert.deepEqual(progressRate({ done: 0, at: 0 }, { done: 20, at: 400 }, 20), { rate: 50, etaSeconds: 0 }, 'a short run ends with its rate')
  assert.deepEqual(progressRate({ done: 5, at: 0 }, { done: 5, at: 5000 }, 20), { rate: null, etaSeconds: null })
  assert.deepEqual(progressRate({ done: 0, at: 0 }, { done: 10, at: 1000 }, null), { rate: 10, etaSeconds: null })
  const meter = new RateMeter()
  meter.sample(40, 100, 1000)
  assert.deepEqual(meter.sample(60, 100, 3000), { rate: 10, etaSeconds: 4 })
  meter.reset()
  assert.deepEqual(meter.sample(60, 100, 3000), { rate: null, etaSeconds: null })
  assert.deepEqual(rateFields({ rate: 10, etaSeconds: 4 }), { rate: 10, etaSeconds: 4 })
  assert.deepEqual(rateFields({ rate: null, etaSeconds: null }), {})
})

test('formatDuration rounds to whole seconds first: 59.6 s is 1:00, never 0:60', () => {
  assert.deepEqual([7.2, 59.6, 750, 3599.7, 7500, -3].map(formatDuration), ['0:07', '1:00', '12:30', '1 h 00 min', '2 h 05 min', '0:00'])
})
