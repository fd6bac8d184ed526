/** A progress bar for long CLI commands, on stderr so stdout stays machine-readable. */
import { RateMeter } from '../../shared/progressRate'

/** "[######......]  640/1400  46%  212 img/s  ETA 4 s" on a terminal (redrawn in place); a line every 10% elsewhere. */
export function progressBar(stream: NodeJS.WriteStream, unit = 'img') {
  const started = performance.now()
  // The rate counts from the first update, so work done before it (a resumed scan's checkpoint) is not in it.
  const meter = new RateMeter()
  let lastDraw = 0
  let lastTenth = -1
  let drawn = false
  let ended = false
  const format = (done: number, total: number) => {
    const now = performance.now()
    const seconds = (now - started) / 1000
    const { rate, etaSeconds } = meter.sample(done, total, now)
    const width = 24
    const filled = total ? Math.round((done / total) * width) : 0
    const etaText = done === total ? `${seconds.toFixed(1)} s` : etaSeconds !== null ? `ETA ${formatSeconds(etaSeconds)}` : 'ETA ?'
    return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}  ${total ? Math.floor((done / total) * 100) : 0}%  ${(rate ?? 0).toFixed(0)} ${unit}/s  ${etaText}`
  }
  return {
    update: (done: number, total: number) => {
      if (ended) return
      if (stream.isTTY) {
        const now = performance.now()
        if (now - lastDraw < 100 && done < total) return
        lastDraw = now
        stream.write(`\r${format(done, total)}\x1b[K`)
        drawn = true
      } else {
        const tenth = total ? Math.floor((done / total) * 10) : 10
        if (tenth === lastTenth) return
        lastTenth = tenth
        stream.write(`${format(done, total)}\n`)
      }
    },
    end: () => {
      if (!ended && drawn) stream.write('\n')
      ended = true
    },
  }
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${Math.ceil(s)} s`
  const m = Math.floor(s / 60)
  return m < 60 ? `${m} min ${Math.round(s - m * 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`
}
