/**
 * The one dataset loop (issue 9) under scan, classify, localization and faithfulness: loads ahead of the
 * compute, lists skipped items, stops on cancel (after a turn of the event loop), reports progress with
 * rate and ETA, checkpoints when asked and resumes from a position.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { ConvscopeError } from '../../src/shared/api'
import { MIN_RATE_SECONDS } from '../../src/shared/progressRate'
import { DatasetLoop, LOAD_AHEAD, runDatasetLoop, Skip, type DatasetProgress } from '../../src/main/engine/datasets/datasetLoop'
import { decodeImage } from '../../src/main/engine/datasets/decodeImage'

const items = Array.from({ length: 10 }, (_, i) => i)
const pathOf = (i: number) => `img${i}.png`

test('the next batch loads while the current one computes; the compute sees every batch in order', async () => {
  const events: string[] = []
  const batches: number[][] = []
  await runDatasetLoop({
    items,
    batchSize: 4,
    pathOf,
    load: async (i) => {
      events.push(`load ${i}`)
      return i * 10
    },
    compute: async ({ start, loaded }) => {
      events.push(`compute ${start}`)
      batches.push(loaded.map((e) => e.loaded))
    },
  })
  assert.deepEqual(batches, [[0, 10, 20, 30], [40, 50, 60, 70], [80, 90]])
  // Batch 4…7 is loading before batch 0…3 computes.
  assert.ok(events.indexOf('load 4') < events.indexOf('compute 0'), events.join(', '))
  assert.ok(events.indexOf('load 8') < events.indexOf('compute 4'), events.join(', '))
})

test('by default two batches load ahead (LOAD_AHEAD; an onnxruntime forward pass holds the event loop)', async () => {
  assert.equal(LOAD_AHEAD, 2)
  const events: string[] = []
  await runDatasetLoop({
    items,
    batchSize: 3,
    pathOf,
    load: async (i) => void events.push(`load ${i}`),
    compute: async ({ start }) => void events.push(`compute ${start}`),
  })
  assert.ok(events.indexOf('load 6') < events.indexOf('compute 0'), events.join(', '))
  assert.ok(events.indexOf('load 9') > events.indexOf('compute 0'), `no third batch ahead: ${events.join(', ')}`)
})

test('an item whose load answers Skip is listed with its reason, left out of the compute, and the pass goes on', async () => {
  const computed: number[] = []
  const progress: DatasetProgress[] = []
  const skipped = await runDatasetLoop({
    items,
    batchSize: 3,
    pathOf,
    load: async (i) => (i % 4 === 1 ? new Skip(`odd one ${i}`) : i),
    compute: async ({ loaded, entries }) => {
      computed.push(...loaded.map((e) => e.item))
      assert.equal(entries.length, Math.min(3, 10 - entries[0]!.item), 'entries hold the skipped items too')
    },
    onProgress: (p) => progress.push(p),
  })
  assert.deepEqual(computed, [0, 2, 3, 4, 6, 7, 8])
  assert.deepEqual(skipped, [
    { path: 'img1.png', reason: 'odd one 1' },
    { path: 'img5.png', reason: 'odd one 5' },
    { path: 'img9.png', reason: 'odd one 9' },
  ])
  assert.deepEqual(progress.map((p) => [p.done, p.total, p.skipped]), [[3, 10, 1], [6, 10, 2], [9, 10, 2], [10, 10, 3]])
  assert.deepEqual(progress[1]!.skippedFiles, [{ path: 'img1.png', reason: 'odd one 1' }, { path: 'img5.png', reason: 'odd one 5' }])
})

test('a decode failure is a skip with the reader’s reason; a file gone since the listing is "missing"', async () => {
  const pre = { inputSize: [8, 8] as [number, number], channelOrder: 'RGB' as const, range: [0, 1] as [number, number], mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number], resize: 'stretch' as const, labels: null }
  const gone = await decodeImage('/nonexistent/convscope/gone.png', pre)
  assert.ok(gone instanceof Skip)
  assert.equal(gone.reason, 'missing')
  const folder = await decodeImage(import.meta.dirname, pre)
  assert.ok(folder instanceof Skip)
  assert.match(folder.reason, /is a folder, not an image/)
})

test('cancel stops between batches with CANCELLED, after onCancel, and leaves no load running', async () => {
  const abort = new AbortController()
  let cancelledAt: number | null = null
  let loads = 0
  const loop = new DatasetLoop({
    items,
    batchSize: 2,
    ahead: 1,
    pathOf,
    load: async (i) => {
      loads++
      return i
    },
    compute: async ({ start }) => {
      if (start === 2) abort.abort()
    },
    signal: abort.signal,
    onCancel: async () => {
      cancelledAt = loop.position
    },
    cancelMessage: 'stopped; run again to resume',
  })
  await assert.rejects(loop.run(), (e: unknown) => e instanceof ConvscopeError && e.code === 'CANCELLED' && /run again to resume/.test(e.message))
  assert.equal(cancelledAt, 4, 'the batch that saw the cancel finished; none after it')
  assert.equal(loads, 6, 'the batch loaded ahead was awaited, no further one started')
})

test('a cancel message sent while a batch computes is seen: the loop yields a turn of the event loop between batches', async () => {
  const abort = new AbortController()
  let computes = 0
  const run = runDatasetLoop({
    items,
    pathOf,
    load: async (i) => i,
    compute: async () => {
      computes++
      // Synchronous work, as tfjs does: the abort below (a macrotask) can only run when the loop yields.
      const until = Date.now() + 5
      while (Date.now() < until) {}
    },
    signal: abort.signal,
  })
  setImmediate(() => abort.abort())
  await assert.rejects(run, /Cancelled by the user/)
  assert.ok(computes < items.length, `stopped after ${computes} of ${items.length}`)
})

test('resuming starts at the position with the skips it had; checkpoints come at the interval, not after the last batch', async () => {
  const computed: number[] = []
  const saves: number[] = []
  const starts: DatasetProgress[] = []
  const loop: DatasetLoop<number, number> = new DatasetLoop<number, number>({
    items,
    batchSize: 2,
    pathOf,
    start: 4,
    skipped: [{ item: 1, reason: 'bad' }],
    load: async (i) => i,
    compute: async ({ loaded }) => {
      computed.push(...loaded.map((e) => e.item))
    },
    reportStart: true,
    onProgress: (p) => starts.push(p),
    checkpoint: { everyMs: 0, save: async () => void saves.push(loop.position) },
  })
  const skipped = await loop.run()
  assert.deepEqual(computed, [4, 5, 6, 7, 8, 9])
  assert.deepEqual(skipped, [{ item: 1, reason: 'bad' }])
  assert.deepEqual(saves, [6, 8])
  assert.deepEqual([starts[0]!.done, starts[0]!.skipped], [4, 1], 'the first report is where it resumed')
})

test('progress carries the rate of this run (from where it resumed) and the ETA, once measurable', async () => {
  const progress: DatasetProgress[] = []
  await runDatasetLoop({
    items: [0, 1, 2, 3],
    pathOf,
    start: 1,
    load: async (i) => i,
    compute: async () => {
      await sleep(MIN_RATE_SECONDS * 1000 * 0.6)
    },
    onProgress: (p) => progress.push(p),
  })
  assert.equal(progress[0]!.rate, undefined, 'not measurable after 0.3 s')
  const last = progress.at(-1)!
  assert.ok(last.rate! > 1 && last.rate! < 4, `rate ${last.rate}: about 3 images in 0.9 s`)
  assert.equal(last.etaSeconds, 0)
})
