/**
 * Served mode: the HTTP + WebSocket twin of the Electron shell, for any browser (local, or a laptop
 * reaching a headless GPU server through an SSH tunnel), for end-to-end tests, and for `npm start`
 * where no Electron binary is installed.
 *
 *   GET /?token=T              the built renderer (out/renderer); sets a same-site cookie with the token so
 *                              that the page's own assets, images and WebSocket are authorised too
 *   GET /file?path=ABS&token=T an image inside a folder the user opened (403 outside, 404 missing)
 *   WS  /ws?token=T            the envelopes of shared/api, encoded with wire.ts
 *
 * Every request needs the token (query `token`, the cookie, or `Authorization: Bearer`): 401 otherwise.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, resolve } from 'node:path'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import { ConvscopeError } from '../../shared/api'
import { decodeMessage, encodeMessage } from '../../shared/wire'
import { AllowedRoots, imageContentType, isInside } from '../host/access'
import type { EngineHost, SpawnEngine } from '../host/engineHost'
import { EngineLanes } from '../host/engines'
import { Router } from '../host/router'
import { packageRoot } from '../packageRoot'
import { defaultWorkspaceDir, ensureWorkspace } from '../workspace'

export interface ServerOptions {
  /** Interface to bind. Default 127.0.0.1; anything not loopback prints a warning. */
  host?: string
  /** Default 0: a random free port. */
  port?: number
  /** Default: defaultWorkspaceDir(). */
  workspace?: string
  /** Force an engine backend. */
  backend?: string
  /** The built renderer. Default: out/renderer of this project. */
  staticDir?: string
  /** Print the `convscope: serving at URL` line on stdout. Default true. */
  announce?: boolean
  /** Open the bundled demo when a window finds the workspace empty. Default true. */
  openDemoOnFirstStart?: boolean
  /** How to start the engine process. Default: child_process.fork of the engine entry. */
  spawnEngine?: SpawnEngine
}

export interface RunningServer {
  /** http://HOST:PORT/?token=TOKEN */
  url: string
  token: string
  host: string
  port: number
  /** The interactive engine process (`engines.interactive`). */
  engine: EngineHost
  /** Both engine processes: the interactive one and the one for long jobs, started on the first job. */
  engines: EngineLanes
  /** The folders whose images /file serves (the workspace, then every folder the user opens). */
  roots: AllowedRoots
  close(): Promise<void>
}

/** Content-Security-Policy of the renderer page (no 'unsafe-eval'). WebGL traces (the Embeddings view's scattergl) come
 * from plotly's strict bundle (plotly.js-strict-dist-min): the default bundle's regl compiles with Function() and shows
 * "WebGL is not supported" under this policy (measured in Chromium, issue 13). SVG charts use either bundle. */
function contentSecurityPolicy(host: string | undefined): string {
  const sockets = host ? ` ws://${host} wss://${host}` : ''
  return [
    "default-src 'self'",
    "img-src 'self' data: blob:",
    `connect-src 'self'${sockets}`,
    "style-src 'self' 'unsafe-inline'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
}

const STATIC_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
}

/** Headers on every response: no sniffing, no framing, and never leak the token-bearing URL as a referrer. */
const COMMON_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Resource-Policy': 'same-origin',
}

const defaultStaticDir = (): string => join(packageRoot(), 'out', 'renderer')

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

function tokensEqual(given: string | null | undefined, token: string): boolean {
  const expected = Buffer.from(token)
  const actual = Buffer.from(given ?? '')
  // timingSafeEqual needs equal lengths; compare against ourselves to spend the same time anyway.
  if (actual.length !== expected.length) return !timingSafeEqual(expected, expected)
  return timingSafeEqual(actual, expected)
}

function cookieValue(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return null
}

const HTTP_STATUS: Partial<Record<string, number>> = { BAD_REQUEST: 400, FORBIDDEN: 403, NOT_FOUND: 404 }

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1'
  const workspace = await ensureWorkspace(options.workspace ?? defaultWorkspaceDir())
  const staticDir = resolve(options.staticDir ?? defaultStaticDir())
  const token = randomBytes(16).toString('hex')

  const engines = new EngineLanes({ engine: { workspace, ...(options.backend ? { backend: options.backend } : {}) }, spawn: options.spawnEngine })
  const roots = await AllowedRoots.create(workspace)
  const router = new Router({ engines, roots, shell: { shell: 'served', workspace, openDemoOnFirstStart: options.openDemoOnFirstStart } })
  // getSystemInfo reports the backend: have it before the first window asks. A failing backend fails here.
  // The jobs engine starts with the first job.
  try {
    await engines.interactive.start()
  } catch (error) {
    await engines.dispose()
    throw error
  }

  let cookieName = 'convscope_token'
  const authorized = (req: IncomingMessage, url: URL): boolean => {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    const given = url.searchParams.get('token') ?? bearer ?? cookieValue(req, cookieName)
    return tokensEqual(given, token)
  }

  const send = (res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { ...COMMON_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers })
    res.end(text)
  }

  async function serveFile(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.searchParams.get('path')
    if (!path) return send(res, 400, 'Missing ?path=')
    let real: string
    try {
      real = await roots.assertAllowed(path)
    } catch (error) {
      const status = error instanceof ConvscopeError ? (HTTP_STATUS[error.code] ?? 500) : 500
      return send(res, status, (error as Error).message)
    }
    const type = imageContentType(real)
    if (!type) return send(res, 415, `${path} is not an image convscope shows`)
    const info = await stat(real).catch(() => null)
    if (!info?.isFile()) return send(res, 404, `${path} is not a file`)
    res.writeHead(200, {
      ...COMMON_HEADERS,
      'Content-Type': type,
      'Content-Length': String(info.size),
      'Last-Modified': info.mtime.toUTCString(),
      // Engine-written maps are rewritten in place: revalidate instead of trusting a cached copy.
      'Cache-Control': 'private, no-cache',
    })
    if (req.method === 'HEAD') return void res.end()
    createReadStream(real)
      .on('error', () => res.destroy())
      .pipe(res)
  }

  async function serveStatic(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    let pathname: string
    try {
      pathname = decodeURIComponent(url.pathname)
    } catch {
      return send(res, 400, 'Malformed path')
    }
    if (pathname.includes('\0')) return send(res, 400, 'Malformed path')
    const isIndex = pathname === '/' || pathname === '/index.html'
    const full = resolve(staticDir, '.' + (isIndex ? '/index.html' : pathname))
    if (!isInside(full, staticDir)) return send(res, 404, 'Not found')
    const info = await stat(full).catch(() => null)
    if (!info?.isFile()) {
      if (isIndex) return send(res, 503, `The renderer is not built (no ${join(staticDir, 'index.html')}): run \`npm run build\``)
      return send(res, 404, 'Not found')
    }
    const type = STATIC_TYPES[extname(full).toLowerCase()] ?? 'application/octet-stream'
    const headers: Record<string, string> = { ...COMMON_HEADERS, 'Content-Type': type, 'Content-Length': String(info.size) }
    if (type.startsWith('text/html')) {
      headers['Content-Security-Policy'] = contentSecurityPolicy(req.headers.host)
      headers['Cache-Control'] = 'no-store'
      // The page's own requests (assets, <img>, the WebSocket) then carry the token without a query.
      headers['Set-Cookie'] = `${cookieName}=${token}; HttpOnly; SameSite=Strict; Path=/`
    } else {
      headers['Cache-Control'] = 'no-cache'
    }
    res.writeHead(200, headers)
    if (req.method === 'HEAD') return void res.end()
    createReadStream(full)
      .on('error', () => res.destroy())
      .pipe(res)
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://convscope.invalid')
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'Method not allowed', { Allow: 'GET, HEAD' })
    if (!authorized(req, url)) return send(res, 401, 'Missing or wrong token: open the URL that `convscope serve` printed')
    const handled = url.pathname === '/file' ? serveFile(req, res, url) : serveStatic(req, res, url)
    handled.catch((error) => {
      console.error('convscope: request failed:', error)
      if (!res.headersSent) send(res, 500, 'Internal error')
      else res.destroy()
    })
  })

  const sockets = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 })
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://convscope.invalid')
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`)
    }
    if (url.pathname !== '/ws') return refuse(404, 'Not Found')
    if (!authorized(req, url)) return refuse(401, 'Unauthorized')
    // A page of another origin must not drive the engine even if it learnt the token.
    const origin = req.headers.origin
    if (origin && origin !== 'null') {
      let originHost: string | null = null
      try {
        originHost = new URL(origin).host
      } catch {}
      if (originHost !== req.headers.host) return refuse(403, 'Forbidden')
    }
    sockets.handleUpgrade(req, socket, head, (ws) => sockets.emit('connection', ws, req))
  })
  sockets.on('connection', (ws: WebSocket) => {
    const session = router.session((message) => {
      if (ws.readyState === ws.OPEN) ws.send(encodeMessage(message))
    })
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return
      let envelope: unknown
      try {
        envelope = decodeMessage(Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8'))
      } catch {
        return ws.close(1003, 'Messages are JSON text')
      }
      session.dispatch(envelope)
    })
    ws.on('close', () => session.close())
    ws.on('error', () => session.close())
  })

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', rejectListen)
      resolveListen()
    })
  })
  const port = (server.address() as AddressInfo).port
  cookieName = `convscope_token_${port}` // cookies ignore ports: one name per server on the same host
  const urlHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  const url = `http://${urlHost}:${port}/?token=${token}`

  if (!isLoopback(host)) {
    console.error(
      `convscope: warning: listening on ${host}, not only this machine: anyone who can reach port ${port} and has the token ` +
        'can list folder names and read images in the folders you open, over unencrypted HTTP. Prefer 127.0.0.1 with an SSH tunnel.',
    )
  }
  if (options.announce ?? true) console.log(`convscope: serving at ${url}`)

  return {
    url,
    token,
    host,
    port,
    engine: engines.interactive,
    engines,
    roots,
    async close() {
      for (const client of sockets.clients) client.terminate()
      sockets.close()
      await new Promise<void>((done) => {
        server.close(() => done())
        server.closeAllConnections()
      })
      await engines.dispose()
    },
  }
}
