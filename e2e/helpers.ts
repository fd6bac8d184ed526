/**
 * Shared pieces of the end-to-end tests: the browser, served mode as a child process, a model folder,
 * an image folder, and screenshots (artifacts under test-results/e2e/).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import assert from 'node:assert/strict'
import { after, before } from 'node:test'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import { chromium, type Browser, type Locator, type Page } from 'playwright-core'
import { demoDataCommand } from '../src/main/cli/demoDataCommand'
import { runCli } from '../test/fixtures/cli'
import { servingUrl } from '../test/helpers/servingUrl'

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
export const SCREENSHOTS = join(ROOT, 'test-results', 'e2e')
export const CHROMIUM = process.env.CONVSCOPE_CHROMIUM ?? '/usr/bin/chromium'

/** Why the browser tests cannot run here, or null when they can. */
export function browserMissing(): string | null {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CONVSCOPE_CHROMIUM)`
  if (!existsSync(join(ROOT, 'out', 'renderer', 'index.html'))) return 'no out/renderer: run `npx electron-vite build` first'
  return null
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
}

export interface Served {
  url: string
  token: string
  stop(): Promise<void>
}

/** `convscope serve --port 0`: waits for its "serving at URL" line. */
export async function startServed(workspace: string, extraArgs: string[] = []): Promise<Served> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'convscope.mjs'), 'serve', '--port', '0', '--workspace', workspace, ...extraArgs], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const url = await servingUrl(child).url
  child.stdout!.resume()
  child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(`[serve] ${chunk}`))
  return { url, token: new URL(url).searchParams.get('token') ?? '', stop: () => stopChild(child) }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((done) => child.once('exit', () => done()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

/** An ImageNet-style folder: a few 64×48 PNGs in class sub-folders. Returns the image paths. */
export async function makeImageFolder(dir: string): Promise<string[]> {
  const w = 64
  const h = 48
  const pictures: Record<string, (x: number, y: number) => [number, number, number]> = {
    'reds/red_disc.png': (x, y) => ((x - 32) ** 2 + (y - 24) ** 2 < 300 ? [220, 30, 30] : [240, 240, 235]),
    'reds/red_square.png': (x, y) => (x > 12 && x < 40 && y > 8 && y < 36 ? [200, 20, 40] : [30, 30, 40]),
    'stripes/vertical.png': (x) => (x % 8 < 4 ? [250, 250, 250] : [20, 20, 20]),
    'stripes/diagonal.png': (x, y) => ((x + y) % 12 < 6 ? [40, 90, 220] : [250, 220, 60]),
  }
  const paths: string[] = []
  for (const [rel, colour] of Object.entries(pictures)) {
    const pixels = Buffer.alloc(w * h * 3)
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) pixels.set(colour(x, y), (y * w + x) * 3)
    const path = join(dir, rel)
    await mkdir(join(path, '..'), { recursive: true })
    await sharp(pixels, { raw: { width: w, height: h, channels: 3 } }).png().toFile(path)
    paths.push(path)
  }
  return paths
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) })
}

/** Fails the test on any uncaught page error or console error (CSP violations report there too). */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`)
  })
  return errors
}

/** Wait until the locator's text matches; the failure says what the text was. */
export async function waitForText(locator: Locator, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  let text = ''
  for (;;) {
    text = (await locator.first().textContent({ timeout: Math.max(1, deadline - Date.now()) }).catch(() => null)) ?? ''
    if (pattern.test(text)) return text
    if (Date.now() > deadline) throw new Error(`expected text matching ${pattern}, got ${JSON.stringify(text)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Layer names and kernel filters of a TF.js layers model, read from its model.json. */
export async function layersOf(modelDir: string): Promise<{ name: string; className: string; filters: number | null }[]> {
  const json = JSON.parse(await readFile(join(modelDir, 'model.json'), 'utf8'))
  const topology = json.modelTopology.model_config ?? json.modelTopology
  return topology.config.layers.map((l: { class_name: string; config: { name: string; filters?: number } }) => ({
    name: l.config.name,
    className: l.class_name,
    filters: l.config.filters ?? null,
  }))
}

/** First start on an empty workspace: wait until the bundled demo (the gap network, its 1400 val images) is open. */
export async function waitForDemo(page: Page, timeoutMs = 240_000): Promise<void> {
  await waitForText(page.getByTestId('model-name'), /^gap$/, timeoutMs)
  await waitForText(page.getByTestId('image-folder-summary'), /1400 images/, timeoutMs)
}

/**
 * Poll from the test side until `locator` matches `count` elements. (page.waitForFunction would evaluate a
 * string in the page, which the app's CSP — script-src 'self', no 'unsafe-eval' — rightly refuses.)
 */
export async function waitForCount(locator: Locator, count: number, timeoutMs = 30_000): Promise<void> {
  let last = -1
  await waitUntil(async () => (last = await locator.count()) === count, timeoutMs, () => `expected ${count} elements matching ${locator}, found ${last}`)
}

/** Poll an async condition from the test side (for the same CSP reason as waitForCount). */
export async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 30_000, what = () => 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await condition()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${what()} after ${timeoutMs} ms`)
}

/** What one end-to-end test file shares: a temp folder, served mode on a fresh workspace in it, and Chromium. */
export interface ServedSession {
  readonly tmp: string
  readonly served: Served
  readonly browser: Browser
}

/** Register the before/after hooks that set up and tear down a ServedSession (`serve` gets `args`). */
export function servedSession(prefix: string, args: string[]): ServedSession {
  let tmp = ''
  let served: Served | null = null
  let browser: Browser | null = null
  before(async () => {
    if (browserMissing()) return
    tmp = await mkdtemp(join(tmpdir(), prefix))
    served = await startServed(join(tmp, 'workspace'), args)
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close()
    await served?.stop()
    if (tmp) await rm(tmp, { recursive: true, force: true })
  })
  const ready = <T>(value: T | null, what: string): T => {
    if (value === null) throw new Error(`${what} is not started (did the before hook run?)`)
    return value
  }
  return {
    get tmp() {
      return ready(tmp || null, 'the temp folder')
    },
    get served() {
      return ready(served, 'served mode')
    },
    get browser() {
      return ready(browser, 'Chromium')
    },
  }
}

/** The demo dataset generated into `dir` by `convscope demo-data` (`train` images per class, one held-out image per class); its held-out folder. */
export async function demoValFolder(dir: string, train = 0): Promise<string> {
  const generated = await runCli(demoDataCommand, ['--out', dir, '--count', String(train), '--val', '1'])
  assert.equal(generated.code, 0, generated.err)
  return join(dir, 'val')
}

/** A new page of the session (1600×1000) with its errors collected, opened once the window names `backend`. */
export async function openSessionPage(session: ServedSession, backend: string): Promise<{ page: Page; errors: string[] }> {
  const page = await session.browser.newPage({ viewport: { width: 1600, height: 1000 } })
  const errors = collectPageErrors(page)
  await page.goto(session.served.url)
  await waitForText(page.getByTestId('backend-name'), new RegExp(`^${backend}$`))
  return { page, errors }
}

/** Open an image folder from the Workspace view and wait until its summary counts `images` images. */
export async function openImageFolder(page: Page, dir: string, images: number): Promise<void> {
  await page.getByTestId('tab-workspace').click()
  await page.getByTestId('image-folder-input').fill(dir)
  await page.getByTestId('open-image-folder-button').click()
  await waitForText(page.getByTestId('image-folder-summary'), new RegExp(`(^|\\D)${images} images?\\b`))
}

/** Open a model folder from the Workspace view and wait until its facts show its input `size`² × 3. */
export async function openModelFolder(page: Page, dir: string, size: number): Promise<void> {
  await page.getByTestId('model-path-input').fill(dir)
  await page.getByTestId('open-model-button').click()
  await waitForText(page.getByTestId('model-facts'), new RegExp(`${size}, ${size}, 3`), 60_000)
}

/**
 * Where a pixel map (size × size × 3, HWC) lives against the receptive-field box the pixel-map panel outlines
 * (`rect.field`, input pixels): the largest |value| inside the box and outside it.
 */
export async function mapAgainstField(panel: Locator, map: Float32Array, size: number): Promise<{ inside: number; outside: number; box: number[] }> {
  const rect = panel.locator('[data-testid="pixel-signed"] rect.field')
  const [x, y, w, h] = await Promise.all(['x', 'y', 'width', 'height'].map(async (a) => Number(await rect.getAttribute(a))))
  let inside = 0
  let outside = 0
  for (let i = 0; i < size * size; i++) {
    const [py, px] = [Math.floor(i / size), i % size]
    const m = Math.max(Math.abs(map[i * 3]!), Math.abs(map[i * 3 + 1]!), Math.abs(map[i * 3 + 2]!))
    if (px >= x! && px < x! + w! && py >= y! && py < y! + h!) inside = Math.max(inside, m)
    else outside = Math.max(outside, m)
  }
  return { inside, outside, box: [x!, y!, w!, h!] }
}
