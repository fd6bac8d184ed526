/**
 * The Embeddings map's pan with 50 000 points (issue 13: pan frames under 100 ms), plotly's own pan against the
 * map's (lib/glPanByTransform: the last WebGL frame moved by a CSS transform, points redrawn at rest and on release),
 * in one headless Chromium (/usr/bin/chromium, software WebGL when there is no GPU), two pages side by side.
 *
 * Each page draws what components/EmbeddingMap.vue draws when coloured by class: one `scattergl` trace per class
 * (14 classes, 50 000 points in seeded clusters), marker size 4, opacity 0.85, the component's layout and config,
 * in a 1 040 × 560 px plot. A pan is the e2e's (e2e/embeddings.test.ts): a mousedown on the plot, --steps moves of
 * (12, 6) px, a mouseup; per move the time from the event to the frame after it (requestAnimationFrame, then a
 * task), per pan the median step and the release (plotly's relayout). The sides alternate pan by pan (--rounds
 * each), direction flipping so the view stays put; best and median of the per-pan medians. Also where a plotly
 * frame goes: its WebGL clear + draw of every point alone (synchronised by a 1-pixel readPixels), best of 5, and a
 * Chromium trace of one more pan a side (busy ms a move by thread; the renderer main thread's event handling,
 * style + layout, and commit, which waits for the GPU process's draw). The 1-minute load average is recorded
 * before each pan (the machine is shared).
 *
 *   node --import tsx bench/mapPan.ts [--points 50000] [--rounds 6] [--steps 10] [--out FILE]
 *
 * Results: a table and bench/results/map-pan-<date>.json.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { chromium, type Page } from 'playwright-core'
import { build } from 'vite'
import { gitCommit } from './gitCommit'

const ROOT = resolve(import.meta.dirname, '..')
const { values } = parseArgs({
  options: {
    points: { type: 'string', default: '50000' },
    rounds: { type: 'string', default: '6' },
    steps: { type: 'string', default: '10' },
    out: { type: 'string' },
  },
})
const points = Number(values.points)
const rounds = Number(values.rounds)
const steps = Number(values.steps)
const CHROMIUM = process.env.CONVSCOPE_CHROMIUM ?? '/usr/bin/chromium'

const median = (v: readonly number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!
const load1 = () => Number(loadavg()[0]!.toFixed(2))
const log = (s: string) => process.stderr.write(s + '\n')

/** What the page code uses of the page (the bench is type-checked without the DOM library, as e2e/ is). */
interface PageNode {
  getBoundingClientRect(): { left: number; top: number; width: number; height: number }
  dispatchEvent(e: unknown): void
}
interface PageGlobals {
  document: {
    getElementById(id: string): PageNode
    querySelector(selector: string): PageNode
    dispatchEvent(e: unknown): void
    createElement(tag: 'canvas'): { getContext(kind: 'webgl'): { getExtension(name: string): { UNMASKED_RENDERER_WEBGL: number } | null; getParameter(p: number): unknown } | null }
  }
  MouseEvent: new (type: string, init: Record<string, unknown>) => unknown
  performance: { now(): number }
  requestAnimationFrame(callback: () => void): number
  setTimeout(callback: () => void, ms: number): number
  Plotly: { newPlot(el: unknown, data: unknown[], layout: unknown, config: unknown): Promise<unknown> }
  glPan: { panGlByTransform(el: unknown): void }
}

/** lib/glPanByTransform.ts as one script for the page (global `glPan`). */
async function panModuleScript(): Promise<string> {
  const out = await build({
    configFile: false,
    logLevel: 'silent',
    build: { write: false, minify: false, lib: { entry: join(ROOT, 'src/renderer/src/lib/glPanByTransform.ts'), formats: ['iife'], name: 'glPan' } },
  })
  const chunk = (Array.isArray(out) ? out[0]! : out) as { output: { code?: string }[] }
  return chunk.output[0]!.code!
}

/** A page with the map's plot; `transform`: the map's pan (else plotly's own). */
async function mapPage(page: Page, transform: boolean, script: string): Promise<void> {
  await page.setContent('<!doctype html><html><body style="margin:0"><div id="map" style="width:1040px;height:560px"></div></body></html>')
  await page.addScriptTag({ path: join(ROOT, 'node_modules/plotly.js-strict-dist-min/plotly-strict.min.js') })
  await page.addScriptTag({ content: script })
  await page.addScriptTag({ content: 'globalThis.__name = (f) => f' }) // tsx names the page code's functions with a helper the page lacks
  await page.evaluate(
    async ({ n, transform }) => {
      const w = globalThis as unknown as PageGlobals
      let seed = 12345
      const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
      const classes = 14
      const colours = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#e7ba52', '#17a589', '#e41a1c']
      const traces = []
      for (let g = 0; g < classes; g++) {
        const size = Math.floor(n / classes) + (g < n % classes ? 1 : 0)
        const x = new Float32Array(size)
        const y = new Float32Array(size)
        const cx = random() * 40 - 20
        const cy = random() * 30 - 15
        for (let i = 0; i < size; i++) {
          const cluster = Math.floor(random() * 100) // 100 tight clusters a class, as the e2e's noisy copies of 1 400 codes
          x[i] = cx + Math.sin(cluster) * 8 + (random() - 0.5) * 0.6
          y[i] = cy + Math.cos(cluster * 1.3) * 6 + (random() - 0.5) * 0.6
        }
        traces.push({ type: 'scattergl', mode: 'markers', name: `c${g} (${size})`, x, y, opacity: 0.85, marker: { size: 4, color: colours[g] }, hoverinfo: 'none' })
      }
      const layout = {
        paper_bgcolor: 'rgba(0,0,0,0)',
        plot_bgcolor: 'rgba(0,0,0,0)',
        font: { size: 11 },
        dragmode: 'pan',
        hovermode: 'closest',
        uirevision: 'bench',
        margin: { l: 36, r: 8, t: 30, b: 30 },
        xaxis: { zeroline: false, showgrid: false },
        yaxis: { zeroline: false, showgrid: false },
        legend: { itemsizing: 'constant', font: { size: 11 } },
        modebar: { orientation: 'h' },
      }
      const config = { displaylogo: false, responsive: true, scrollZoom: true, modeBarButtonsToRemove: ['autoScale2d', 'toImage'], plotGlPixelRatio: 1 }
      const el = w.document.getElementById('map')
      await w.Plotly.newPlot(el, traces, layout, config)
      if (transform) w.glPan.panGlByTransform(el)
    },
    { n: points, transform },
  )
}

/** One pan of `n` moves of (sign·12, sign·6) px: ms per move (event to the frame after it) and for the release. */
function pan(page: Page, n: number, sign: number): Promise<{ steps: number[]; release: number }> {
  return page.evaluate(
    async ({ n, sign }) => {
      const w = globalThis as unknown as PageGlobals
      const drag = w.document.querySelector('#map .nsewdrag')
      const r = drag.getBoundingClientRect()
      const x0 = r.left + r.width / 2
      const y0 = r.top + r.height / 2
      drag.dispatchEvent(new w.MouseEvent('mousedown', { clientX: x0, clientY: y0, bubbles: true, buttons: 1, button: 0 }))
      const times: number[] = []
      for (let i = 1; i <= n + 1; i++) {
        const t0 = w.performance.now()
        const last = i > n
        const k = Math.min(i, n) * sign
        w.document.dispatchEvent(new w.MouseEvent(last ? 'mouseup' : 'mousemove', { clientX: x0 + k * 12, clientY: y0 + k * 6, bubbles: true, buttons: last ? 0 : 1 }))
        await new Promise<void>((done) => w.requestAnimationFrame(() => w.setTimeout(done, 0)))
        if (last) await new Promise<void>((done) => w.requestAnimationFrame(() => w.setTimeout(done, 0)))
        times.push(w.performance.now() - t0)
      }
      await new Promise<void>((done) => w.setTimeout(done, 500)) // past a redraw at rest (REST_MS)
      return { steps: times.slice(0, -1), release: times[n]! }
    },
    { n, sign },
  )
}

/** plotly's WebGL part of a frame alone: clear + draw of every point, synchronised by reading a pixel back; best of 5. */
function glDrawMs(page: Page): Promise<number> {
  return page.evaluate(() => {
    type Gl = { readPixels(x: number, y: number, w: number, h: number, f: number, t: number, out: Uint8Array): void; RGBA: number; UNSIGNED_BYTE: number }
    type Regl = { clear(o: unknown): void; _gl: Gl }
    const w = globalThis as unknown as PageGlobals
    const gd = w.document.getElementById('map') as unknown as {
      _fullLayout: { _plots: Record<string, { _scene?: { draw(): void } }>; _glcanvas: { each(fn: (d: { regl?: Regl }) => void): void } }
    }
    const regls: Regl[] = []
    gd._fullLayout._glcanvas.each((d) => d.regl && regls.push(d.regl))
    const sync = () => regls.forEach((r) => r._gl.readPixels(0, 0, 1, 1, r._gl.RGBA, r._gl.UNSIGNED_BYTE, new Uint8Array(4)))
    const scene = Object.values(gd._fullLayout._plots).find((p) => p._scene)!._scene!
    let best = Infinity
    for (let i = 0; i < 5; i++) {
      sync()
      const t0 = w.performance.now()
      for (const r of regls) r.clear({ color: true, depth: true })
      scene.draw()
      sync()
      best = Math.min(best, w.performance.now() - t0)
    }
    return best
  })
}

/** A Chromium trace of one pan of `n` moves: busy ms a move by thread, and the renderer main thread's phases. */
async function tracePan(page: Page, n: number): Promise<{ byThread: Record<string, number>; mainThread: Record<string, number> }> {
  const cdp = await page.context().newCDPSession(page)
  type TraceEvent = { ph: string; name: string; pid: number; tid: number; dur?: number; args?: { name?: string } }
  const events: TraceEvent[] = []
  cdp.on('Tracing.dataCollected', (e) => events.push(...(e.value as unknown as TraceEvent[])))
  const complete = new Promise((done) => cdp.once('Tracing.tracingComplete', done))
  await cdp.send('Tracing.start', { traceConfig: { includedCategories: ['toplevel', 'devtools.timeline', 'disabled-by-default-devtools.timeline', 'gpu'] }, transferMode: 'ReportEvents' })
  await pan(page, n, 1)
  await cdp.send('Tracing.end')
  await complete
  await pan(page, n, -1) // back
  const threads = new Map(events.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => [`${e.pid}:${e.tid}`, e.args?.name ?? String(e.tid)]))
  const phases: Record<string, string> = { EventDispatch: 'events', UpdateLayoutTree: 'style+layout', Layout: 'style+layout', Paint: 'paint', Commit: 'commit' }
  const byThread: Record<string, number> = {}
  const mainThread: Record<string, number> = {}
  for (const e of events) {
    if (e.ph !== 'X' || !e.dur) continue
    const thread = threads.get(`${e.pid}:${e.tid}`) ?? String(e.tid)
    if (e.name === 'ThreadControllerImpl::RunTask') byThread[thread] = (byThread[thread] ?? 0) + e.dur / 1000 / n
    const phase = phases[e.name]
    if (thread === 'CrRendererMain' && phase) mainThread[phase] = (mainThread[phase] ?? 0) + e.dur / 1000 / n
  }
  const rounded = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v >= 0.5).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, +v.toFixed(1)]))
  await cdp.detach()
  return { byThread: rounded(byThread), mainThread: rounded(mainThread) }
}

const script = await panModuleScript()
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] })
try {
  const sides = { plotly: await browser.newPage({ viewport: { width: 1100, height: 620 } }), transform: await browser.newPage({ viewport: { width: 1100, height: 620 } }) }
  await mapPage(sides.plotly, false, script)
  await mapPage(sides.transform, true, script)
  const webgl = await sides.plotly.evaluate(() => {
    const gl = (globalThis as unknown as PageGlobals).document.createElement('canvas').getContext('webgl')
    const info = gl?.getExtension('WEBGL_debug_renderer_info')
    return gl && info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : 'none'
  })
  log(`${points} points, ${steps} moves a pan, ${rounds} pans a side; WebGL: ${webgl}`)
  const pans: Record<keyof typeof sides, { load1: number; medianStepMs: number; maxStepMs: number; releaseMs: number; stepsMs: number[] }[]> = { plotly: [], transform: [] }
  for (const side of Object.keys(sides) as (keyof typeof sides)[]) await pan(sides[side], 3, 1).then(() => pan(sides[side], 3, -1)) // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const side of Object.keys(sides) as (keyof typeof sides)[]) {
      const load = load1()
      const { steps: stepsMs, release } = await pan(sides[side], steps, round % 2 ? -1 : 1)
      const row = { load1: load, medianStepMs: +median(stepsMs).toFixed(1), maxStepMs: +Math.max(...stepsMs).toFixed(1), releaseMs: +release.toFixed(1), stepsMs: stepsMs.map((t) => +t.toFixed(1)) }
      pans[side].push(row)
      log(`round ${round + 1} ${side.padEnd(9)} median step ${row.medianStepMs} ms, max ${row.maxStepMs}, release ${row.releaseMs} (load ${load})`)
    }
  }
  const loadGl = load1()
  const glMs = +(await glDrawMs(sides.plotly)).toFixed(1)
  const trace = { load1: load1(), plotly: await tracePan(sides.plotly, steps), transform: await tracePan(sides.transform, steps) }
  log(`trace, ms a move: ${JSON.stringify(trace)}`)
  const summary = (side: keyof typeof sides) => {
    const medians = pans[side].map((p) => p.medianStepMs)
    return { bestMedianStepMs: Math.min(...medians), medianMedianStepMs: median(medians), medianReleaseMs: median(pans[side].map((p) => p.releaseMs)) }
  }
  const result = {
    bench: 'map-pan',
    date: new Date().toISOString(),
    commit: gitCommit(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '' },
    chromium: browser.version(),
    webgl,
    points,
    traces: 14,
    plotPx: [1040, 560],
    steps,
    rounds,
    plotly: summary('plotly'),
    transform: summary('transform'),
    ratioOfMedians: +(summary('plotly').medianMedianStepMs / summary('transform').medianMedianStepMs).toFixed(2),
    plotlyGlClearDrawBestMs: glMs,
    loadAtGlDraw: loadGl,
    trace,
    pans,
  }
  log(`plotly's pan: median step ${result.plotly.medianMedianStepMs} ms (best ${result.plotly.bestMedianStepMs}); of a frame, WebGL clear + draw ${glMs} ms (load ${loadGl})`)
  log(`moved frame: median step ${result.transform.medianMedianStepMs} ms (best ${result.transform.bestMedianStepMs}); ratio ${result.ratioOfMedians}`)
  const out = values.out ?? join(ROOT, 'bench/results', `map-pan-${result.date.slice(0, 10)}.json`)
  await mkdir(join(out, '..'), { recursive: true })
  await writeFile(out, JSON.stringify(result, null, 2) + '\n')
  log(`wrote ${out}`)
} finally {
  await browser.close()
}
