/**
 * The engine process as the shell sees it: the real worker.ts in a child process, started, crashed,
 * restarted and shut down through EngineHost.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { ConvscopeError } from '../../src/shared/api'
import { EngineHost, locateEngineEntry } from '../../src/main/host/engineHost'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('EngineHost with the real engine process', () => {
  let workspace: string
  let host: EngineHost

  before(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'convscope-host-'))
    host = new EngineHost({ engine: { workspace, backend: 'cpu' } })
  })

  after(async () => {
    await host?.dispose()
    await rm(workspace, { recursive: true, force: true })
  })

  test('from source, the engine entry is worker.ts run through tsx; bundled, engine.js beside the bundle', () => {
    const source = locateEngineEntry(new URL('../../src/main/host/engineHost.ts', import.meta.url).href)
    assert.match(source.path, /src[\\/]main[\\/]engine[\\/]worker\.ts$/)
    assert.equal(source.execArgv[0], '--import')
    assert.match(source.execArgv[1]!, /tsx/)
    const bundled = locateEngineEntry('file:///app/out/main/index.js')
    assert.equal(bundled.path, join('/app/out/main', 'engine.js'))
    assert.deepEqual(bundled.execArgv, [])
  })

  test('start() resolves with the backend report, and backend keeps it', async () => {
    const report = await host.start()
    assert.equal(report.active, 'cpu')
    assert.deepEqual(host.backend, report)
  })

  test('a crash of the engine process rejects the pending call clearly, and the next request restarts it', async () => {
    await host.start()
    const firstPid = host.pid!
    let progressed = false
    const pending = host.request('busyWork', { milliseconds: 3000 }, { onProgress: () => (progressed = true) })
    while (!progressed) await sleep(10)
    process.kill(firstPid, 'SIGKILL')
    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof ConvscopeError)
      assert.equal(error.code, 'INTERNAL')
      assert.match(error.message, /engine process exited unexpectedly \(killed by SIGKILL\) while running busyWork; it will be restarted/)
      return true
    })
    const result = await host.request('busyWork', { milliseconds: 20 })
    assert.ok(result.iterations > 0)
    assert.notEqual(host.pid, firstPid)
  })

  test('requests queue in arrival order; cancelling a queued one answers at once', async () => {
    const order: string[] = []
    const first = host.request('busyWork', { milliseconds: 400 }).then(() => order.push('first'))
    const controller = new AbortController()
    const second = host.request('busyWork', { milliseconds: 400 }, { signal: controller.signal })
    const third = host.request('busyWork', { milliseconds: 10 }).then(() => order.push('third'))
    await sleep(50)
    controller.abort()
    await assert.rejects(second, { code: 'CANCELLED' })
    await Promise.all([first, third])
    assert.deepEqual(order, ['first', 'third'])
  })

  test('errors of the engine keep their code; shell methods are refused by the engine', async () => {
    await assert.rejects(host.request('busyWork', { milliseconds: -5 }), { code: 'BAD_REQUEST' })
    await assert.rejects(host.request('ping' as 'busyWork', {} as { milliseconds: number }), { code: 'BAD_REQUEST', message: /answered by the shell/ })
  })

  test('an engine that cannot start says why, with its last output', async () => {
    const broken = new EngineHost({ engine: { workspace, backend: 'cpu' }, entry: { path: join(workspace, 'no-such-worker.mjs'), execArgv: [] } })
    await assert.rejects(broken.start(), { code: 'INTERNAL', message: /exited before it was ready \(exit code 1\)[\s\S]*Cannot find module/ })
    await broken.dispose()
  })

  test('dispose() rejects pending calls with UNAVAILABLE and later calls too', async () => {
    const own = new EngineHost({ engine: { workspace, backend: 'cpu' } })
    await own.start()
    const pending = assert.rejects(own.request('busyWork', { milliseconds: 3000 }), { code: 'UNAVAILABLE' })
    await sleep(50)
    const pid = own.pid!
    await own.dispose()
    await pending
    await assert.rejects(own.request('busyWork', { milliseconds: 10 }), { code: 'UNAVAILABLE' })
    assert.throws(() => process.kill(pid, 0), 'the engine process is gone')
  })
})
