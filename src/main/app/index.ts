/**
 * The Electron shell: one window (sandboxed, context-isolated, no Node), the image protocol, IPC routed
 * through the same Router as served mode, and the two engine processes (interactive and jobs, see
 * host/engines.ts) as utilityProcesses. This folder is the only
 * code that imports 'electron' (besides the preload).
 *
 * Options: --workspace DIR / CONVSCOPE_WORKSPACE, --backend NAME / CONVSCOPE_BACKEND, --executor / CONVSCOPE_EXECUTOR,
 * --device / CONVSCOPE_DEVICE (engine/executors/device.ts).
 */
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { app, BrowserWindow, dialog, ipcMain, net, protocol, session, type IpcMainInvokeEvent, type WebContents } from 'electron'
import { ConvscopeError, RequestEnvelope, type ResponseEnvelope } from '../../shared/api'
import { IMAGE_PROTOCOL, IPC_CHANNELS } from '../../shared/transport'
import { AllowedRoots, imageContentType } from '../host/access'
import { EngineLanes } from '../host/engines'
import { Router, type RouterSession } from '../host/router'
import { engineOptionsFrom, ensureWorkspace } from '../workspace'
import { spawnUtilityEngine } from './utilityEngine'

const here = dirname(fileURLToPath(import.meta.url))
/** electron-vite dev serves the renderer over HTTP with hot reload; a build loads out/renderer from disk. */
const devServerUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined
// Installers put resources/ (the demo networks) beside the app (electron-builder.yml extraResources); the shell
// and the engine process (which inherits the environment) find it through this variable.
if (app.isPackaged) process.env.CONVSCOPE_RESOURCES ??= join(process.resourcesPath, 'resources')

// Must happen before `ready`: a standard, secure scheme can be fetched by <img> and fetch() like https;
// CORS-enabled so canvases that draw its images stay readable (figure export encodes them as PNG).
protocol.registerSchemesAsPrivileged([{ scheme: IMAGE_PROTOCOL, privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true, corsEnabled: true } }])

function contentSecurityPolicy(): string {
  const devSockets = devServerUrl ? ` ${devServerUrl} ${devServerUrl.replace(/^http/, 'ws')}` : ''
  return [
    "default-src 'self'",
    `img-src 'self' data: blob: ${IMAGE_PROTOCOL}:`,
    `connect-src 'self'${devSockets}`,
    "style-src 'self' 'unsafe-inline'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ')
}

/** What the model dialog offers: a TF.js model.json or an ONNX file (a folder holding either opens too). */
const MODEL_FILTERS: Electron.FileFilter[] = [
  { name: 'Models (TF.js model.json, ONNX)', extensions: ['json', 'onnx'] },
  { name: 'TF.js model.json', extensions: ['json'] },
  { name: 'ONNX model', extensions: ['onnx'] },
]

const HTTP_STATUS: Partial<Record<string, number>> = { BAD_REQUEST: 400, FORBIDDEN: 403, NOT_FOUND: 404 }

/** Only our own page may talk to the engine (not a frame or a page it was somehow navigated to). */
function isOwnPage(event: IpcMainInvokeEvent | Electron.IpcMainEvent): boolean {
  const url = event.senderFrame?.url ?? ''
  return url.startsWith('file://') || (devServerUrl !== undefined && url.startsWith(devServerUrl))
}

async function main(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    // Two instances would write the same workspace; the first one gets focus instead (second-instance below).
    app.quit()
    return
  }
  const options = engineOptionsFrom(process.argv.slice(1), process.env)
  await app.whenReady()

  const workspace = await ensureWorkspace(options.workspace)
  const engines = new EngineLanes({ engine: { ...options, workspace }, spawn: spawnUtilityEngine })
  engines.interactive.start().catch((error) => console.error('convscope: the engine did not start:', (error as Error).message))
  const roots = await AllowedRoots.create(workspace)
  let window: BrowserWindow | null = null
  const openDialog = async (options: Electron.OpenDialogOptions): Promise<string | null> => {
    const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options)
    return result.canceled ? null : (result.filePaths[0] ?? null)
  }

  const router = new Router({
    engines,
    roots,
    shell: {
      shell: 'electron',
      workspace,
      version: app.getVersion(),
      chooseFolder: (title) => openDialog({ title, properties: ['openDirectory'] }),
      // Linux and Windows dialogs pick files or folders, not both: a model is chosen by its file there.
      chooseModel: (title) => openDialog({ title, properties: process.platform === 'darwin' ? ['openFile', 'openDirectory'] : ['openFile'], filters: MODEL_FILTERS }),
    },
  })

  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [contentSecurityPolicy()] } })
  })
  // Nothing in this app needs camera, microphone, notifications, ...
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false))

  // convscope-file://local/<encodeURIComponent(absolute path)>: images inside the folders the user opened.
  protocol.handle(IMAGE_PROTOCOL, async (request) => {
    try {
      const path = decodeURIComponent(new URL(request.url).pathname.slice(1))
      const real = await roots.assertAllowed(path)
      const type = imageContentType(real)
      if (!type) return new Response(`${path} is not an image convscope shows`, { status: 415 })
      const file = await net.fetch(pathToFileURL(real).toString())
      return new Response(file.body, { status: file.status, headers: { 'Content-Type': type, 'Cache-Control': 'no-cache', 'Access-Control-Allow-Origin': '*' } })
    } catch (error) {
      const status = error instanceof ConvscopeError ? (HTTP_STATUS[error.code] ?? 500) : 500
      return new Response((error as Error).message, { status })
    }
  })

  // One router session per page load: request ids are the page's own, and a reload cancels its jobs.
  const sessions = new Map<number, { session: RouterSession; waiting: Map<number, (response: ResponseEnvelope) => void> }>()
  const sessionFor = (contents: WebContents) => {
    let entry = sessions.get(contents.id)
    if (entry) return entry
    const waiting = new Map<number, (response: ResponseEnvelope) => void>()
    const routerSession = router.session((message) => {
      if (message.kind === 'progress') {
        if (!contents.isDestroyed()) contents.send(IPC_CHANNELS.progress, message)
        return
      }
      waiting.get(message.id)?.(message)
      waiting.delete(message.id)
    })
    entry = { session: routerSession, waiting }
    sessions.set(contents.id, entry)
    const end = () => {
      routerSession.close()
      for (const [id, answer] of waiting) answer({ kind: 'response', id, ok: false, error: { code: 'CANCELLED', message: 'The page went away' } })
      if (sessions.get(contents.id) === entry) sessions.delete(contents.id)
    }
    contents.once('destroyed', end)
    contents.once('did-navigate', end)
    contents.once('render-process-gone', end)
    return entry
  }

  ipcMain.handle(IPC_CHANNELS.request, (event, raw: unknown): Promise<ResponseEnvelope> | ResponseEnvelope => {
    const parsed = RequestEnvelope.safeParse(raw)
    const id = parsed.success ? parsed.data.id : -1
    if (!isOwnPage(event)) return { kind: 'response', id, ok: false, error: { code: 'FORBIDDEN', message: 'Not the convscope page' } }
    if (!parsed.success) return { kind: 'response', id, ok: false, error: { code: 'BAD_REQUEST', message: 'Malformed request envelope' } }
    const { session: routerSession, waiting } = sessionFor(event.sender)
    if (waiting.has(id)) return { kind: 'response', id, ok: false, error: { code: 'BAD_REQUEST', message: `Request id ${id} is already in use` } }
    return new Promise((resolve) => {
      waiting.set(id, resolve)
      routerSession.dispatch(parsed.data)
    })
  })
  ipcMain.on(IPC_CHANNELS.cancel, (event, id: unknown) => {
    if (isOwnPage(event) && Number.isInteger(id)) sessions.get(event.sender.id)?.session.dispatch({ kind: 'cancel', id })
  })

  const createWindow = () => {
    window = new BrowserWindow({
      width: 1440,
      height: 900,
      show: false,
      title: 'convscope',
      webPreferences: {
        preload: join(here, '../preload/index.cjs'),
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        webSecurity: true,
      },
    })
    window.once('ready-to-show', () => window?.show())
    window.on('closed', () => {
      window = null
    })
    if (devServerUrl) void window.loadURL(devServerUrl)
    else void window.loadFile(join(here, '../renderer/index.html'))
  }

  app.on('second-instance', () => {
    if (!window) return
    if (window.isMinimized()) window.restore()
    window.focus()
  })
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow()
  })
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit()
  })
  app.on('will-quit', () => void engines.dispose())

  createWindow()
}

// Every page this app shows stays put: no pop-ups, no navigation away, no <webview>.
app.on('web-contents-created', (_event, contents) => {
  contents.setWindowOpenHandler(() => ({ action: 'deny' }))
  contents.on('will-navigate', (event) => event.preventDefault())
  contents.on('will-attach-webview', (event) => event.preventDefault())
})

main().catch((error) => {
  console.error('convscope:', error)
  dialog.showErrorBox('convscope could not start', String((error as Error)?.message ?? error))
  app.exit(1)
})
