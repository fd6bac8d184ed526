/**
 * The renderer's keyed engine calls (src/renderer/src/composables/engineCall.ts), under node with vue's
 * reactivity and a stand-in for the engine: the key is the method and the whole params, results are cached
 * per method across "views" (effect scopes), a newer key cancels the call in flight, leaving cancels too,
 * errors land in `error`, and a list of calls only computes what the cache lacks.
 */
import { test, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { effectScope, nextTick, ref } from 'vue'
import { ConvscopeError, type Params, type Result } from '../../src/shared/api'
import { RecentResults, callKey, engineCall, engineCalls, resultCache, stableJson } from '../../src/renderer/src/composables/engineCall'

type P = Params<'getFilters'>
type R = Result<'getFilters'>

/** A stand-in engine: records each call and its signal; `settle` answers the oldest open one. */
function fakeEngine() {
  const calls: { params: P; signal: AbortSignal; resolve: (r: R) => void; reject: (e: unknown) => void }[] = []
  const caller = (params: P, signal: AbortSignal) =>
    new Promise<R>((resolve, reject) => {
      calls.push({ params, signal, resolve, reject })
    })
  return { calls, caller }
}
const answer = (layer: string) => ({ layer }) as unknown as R
/** Let vue's scheduler and the promise callbacks run. */
const flush = async () => {
  for (let i = 0; i < 3; i++) await nextTick()
}

beforeEach(() => resultCache('getFilters').clear())

test('the key holds every parameter, whatever their order; undefined members are absent ones', () => {
  assert.equal(stableJson({ b: 1, a: { d: [2, 1], c: 'x' } }), stableJson({ a: { c: 'x', d: [2, 1] }, b: 1 }))
  assert.notEqual(stableJson({ a: [1, 2] }), stableJson({ a: [2, 1] }))
  assert.equal(stableJson({ a: 1, layer: undefined }), stableJson({ a: 1 }))
  const maps = { modelId: 'm', image: '/data/a.png', method: 'cam', threshold: 0.2, top: 5 } as const
  // ClassMapsView's hand-made key once left out dataDir: two folders gave one key (and the other folder's boxes).
  assert.notEqual(callKey('getClassMaps', { ...maps, dataDir: '/data/voc' }), callKey('getClassMaps', { ...maps, dataDir: '/data/other' }))
  assert.notEqual(callKey('getClassMaps', { ...maps, dataDir: '/data/voc' }), callKey('getClassMaps', maps))
  assert.notEqual(callKey('getFilters', { modelId: 'm', layer: 'c1' }), callKey('getActivations', { modelId: 'm', layer: 'c1', image: 'x' } as never))
})

test('recent results keep the most recently used, up to their capacity', () => {
  const r = new RecentResults<number>(2)
  r.set('a', 1)
  r.set('b', 2)
  assert.equal(r.get('a'), 1) // a is now the most recent
  r.set('c', 3)
  assert.equal(r.get('b'), undefined)
  assert.equal(r.get('a'), 1)
  assert.equal(r.get('c'), 3)
  assert.equal(r.size, 2)
  assert.equal(resultCache('getFilters'), resultCache('getFilters'), 'one cache per method')
})

test('a call loads, and a later view with the same params gets it from the cache without calling', async () => {
  const engine = fakeEngine()
  const scope = effectScope()
  const first = scope.run(() => engineCall('getFilters', () => ({ modelId: 'm', layer: 'conv1' }), engine.caller))!
  await flush()
  assert.equal(engine.calls.length, 1)
  assert.equal(first.loading.value, true)
  engine.calls[0]!.resolve(answer('conv1'))
  await flush()
  assert.deepEqual(first.data.value, answer('conv1'))
  assert.equal(first.loading.value, false)
  scope.stop() // the view is left

  const again = effectScope()
  const second = again.run(() => engineCall('getFilters', () => ({ layer: 'conv1', modelId: 'm' }), engine.caller))!
  assert.deepEqual(second.data.value, answer('conv1'), 'shown at once')
  assert.equal(second.loading.value, false)
  await flush()
  assert.equal(engine.calls.length, 1, 'no second call')
  again.stop()
})

test('a newer key cancels the call in flight; its late answer is not shown', async () => {
  const engine = fakeEngine()
  const layer = ref('conv1')
  const scope = effectScope()
  const call = scope.run(() => engineCall('getFilters', () => ({ modelId: 'm', layer: layer.value }), engine.caller))!
  await flush()
  layer.value = 'conv2'
  await flush()
  assert.equal(engine.calls.length, 2)
  assert.equal(engine.calls[0]!.signal.aborted, true)
  assert.equal(engine.calls[1]!.signal.aborted, false)
  engine.calls[0]!.resolve(answer('conv1'))
  await flush()
  assert.equal(call.data.value, null)
  engine.calls[1]!.resolve(answer('conv2'))
  await flush()
  assert.deepEqual(call.data.value, answer('conv2'))
  scope.stop()
})

test('the same params asked again do not call again; null clears what is shown', async () => {
  const engine = fakeEngine()
  const tick = ref(0)
  const on = ref(true)
  const scope = effectScope()
  const call = scope.run(() => engineCall('getFilters', () => (void tick.value, on.value ? { modelId: 'm', layer: 'conv3' } : null), engine.caller))!
  await flush()
  tick.value++ // the getter runs again with equal params
  await flush()
  assert.equal(engine.calls.length, 1)
  assert.equal(engine.calls[0]!.signal.aborted, false)
  engine.calls[0]!.resolve(answer('conv3'))
  await flush()
  on.value = false
  await flush()
  assert.equal(call.data.value, null)
  scope.stop()
})

test('an error lands in error, not in data; leaving the view cancels the call in flight', async () => {
  const engine = fakeEngine()
  const layer = ref('bad')
  const scope = effectScope()
  const call = scope.run(() => engineCall('getFilters', () => ({ modelId: 'm', layer: layer.value }), engine.caller))!
  await flush()
  engine.calls[0]!.reject(new ConvscopeError('NOT_FOUND', 'no layer "bad"'))
  await flush()
  assert.equal(call.error.value?.code, 'NOT_FOUND')
  assert.equal(call.loading.value, false)
  layer.value = 'conv4'
  await flush()
  assert.equal(call.error.value, null, 'a new key clears the error')
  scope.stop()
  assert.equal(engine.calls[1]!.signal.aborted, true)
})

test('a failed load clears the previous result, which would pass for the new params (issue 9)', async () => {
  const engine = fakeEngine()
  const layer = ref('conv1')
  const scope = effectScope()
  const call = scope.run(() => engineCall('getFilters', () => ({ modelId: 'm', layer: layer.value }), engine.caller))!
  await flush()
  engine.calls[0]!.resolve(answer('conv1'))
  await flush()
  layer.value = 'unreadable'
  await flush()
  assert.deepEqual(call.data.value, answer('conv1'), 'shown (stale) while the next loads')
  engine.calls[1]!.reject(new ConvscopeError('BAD_IMAGE', 'not an image'))
  await flush()
  assert.equal(call.error.value?.code, 'BAD_IMAGE')
  assert.equal(call.data.value, null, 'no result of other params under these')
  scope.stop()
})

test('a list of calls computes only what the cache lacks and keeps the list order', async () => {
  const engine = fakeEngine()
  const layers = ref(['a1', 'a2'])
  const scope = effectScope()
  const call = scope.run(() => engineCalls('getFilters', () => layers.value.map((layer) => ({ modelId: 'm', layer })), engine.caller))!
  for (const name of ['a1', 'a2']) {
    await flush()
    engine.calls.find((c) => c.params.layer === name)!.resolve(answer(name))
  }
  await flush()
  assert.deepEqual(
    call.data.value?.map((a) => [a.params.layer, a.result]),
    [
      ['a1', answer('a1')],
      ['a2', answer('a2')],
    ],
  )
  layers.value = ['a3', 'a1', 'a2']
  await flush()
  assert.deepEqual(
    engine.calls.map((c) => c.params.layer),
    ['a1', 'a2', 'a3'],
  )
  engine.calls[2]!.resolve(answer('a3'))
  await flush()
  assert.deepEqual(
    call.data.value?.map((a) => a.result),
    [answer('a3'), answer('a1'), answer('a2')],
  )
  scope.stop()
})
