import { afterEach, test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import * as tf from '@tensorflow/tfjs'
import { BackendReport, ConvscopeError } from '../../src/shared/api'
import { backendFromEnv, initBackend, parseBackendName } from '../../src/main/engine/backend'

const installed = (name: string): boolean => {
  try {
    createRequire(import.meta.url).resolve(name)
    return true
  } catch {
    return false
  }
}

const savedEnv = process.env.CONVSCOPE_BACKEND
afterEach(() => {
  if (savedEnv == null) delete process.env.CONVSCOPE_BACKEND
  else process.env.CONVSCOPE_BACKEND = savedEnv
})

/** Await `promise` and return the ConvscopeError it rejects with. */
async function rejection(promise: Promise<unknown>): Promise<ConvscopeError> {
  try {
    await promise
  } catch (err) {
    assert.ok(err instanceof ConvscopeError, `expected a ConvscopeError, got ${String(err)}`)
    return err
  }
  assert.fail('expected a rejection')
}

test('forced cpu: cpu is active and the report has that one attempt', async () => {
  const report = BackendReport.parse(await initBackend({ forced: 'cpu' }))
  assert.equal(report.active, 'cpu')
  assert.equal(report.forced, true)
  assert.deepEqual(report.attempts.map((a) => [a.name, a.ok]), [['cpu', true]])
  assert.match(report.attempts[0]!.reason, /forced/)
  assert.equal(tf.getBackend(), 'cpu')
})

test('forced tensorflow (or its alias node) without @tensorflow/tfjs-node: UNAVAILABLE naming the module, no fallback', async (t) => {
  if (installed('@tensorflow/tfjs-node')) return t.skip('@tensorflow/tfjs-node is installed here')
  await initBackend({ forced: 'cpu' })
  for (const forced of ['tensorflow', 'node', ' Node ']) {
    const err = await rejection(initBackend({ forced }))
    assert.equal(err.code, 'UNAVAILABLE')
    assert.match(err.message, /"tensorflow" was forced/)
    assert.match(err.message, /module @tensorflow\/tfjs-node is not installed/)
  }
  assert.equal(tf.getBackend(), 'cpu', 'the previous backend stays: no silent fallback')
})

test('forced tensorflow-gpu (alias node-gpu) without tfjs-node-gpu: UNAVAILABLE naming the module', async (t) => {
  if (installed('@tensorflow/tfjs-node-gpu')) return t.skip('@tensorflow/tfjs-node-gpu is installed here')
  const err = await rejection(initBackend({ forced: 'node-gpu' }))
  assert.equal(err.code, 'UNAVAILABLE')
  assert.match(err.message, /module @tensorflow\/tfjs-node-gpu is not installed.*CUDA/)
})

test('an unknown backend name is a BAD_REQUEST listing the accepted names', async () => {
  const err = await rejection(initBackend({ forced: 'webgl' }))
  assert.equal(err.code, 'BAD_REQUEST')
  assert.match(err.message, /tensorflow-gpu, tensorflow, wasm, cpu, node-gpu, node/)
})

test('not forced: all four attempts in order; the tfjs-node ones skipped with reasons; wasm chosen, cpu not tried', async () => {
  const report = BackendReport.parse(await initBackend({}))
  assert.equal(report.forced, false)
  assert.deepEqual(report.attempts.map((a) => a.name), ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'])
  for (const a of report.attempts) assert.ok(a.reason.length > 10, `${a.name} has a reason`)
  if (!installed('@tensorflow/tfjs-node-gpu')) assert.match(report.attempts[0]!.reason, /@tensorflow\/tfjs-node-gpu is not installed/)
  if (!installed('@tensorflow/tfjs-node')) assert.match(report.attempts[1]!.reason, /@tensorflow\/tfjs-node is not installed/)
  const chosen = report.attempts.filter((a) => a.ok)
  assert.equal(chosen.length, 1)
  assert.equal(chosen[0]!.name, report.active)
  assert.equal(tf.getBackend(), report.active === 'tensorflow-gpu' ? 'tensorflow' : report.active)
  if (report.active === 'wasm') {
    assert.match(report.attempts[2]!.reason, /first that works.*WebAssembly/)
    assert.deepEqual([report.attempts[3]!.ok, /not tried/.test(report.attempts[3]!.reason)], [false, true])
    assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm') != null, 'wasm gradient kernels registered')
  }
})

test('initBackend can switch back and forth (wasm paths are set once)', async () => {
  assert.equal((await initBackend({ forced: 'wasm' })).active, 'wasm')
  assert.equal((await initBackend({ forced: 'cpu' })).active, 'cpu')
  assert.equal((await initBackend({ forced: 'wasm' })).active, 'wasm')
  const y = tf.tidy(() => tf.conv2d(tf.ones([1, 4, 4, 1]) as tf.Tensor4D, tf.ones([3, 3, 1, 1]) as tf.Tensor4D, 1, 'same').dataSync())
  assert.deepEqual(Array.from(y), [4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4])
})

test('backendFromEnv: --backend wins over CONVSCOPE_BACKEND; aliases become our names; nothing set gives undefined', () => {
  delete process.env.CONVSCOPE_BACKEND
  assert.equal(backendFromEnv(), undefined)
  assert.equal(backendFromEnv(''), undefined)
  process.env.CONVSCOPE_BACKEND = 'node'
  assert.equal(backendFromEnv(), 'tensorflow')
  assert.equal(backendFromEnv('wasm'), 'wasm')
  process.env.CONVSCOPE_BACKEND = '  '
  assert.equal(backendFromEnv(), undefined)
  assert.equal(parseBackendName('NODE-GPU'), 'tensorflow-gpu')
  assert.throws(() => backendFromEnv('metal'), (err: unknown) => err instanceof ConvscopeError && err.code === 'BAD_REQUEST')
})
