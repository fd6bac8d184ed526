/**
 * Served mode end to end at the process level: the real engine process (src/main/engine/worker.ts), the
 * real HTTP + WebSocket server, and a WebSocket client speaking the envelopes of shared/api.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import WebSocket from 'ws'
import { methods, type Progress, type ResponseEnvelope } from '../../src/shared/api'
import { decodeMessage, encodeMessage } from '../../src/shared/wire'
import { shellMethods } from '../../src/main/host/shellMethods'
import { startServer, type RunningServer } from '../../src/main/server/server'

// A real 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')

/** A served-mode client: numbered requests, progress collected per id. */
class Client {
  private nextId = 1
  private readonly waiting = new Map<number, (r: ResponseEnvelope) => void>()
  readonly progress = new Map<number, Progress[]>()

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = decodeMessage(String(data)) as ResponseEnvelope | { kind: 'progress'; id: number; progress: Progress }
      if (message.kind === 'progress') {
        const list = this.progress.get(message.id) ?? []
        list.push(message.progress)
        this.progress.set(message.id, list)
      } else {
        this.waiting.get(message.id)?.(message)
        this.waiting.delete(message.id)
      }
    })
  }

  static connect(url: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url)
      ws.once('open', () => resolve(new Client(ws)))
      ws.once('error', reject)
    })
  }

  request(method: string, params: unknown): { id: number; response: Promise<ResponseEnvelope> } {
    const id = this.nextId++
    const response = new Promise<ResponseEnvelope>((resolve) => this.waiting.set(id, resolve))
    this.ws.send(encodeMessage({ kind: 'request', id, method, params }))
    return { id, response }
  }

  async call(method: string, params: unknown): Promise<unknown> {
    const response = await this.request(method, params).response
    if (!response.ok) throw Object.assign(new Error(response.error.message), { code: response.error.code })
    return response.result
  }

  cancel(id: number): void {
    this.ws.send(encodeMessage({ kind: 'cancel', id }))
  }

  close(): void {
    this.ws.close()
  }
}

interface HttpAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** GET with a raw, unnormalised path (fetch would resolve `..` before sending). */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** The HTTP status a WebSocket upgrade is answered with (101 when it is accepted). */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.once('open', () => {
      ws.close()
      resolve(101)
    })
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0)
      res.resume()
    })
    ws.once('error', (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error)
    })
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('served mode', () => {
  let dir: string
  let workspace: string
  let outside: string
  let server: RunningServer
  let client: Client

  before(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'convscope-server-')))
    workspace = join(dir, 'workspace')
    outside = join(dir, 'outside')
    const staticDir = join(dir, 'renderer')
    await mkdir(join(workspace, 'images'), { recursive: true })
    await mkdir(join(workspace, 'models', 'tiny'), { recursive: true })
    await mkdir(outside, { recursive: true })
    await mkdir(staticDir, { recursive: true })
    await writeFile(join(workspace, 'images', 'ok.png'), PNG)
    await writeFile(join(workspace, 'images', 'notes.txt'), 'not an image')
    await writeFile(join(workspace, 'models', 'tiny', 'model.json'), '{}')
    await writeFile(join(outside, 'secret.png'), PNG)
    await symlink(join(outside, 'secret.png'), join(workspace, 'images', 'link-to-secret.png'))
    await symlink(outside, join(workspace, 'images', 'link-to-outside'))
    await writeFile(join(staticDir, 'index.html'), '<!doctype html><title>convscope</title>')
    server = await startServer({ workspace, staticDir, backend: 'cpu', announce: false })
    client = await Client.connect(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`)
  })

  after(async () => {
    client?.close()
    await server?.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('the URL has the form the e2e tests parse, with a 32-hex-digit token', () => {
    assert.match(server.token, /^[0-9a-f]{32}$/)
    assert.equal(server.url, `http://127.0.0.1:${server.port}/?token=${server.token}`)
  })

  describe('the shell stays responsive while the engine works', () => {
    test('ping answers in under 200 ms during busyWork(3000), progress arrives, and cancel stops the engine early', async () => {
      const busy = client.request('busyWork', { milliseconds: 3000 })
      while (!client.progress.get(busy.id)?.length) await sleep(10) // the engine is now inside busyWork
      // Counted from here: busyWork is a job, and the jobs engine process starts with the first job.
      const started = performance.now()
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now()
        const pong = (await client.call('ping', {})) as { at: number }
        const latency = performance.now() - t0
        assert.ok(latency < 200, `ping took ${latency.toFixed(0)} ms`)
        assert.equal(typeof pong.at, 'number')
        await sleep(100)
      }
      const cancelledAt = performance.now()
      client.cancel(busy.id)
      const response = await busy.response
      assert.equal(response.ok, false)
      assert.equal(!response.ok && response.error.code, 'CANCELLED')
      assert.ok(performance.now() - started < 2000, 'cancel answered well before the 3 s job would end')

      // The engine itself stopped: a short job behind the cancelled one finishes at once, not after 3 s.
      const short = (await client.call('busyWork', { milliseconds: 100 })) as { iterations: number }
      assert.ok(short.iterations > 0)
      assert.ok(performance.now() - cancelledAt < 1000, `the engine was still busy ${(performance.now() - cancelledAt).toFixed(0)} ms after cancel`)

      const progress = client.progress.get(busy.id)!
      assert.ok(progress.length >= 3, `only ${progress.length} progress events`)
      assert.ok(progress.every((p, i) => p.total === 3000 && (i === 0 || p.done >= progress[i - 1]!.done)))
    })

    test('a finished busyWork reports progress up to its total', async () => {
      const job = client.request('busyWork', { milliseconds: 300 })
      const response = await job.response
      assert.ok(response.ok)
      const last = client.progress.get(job.id)!.at(-1)!
      assert.equal(last.done, 300)
    })
  })

  describe('shell methods', () => {
    test('the shell answers exactly the methods shared/api marks as shell methods', () => {
      const inApi = Object.entries(methods).filter(([, m]) => m.where === 'shell').map(([name]) => name).sort()
      assert.deepEqual(Object.keys(shellMethods).sort(), inApi)
    })

    test('getSystemInfo reports served mode, the engine backend and the workspace', async () => {
      const info = (await client.call('getSystemInfo', {})) as { shell: string; nativeDialogs: boolean; workspace: string; backend: { active: string } }
      assert.equal(info.shell, 'served')
      assert.equal(info.nativeDialogs, false)
      assert.equal(info.workspace, workspace)
      assert.equal(info.backend.active, 'cpu')
    })

    test('browse lists folders and images, marks model folders, and never lists other files', async () => {
      const listing = (await client.call('browse', { path: join(workspace, 'images') })) as { entries: { name: string; kind: string }[] }
      const names = listing.entries.map((e) => e.name)
      assert.ok(names.includes('ok.png') && names.includes('link-to-outside'))
      assert.ok(!names.includes('notes.txt'))
      const models = (await client.call('browse', { path: join(workspace, 'models') })) as { entries: { name: string; isModel: boolean }[] }
      assert.deepEqual(models.entries.map((e) => [e.name, e.isModel]), [['tiny', true]])
    })

    test('browse marks a folder with an .onnx file as a model and lists the .onnx file as one', async () => {
      const onnxModels = join(workspace, 'onnx-models')
      await mkdir(join(onnxModels, 'resnet18'), { recursive: true })
      await mkdir(join(onnxModels, 'empty'), { recursive: true })
      await writeFile(join(onnxModels, 'resnet18', 'resnet18.onnx'), 'bytes are not read')
      await writeFile(join(onnxModels, 'resnet18', 'notes.txt'), 'not listed')
      const folders = (await client.call('browse', { path: onnxModels })) as { entries: { name: string; isModel: boolean }[] }
      assert.deepEqual(folders.entries.map((e) => [e.name, e.isModel]), [['empty', false], ['resnet18', true]])
      const files = (await client.call('browse', { path: join(onnxModels, 'resnet18') })) as { entries: { name: string; kind: string; isModel: boolean }[] }
      assert.deepEqual(files.entries.map((e) => [e.name, e.kind, e.isModel]), [['resnet18.onnx', 'file', true]])
    })

    test('chooseFolder and chooseModel are UNAVAILABLE in served mode; unknown methods and bad params are BAD_REQUEST', async () => {
      await assert.rejects(client.call('chooseFolder', {}), { code: 'UNAVAILABLE' })
      await assert.rejects(client.call('chooseModel', {}), { code: 'UNAVAILABLE' })
      await assert.rejects(client.call('noSuchMethod', {}), { code: 'BAD_REQUEST' })
      await assert.rejects(client.call('busyWork', { milliseconds: 'soon' }), { code: 'BAD_REQUEST' })
      await assert.rejects(client.call('getActivations', { modelId: 'm', layer: 'l', image: join(outside, 'secret.png') }), { code: 'FORBIDDEN' })
    })
  })

  describe('security', () => {
    const fileUrl = (path: string, token = server.token) => `/file?path=${encodeURIComponent(path)}&token=${token}`

    test('without the token, the page, /file and /ws answer 401', async () => {
      assert.equal((await get(server.port, '/')).status, 401)
      assert.equal((await get(server.port, `/file?path=${encodeURIComponent(join(workspace, 'images', 'ok.png'))}`)).status, 401)
      assert.equal(await upgradeStatus(`ws://127.0.0.1:${server.port}/ws`), 401)
    })

    test('with a wrong token of the right length, the page, /file and /ws answer 401', async () => {
      const wrong = server.token.replace(/./, (c) => (c === '0' ? '1' : '0'))
      assert.equal((await get(server.port, `/?token=${wrong}`)).status, 401)
      assert.equal((await get(server.port, fileUrl(join(workspace, 'images', 'ok.png'), wrong))).status, 401)
      assert.equal(await upgradeStatus(`ws://127.0.0.1:${server.port}/ws?token=${wrong}`), 401)
    })

    test('a WebSocket from another origin is refused even with the token', async () => {
      assert.equal(await upgradeStatus(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`, { Origin: 'http://evil.example' }), 403)
    })

    test('the page comes with a strict Content-Security-Policy and a same-site cookie that authorises its own requests', async () => {
      const page = await get(server.port, `/?token=${server.token}`)
      assert.equal(page.status, 200)
      assert.match(String(page.headers['content-type']), /^text\/html/)
      const csp = String(page.headers['content-security-policy'])
      assert.match(csp, /default-src 'self'/)
      assert.match(csp, /script-src 'self'(;|$)/)
      assert.doesNotMatch(csp, /unsafe-eval/)
      assert.equal(page.headers['referrer-policy'], 'no-referrer')
      const setCookie = String(page.headers['set-cookie'])
      assert.match(setCookie, /HttpOnly/)
      assert.match(setCookie, /SameSite=Strict/)
      const cookie = setCookie.split(';')[0]!
      assert.equal((await get(server.port, `/file?path=${encodeURIComponent(join(workspace, 'images', 'ok.png'))}`, { Cookie: cookie })).status, 200)
    })

    test('an image inside an opened folder is served as image/png', async () => {
      const answer = await get(server.port, fileUrl(join(workspace, 'images', 'ok.png')))
      assert.equal(answer.status, 200)
      assert.equal(answer.headers['content-type'], 'image/png')
      assert.deepEqual(answer.body, PNG)
    })

    test('a file outside the opened folders is 403, however the path is spelled', async () => {
      for (const path of [
        join(outside, 'secret.png'),
        `${workspace}/images/../../outside/secret.png`,
        join(workspace, 'images', 'link-to-secret.png'), // a symlink inside pointing outside
        join(workspace, 'images', 'link-to-outside', 'secret.png'), // through a symlinked folder
        join(outside, 'missing.png'), // existence outside is not revealed
        '/etc/passwd',
      ]) {
        const answer = await get(server.port, fileUrl(path))
        assert.equal(answer.status, 403, `${path} gave ${answer.status}`)
        assert.match(answer.body.toString(), /outside the folders you opened/)
      }
    })

    test('a missing image inside an opened folder is 404; a relative path is 400; a non-image is 415', async () => {
      assert.equal((await get(server.port, fileUrl(join(workspace, 'images', 'missing.png')))).status, 404)
      assert.equal((await get(server.port, fileUrl('images/ok.png'))).status, 400)
      assert.equal((await get(server.port, fileUrl(join(workspace, 'images', 'notes.txt')))).status, 415)
    })

    test('static files cannot be reached outside the renderer folder', async () => {
      for (const path of ['/%2e%2e/workspace/images/ok.png', '/..%2f..%2fworkspace%2fimages%2fok.png', '/../outside/secret.png']) {
        const answer = await get(server.port, `${path}?token=${server.token}`)
        assert.equal(answer.status, 404, `${path} gave ${answer.status}`)
      }
    })

    test('only GET and HEAD are answered', async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: server.port, path: `/?token=${server.token}`, method: 'POST' }, (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        })
        req.on('error', reject)
        req.end()
      })
      assert.equal(status, 405)
    })
  })
})

describe('wire encoding (the WebSocket transport)', () => {
  test('Float32Array views at odd element offsets and special values survive a round trip bit for bit', () => {
    const backing = new Float32Array([9, 1.5, -0, NaN, Infinity, -Infinity, 1e-45, 3.4028234663852886e38, 7])
    const view = backing.subarray(1, 8) // byteOffset 4: not the start of its buffer
    const odd = new Float32Array(backing.buffer, 12, 3) // starts at element 3
    const decoded = decodeMessage(encodeMessage({ kind: 'response', id: 1, ok: true, result: { view, nested: [odd, { deep: odd }], empty: new Float32Array(0) } })) as {
      result: { view: Float32Array; nested: [Float32Array, { deep: Float32Array }]; empty: Float32Array }
    }
    const bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)]
    assert.ok(decoded.result.view instanceof Float32Array)
    assert.equal(decoded.result.view.length, 7)
    assert.deepEqual(bits(decoded.result.view), bits(view))
    assert.deepEqual(bits(decoded.result.nested[0]), bits(odd))
    assert.deepEqual(bits(decoded.result.nested[1].deep), bits(odd))
    assert.equal(decoded.result.empty.length, 0)
  })

  test('a Float32Array decoded from a buffer pool slice is still aligned and independent', () => {
    const values = new Float32Array([1, 2, 3])
    const text = encodeMessage({ a: 'x', values })
    const decoded = decodeMessage(text) as { values: Float32Array }
    assert.equal(decoded.values.byteOffset, 0)
    decoded.values[0] = 42
    assert.equal(values[0], 1)
  })
})
