/**
 * The renderer's on-demand engine runs (src/renderer/src/composables/engineRun.ts: occlusion, activation
 * maximization) under node with vue's reactivity and a stand-in engine: nothing runs until run(); progress
 * shows while it runs; the result is cached per params and comes back when they are current again; new
 * params do not cancel a run but it lands only in the cache; a second run cancels the first; cancel and
 * errors are told apart; leaving cancels unless told not to.
 */
import { test, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { effectScope, nextTick, ref } from 'vue'
import { ConvscopeError, type Params, type Progress, type Result } from '../../src/shared/api'
import { resultCache } from '../../src/renderer/src/composables/engineCall'
import { engineRun } from '../../src/renderer/src/composables/engineRun'

type P = Params<'getOcclusion'>
type R = Result<'getOcclusion'>

function fakeEngine() {
  const calls: { params: P; signal: AbortSignal; progress: (p: Progress) => void; resolve: (r: R) => void; reject: (e: unknown) => void }[] = []
  const runner = (params: P, signal: AbortSignal, progress: (p: Progress) => void) =>
    new Promise<R>((resolve, reject) => {
      signal.addEventListener('abort', () => reject(new ConvscopeError('CANCELLED', 'cancelled')))
      calls.push({ params, signal, progress, resolve, reject })
    })
  return { calls, runner }
}
const params = (image: string): P => ({ modelId: 'm', image, target: { kind: 'class', class: 1 }, size: 8, stride: 4 })
const answer = (rows: number) => ({ rows }) as unknown as R
const flush = async () => {
  for (let i = 0; i < 3; i++) await nextTick()
}

beforeEach(() => resultCache('getOcclusion').clear())

test('nothing runs until run(); progress while running; the result is kept and shown again for the same params', async () => {
  const engine = fakeEngine()
  const image = ref('/a.png')
  const scope = effectScope()
  const r = scope.run(() => engineRun('getOcclusion', () => params(image.value), engine.runner))!
  await flush()
  assert.equal(engine.calls.length, 0)
  assert.equal(r.data.value, null)
  const done = r.run()
  assert.equal(r.running.value, true)
  engine.calls[0]!.progress({ done: 3, total: 9 })
  assert.deepEqual(r.progress.value, { done: 3, total: 9 })
  engine.calls[0]!.resolve(answer(3))
  await done
  assert.equal(r.running.value, false)
  assert.equal(r.progress.value, null)
  assert.deepEqual(r.data.value, answer(3))
  image.value = '/b.png'
  await flush()
  assert.equal(r.data.value, null, 'another image has no result yet')
  image.value = '/a.png'
  await flush()
  assert.deepEqual(r.data.value, answer(3), 'back from the cache, without a run')
  assert.equal(engine.calls.length, 1)
  scope.stop()
})

test('params changed during a run: it finishes into the cache only; a second run cancels the first', async () => {
  const engine = fakeEngine()
  const image = ref('/a.png')
  const scope = effectScope()
  const r = scope.run(() => engineRun('getOcclusion', () => params(image.value), engine.runner))!
  const first = r.run()
  image.value = '/b.png'
  await flush()
  assert.equal(r.running.value, false, 'the run is not of the current params')
  engine.calls[0]!.resolve(answer(1))
  await first
  assert.equal(r.data.value, null, 'not shown for /b.png')
  assert.deepEqual(resultCache('getOcclusion').size, 1)
  const second = r.run()
  const third = r.run()
  assert.equal(engine.calls[1]!.signal.aborted, true, 'the second run was cancelled by the third')
  engine.calls[2]!.resolve(answer(2))
  await Promise.all([second, third])
  assert.deepEqual(r.data.value, answer(2))
  assert.equal(r.cancelled.value, false)
  scope.stop()
})

test('cancel is no error; an error is shown; leaving cancels unless cancelOnLeave is false', async () => {
  const engine = fakeEngine()
  const scope = effectScope()
  const r = scope.run(() => engineRun('getOcclusion', () => params('/a.png'), engine.runner))!
  const a = r.run()
  r.cancel()
  await a
  assert.equal(r.cancelled.value, true)
  assert.equal(r.error.value, null)
  const b = r.run()
  engine.calls[1]!.reject(new ConvscopeError('BAD_REQUEST', 'size larger than the input'))
  await b
  assert.equal((r.error.value as ConvscopeError | null)?.message, 'size larger than the input') // (assert.equal above narrowed it to null)
  assert.equal(r.cancelled.value, false)
  void r.run()
  scope.stop()
  assert.equal(engine.calls[2]!.signal.aborted, true, 'leaving cancelled it')

  const kept = effectScope()
  const k = kept.run(() => engineRun('getOcclusion', () => params('/c.png'), engine.runner, { cancelOnLeave: false }))!
  const c = k.run()
  kept.stop()
  assert.equal(engine.calls[3]!.signal.aborted, false, 'a long job goes on')
  engine.calls[3]!.resolve(answer(7))
  await c
  assert.equal(resultCache('getOcclusion').size, 1, 'its result is in the cache (the cancelled and failed runs left none)')
})
