/**
 * The two engine processes (host/engines.ts) through the Router, with the real worker.ts: a long job runs in
 * the jobs process while the interactive process keeps answering the views; cancel reaches the job's
 * process; a crash of the jobs process leaves the interactive one alone.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { methods, type MethodName, type Progress, type ResponseEnvelope, type ServerEnvelope, type SystemInfo } from '../../src/shared/api'
import { AllowedRoots } from '../../src/main/host/access'
import { EngineLanes } from '../../src/main/host/engines'
import { Router, type RouterSession } from '../../src/main/host/router'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A window's side of a router session: numbered requests, progress collected per id. */
class Window {
  private nextId = 1
  private readonly waiting = new Map<number, (r: ResponseEnvelope) => void>()
  readonly progress = new Map<number, Progress[]>()
  readonly session: RouterSession

  constructor(router: Router) {
    this.session = router.session((message: ServerEnvelope) => {
      if (message.kind === 'progress') this.progress.set(message.id, [...(this.progress.get(message.id) ?? []), message.progress])
      else this.waiting.get(message.id)?.(message)
    })
  }

  request(method: string, params: unknown): { id: number; response: Promise<ResponseEnvelope> } {
    const id = this.nextId++
    const response = new Promise<ResponseEnvelope>((resolve) => this.waiting.set(id, resolve))
    this.session.dispatch({ kind: 'request', id, method, params })
    return { id, response }
  }

  async call(method: string, params: unknown): Promise<unknown> {
    const response = await this.request(method, params).response
    if (!response.ok) throw Object.assign(new Error(response.error.message), { code: response.error.code })
    return response.result
  }

  /** Wait until the request has reported progress: its process is inside the job. */
  async working(id: number): Promise<void> {
    while (!this.progress.get(id)?.length) await sleep(10)
  }
}

/** ms an interactive engine call (listRecentModels: read by the interactive process) takes, worst of `times`. */
async function interactiveLatency(window: Window, times: number): Promise<number> {
  let worst = 0
  for (let i = 0; i < times; i++) {
    const t0 = performance.now()
    await window.call('listRecentModels', {})
    worst = Math.max(worst, performance.now() - t0)
    await sleep(50)
  }
  return worst
}

describe('the jobs lane: a second engine process for long jobs', () => {
  let workspace: string
  let engines: EngineLanes
  let window: Window

  before(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'convscope-lanes-'))
    engines = new EngineLanes({ engine: { workspace, backend: 'cpu' } })
    const router = new Router({ engines, roots: await AllowedRoots.create(workspace), shell: { shell: 'served', workspace } })
    await engines.interactive.start()
    window = new Window(router)
  })

  after(async () => {
    window?.session.close()
    await engines?.dispose()
    await rm(workspace, { recursive: true, force: true })
  })

  test('shared/api puts the long jobs in the jobs lane and the views\' calls in the interactive one', () => {
    const lane = (m: MethodName) => methods[m].where
    for (const m of ['startScan', 'prepareDemo', 'busyWork'] as const) assert.equal(lane(m), 'jobs', m)
    for (const m of ['openModel', 'getFilters', 'getActivations', 'openImageFolder', 'listScans', 'getTopPatches', 'listRecentModels'] as const) {
      assert.equal(lane(m), 'engine', m)
    }
  })

  test('the jobs process starts on the first job, not before; getSystemInfo reports both processes', async () => {
    const before = (await window.call('getSystemInfo', {})) as SystemInfo
    assert.deepEqual(
      before.engines?.map((e) => [e.lane, e.pid === null]),
      [
        ['engine', false],
        ['jobs', true],
      ],
    )
    assert.equal(before.engines?.[0]?.pid, engines.interactive.pid)
    await window.call('busyWork', { milliseconds: 20 })
    const afterJob = (await window.call('getSystemInfo', {})) as SystemInfo
    const jobs = afterJob.engines?.find((e) => e.lane === 'jobs')
    assert.equal(jobs?.pid, engines.jobs.pid)
    assert.notEqual(jobs?.pid, engines.interactive.pid)
    assert.equal(jobs?.backend?.active, 'cpu', 'the jobs process uses the same backend options')
  })

  test('while a long job runs, interactive engine calls answer in under 1 s; cancel stops the job in its process', async () => {
    const started = performance.now()
    const job = window.request('busyWork', { milliseconds: 6000 })
    await window.working(job.id)
    const worst = await interactiveLatency(window, 5)
    assert.ok(worst < 1000, `an interactive call took ${worst.toFixed(0)} ms during the job`)
    assert.ok(performance.now() - started < 5000, 'the job was still running while they answered')

    const cancelledAt = performance.now()
    window.session.dispatch({ kind: 'cancel', id: job.id })
    const response = await job.response
    assert.equal(!response.ok && response.error.code, 'CANCELLED')
    // The jobs process itself stopped: the next job runs at once instead of after the 6 s one.
    const next = (await window.call('busyWork', { milliseconds: 100 })) as { iterations: number }
    assert.ok(next.iterations > 0)
    assert.ok(performance.now() - cancelledAt < 2000, `the jobs process was still busy ${(performance.now() - cancelledAt).toFixed(0)} ms after cancel`)
  })

  test('a crash of the jobs process fails only its job; the interactive process keeps its pid and answers; the next job restarts it', async () => {
    const interactivePid = engines.interactive.pid
    const job = window.request('busyWork', { milliseconds: 6000 })
    await window.working(job.id)
    const jobsPid = engines.jobs.pid!
    process.kill(jobsPid, 'SIGKILL')
    const response = await job.response
    assert.equal(response.ok, false)
    assert.ok(!response.ok)
    assert.equal(response.error.code, 'INTERNAL')
    assert.match(response.error.message, /jobs engine process exited unexpectedly \(killed by SIGKILL\) while running busyWork/)

    assert.equal(engines.interactive.pid, interactivePid)
    assert.ok((await interactiveLatency(window, 2)) < 1000)
    const again = (await window.call('busyWork', { milliseconds: 20 })) as { iterations: number }
    assert.ok(again.iterations > 0)
    assert.notEqual(engines.jobs.pid, jobsPid)
    assert.equal(engines.interactive.pid, interactivePid)
  })

  test('dispose() stops both processes', async () => {
    const own = new EngineLanes({ engine: { workspace, backend: 'cpu' } })
    await Promise.all([own.interactive.start(), own.jobs.start()])
    const pids = [own.interactive.pid!, own.jobs.pid!]
    await own.dispose()
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), `process ${pid} is gone`)
    await assert.rejects(own.request('busyWork', { milliseconds: 10 }), { code: 'UNAVAILABLE', message: /jobs engine was shut down/ })
  })
})
