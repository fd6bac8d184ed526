/**
 * Training curves as a small self-contained SVG (no fonts or scripts beyond the basics, so GitHub renders it):
 * loss on the left, top-1 accuracy on the right; training solid, held-out validation dashed; one colour
 * per network.
 */
import type { EpochRecord } from './train'

export interface CurveRun {
  name: string
  history: readonly EpochRecord[]
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e']
const PANEL = { width: 300, height: 190, left: 44, right: 10, top: 26, bottom: 34 }

const fmt = (v: number) => String(Number(v.toFixed(2)))
const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function niceMax(v: number): number {
  if (!(v > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p
  return 10 * p
}

function panel(
  x0: number,
  title: string,
  runs: readonly CurveRun[],
  series: { key: 'trainLoss' | 'valLoss' | 'trainTop1' | 'valTop1'; dashed: boolean }[],
  yMax: number,
  yFormat: (v: number) => string,
): string {
  const epochs = Math.max(1, ...runs.map((r) => r.history.length))
  const w = PANEL.width - PANEL.left - PANEL.right
  const h = PANEL.height - PANEL.top - PANEL.bottom
  const px = (epoch: number) => x0 + PANEL.left + (epochs === 1 ? w / 2 : ((epoch - 1) / (epochs - 1)) * w)
  const py = (v: number) => PANEL.top + h - (Math.min(Math.max(v, 0), yMax) / yMax) * h
  const out: string[] = []
  out.push(`<text x="${fmt(x0 + PANEL.left + w / 2)}" y="16" text-anchor="middle" font-weight="bold">${escapeXml(title)}</text>`)
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4
    const y = py(v)
    out.push(`<line x1="${fmt(x0 + PANEL.left)}" y1="${fmt(y)}" x2="${fmt(x0 + PANEL.left + w)}" y2="${fmt(y)}" stroke="#e5e5e5"/>`)
    out.push(`<text x="${fmt(x0 + PANEL.left - 4)}" y="${fmt(y + 3.5)}" text-anchor="end">${yFormat(v)}</text>`)
  }
  const ticks = epochs <= 10 ? epochs : 5
  for (let i = 0; i < ticks; i++) {
    const e = epochs <= 10 ? i + 1 : Math.round(1 + (i * (epochs - 1)) / (ticks - 1))
    out.push(`<text x="${fmt(px(e))}" y="${fmt(PANEL.top + h + 14)}" text-anchor="middle">${e}</text>`)
  }
  out.push(`<text x="${fmt(x0 + PANEL.left + w / 2)}" y="${fmt(PANEL.top + h + 28)}" text-anchor="middle">epoch</text>`)
  out.push(`<rect x="${fmt(x0 + PANEL.left)}" y="${PANEL.top}" width="${fmt(w)}" height="${fmt(h)}" fill="none" stroke="#999"/>`)
  runs.forEach((run, r) => {
    const colour = COLOURS[r % COLOURS.length]!
    for (const s of series) {
      const points = run.history.map((e) => `${fmt(px(e.epoch))},${fmt(py(e[s.key]))}`).join(' ')
      out.push(`<polyline points="${points}" fill="none" stroke="${colour}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`)
    }
  })
  return out.join('\n')
}

/** An SVG with loss and top-1 curves of one or more runs. */
export function trainingCurvesSvg(runs: readonly CurveRun[], title?: string): string {
  const width = PANEL.width * 2
  const legendRows = runs.length + 1
  const height = PANEL.height + 14 * legendRows + 8 + (title ? 18 : 0)
  const dy = title ? 18 : 0
  const lossMax = niceMax(Math.max(...runs.flatMap((r) => r.history.flatMap((e) => [e.trainLoss, e.valLoss]))))
  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`)
  parts.push(`<rect width="${width}" height="${height}" fill="#fff"/>`)
  if (title) parts.push(`<text x="${width / 2}" y="14" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(title)}</text>`)
  parts.push(`<g transform="translate(0 ${dy})">`)
  parts.push(panel(0, 'loss (cross-entropy)', runs, [{ key: 'trainLoss', dashed: false }, { key: 'valLoss', dashed: true }], lossMax, (v) => String(Number(v.toFixed(2)))))
  parts.push(panel(PANEL.width, 'top-1 accuracy', runs, [{ key: 'trainTop1', dashed: false }, { key: 'valTop1', dashed: true }], 1, (v) => `${Math.round(v * 100)}%`))
  // Legend: a line per run with its final validation accuracy, then the line styles.
  let y = PANEL.height + 10
  runs.forEach((run, r) => {
    const colour = COLOURS[r % COLOURS.length]!
    const last = run.history[run.history.length - 1]
    const text = last ? `${run.name}: val top-1 ${(last.valTop1 * 100).toFixed(1)}%, top-5 ${(last.valTop5 * 100).toFixed(1)}%` : run.name
    parts.push(`<line x1="${PANEL.left}" y1="${y - 4}" x2="${PANEL.left + 24}" y2="${y - 4}" stroke="${colour}" stroke-width="2"/>`)
    parts.push(`<text x="${PANEL.left + 30}" y="${y}">${escapeXml(text)}</text>`)
    y += 14
  })
  parts.push(`<text x="${PANEL.left}" y="${y}" fill="#555">solid: training (augmented, dropout on); dashed: held-out validation</text>`)
  parts.push('</g>')
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
