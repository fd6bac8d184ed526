/**
 * One pass over a dataset's items (issue 9), the loop under scan, classify, localization and faithfulness:
 *
 *   load ahead   the next `ahead` batches (default LOAD_AHEAD) load (decode on sharp's threads, file reads)
 *                while this one computes, so the backend never waits for the disk or the decoder; `timings`
 *                says how long it did wait (a scan's --profile, scan/profile.ts);
 *   skip         an item whose load answers Skip is listed with its reason (SkippedFile) and left out of
 *                the compute; the pass goes on;
 *   cancel       between batches the loop yields a turn of the event loop (`await setImmediate()`: the
 *                engine reads a cancel message only then, worker.ts) and stops with CANCELLED;
 *   progress     done / total / skipped after each batch, with the rate and ETA of progressRate.ts;
 *   checkpoints  where asked, `checkpoint.save()` at most every `everyMs` (a scan's resumable state);
 *                a resumed pass starts at `start` with the skips it had.
 */
import { setImmediate } from 'node:timers/promises'
import { ConvscopeError, SKIPPED_FILES_SHOWN, type SkippedFile } from '../../../shared/api'
import { RateMeter, rateFields } from '../../../shared/progressRate'

/** What a load answers for an item that cannot be used (unreadable image, no annotation...). */
export class Skip {
  constructor(readonly reason: string) {}
}

export interface SkippedItem<Item> {
  item: Item
  reason: string
}

/** One item of a batch: loaded, or skipped with the reason. */
export type BatchEntry<Item, Loaded> = { item: Item; loaded: Loaded; reason?: undefined } | { item: Item; loaded?: undefined; reason: string }

export interface Batch<Item, Loaded> {
  /** Position of the batch's first item in the list. */
  start: number
  /** Every item of the batch, in order (a scan writes a row for the skipped ones too). */
  entries: BatchEntry<Item, Loaded>[]
  /** The loaded ones, in order. */
  loaded: { item: Item; loaded: Loaded }[]
}

/** Progress after a batch: the contract's Progress fields a dataset pass fills. */
export interface DatasetProgress {
  done: number
  total: number
  unit: 'images'
  skipped: number
  /** The first SKIPPED_FILES_SHOWN skipped items. */
  skippedFiles: SkippedFile[]
  rate?: number
  etaSeconds?: number
}

export interface DatasetLoopOptions<Item, Loaded> {
  items: readonly Item[]
  /** Read one item (runs `ahead` batches ahead of the compute); Skip lists it as skipped. Throwing ends the pass. */
  load(item: Item): Promise<Loaded | Skip>
  /** The work on one batch (skipped items included, marked). */
  compute(batch: Batch<Item, Loaded>): Promise<void>
  /** The path shown for a skipped item. */
  pathOf(item: Item): string
  /** Items per compute (default 1). */
  batchSize?: number
  /** Batches loading ahead of the one computing (default loadAhead(): LOAD_AHEAD unless CONVSCOPE_LOAD_AHEAD says). */
  ahead?: number
  /** Resume: the items before this position are done, with these skipped among them. */
  start?: number
  skipped?: readonly SkippedItem<Item>[]
  signal?: AbortSignal
  /** Before the CANCELLED error (a scan saves its checkpoint); default message "Cancelled by the user". */
  onCancel?: () => Promise<void>
  cancelMessage?: string
  onProgress?: (p: DatasetProgress) => void
  /** Also report once before the first batch (a resumed scan shows where it starts). */
  reportStart?: boolean
  /** Called after a batch when `everyMs` passed since the last one, unless the pass is done. */
  checkpoint?: { everyMs: number; save(): Promise<void> }
}

/**
 * Default number of batches loading ahead of the compute. A forward pass on onnxruntime-node holds the event
 * loop (it runs synchronously), and an image's load needs the loop between its steps (file read, sharp call,
 * normalize); with two batches ahead the sharp jobs of the batch after next are queued before it and run on
 * sharp's threads during it. The scan's forward pass waited 4–6 % of the demo network's loop with two, 27–34 %
 * with one (bench/scanParallelism.ts); classify measured the same with one or two (bench/interactive.ts,
 * docs/issue11-measurements.md).
 */
export const LOAD_AHEAD = 2

/** The load-ahead depth: CONVSCOPE_LOAD_AHEAD (a whole number ≥ 1, for measuring), else LOAD_AHEAD. */
export function loadAhead(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.CONVSCOPE_LOAD_AHEAD
  if (text === undefined || text === '') return LOAD_AHEAD
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw new ConvscopeError('BAD_REQUEST', `CONVSCOPE_LOAD_AHEAD is "${text}"; use a whole number ≥ 1`)
  return n
}

/** Where a pass's wall time went, in milliseconds (loads overlap the compute: the fields do not add up). */
export interface LoopTimings {
  /** When run() started, in ms since this process started (performance.now()). */
  startedAtMs: number
  /** The whole pass, from run() to its end. */
  wallMs: number
  /** Wall time during which at least one item was loading (file read, decode, resize, normalize). */
  loadingMs: number
  /** Wall time the compute waited for a batch to finish loading. */
  waitMs: number
  /** Inside compute(). */
  computeMs: number
  /** Inside checkpoint.save() (also a cancel's onCancel). */
  checkpointMs: number
  /** Items loaded or skipped in this run. */
  items: number
}

/** A pass in progress: its position and skips are readable while it runs (a checkpoint saves them). */
export class DatasetLoop<Item, Loaded> {
  position: number
  readonly skipped: SkippedItem<Item>[]
  readonly timings: LoopTimings = { startedAtMs: 0, wallMs: 0, loadingMs: 0, waitMs: 0, computeMs: 0, checkpointMs: 0, items: 0 }
  private readonly meter = new RateMeter()
  private loading = 0
  private loadingSince = 0

  constructor(private readonly options: DatasetLoopOptions<Item, Loaded>) {
    this.position = options.start ?? 0
    this.skipped = [...(options.skipped ?? [])]
  }

  get total(): number {
    return this.options.items.length
  }

  progress(): DatasetProgress {
    const { pathOf } = this.options
    return {
      done: this.position,
      total: this.total,
      unit: 'images',
      ...rateFields(this.meter.sample(this.position, this.total)),
      skipped: this.skipped.length,
      skippedFiles: this.skipped.slice(0, SKIPPED_FILES_SHOWN).map((s) => ({ path: pathOf(s.item), reason: s.reason })),
    }
  }

  /** Run the pass to the end; the skipped items, in list order. */
  async run(): Promise<SkippedItem<Item>[]> {
    const { items, signal, onProgress, checkpoint } = this.options
    const batchSize = Math.max(1, Math.floor(this.options.batchSize ?? 1))
    const ahead = Math.max(1, Math.floor(this.options.ahead ?? loadAhead()))
    const t = this.timings
    const began = performance.now()
    t.startedAtMs = began
    const timed = async <T>(field: 'waitMs' | 'computeMs' | 'checkpointMs', work: () => Promise<T>): Promise<T> => {
      const t0 = performance.now()
      try {
        return await work()
      } finally {
        t[field] += performance.now() - t0
      }
    }
    this.meter.sample(this.position, this.total) // the rate counts from here: a resumed pass measures this run only
    if (this.options.reportStart) onProgress?.(this.progress())
    let lastCheckpoint = performance.now()
    // Batches loading, in order; `queued` is where the next one to start begins.
    const pending: Promise<BatchEntry<Item, Loaded>[]>[] = []
    let queued = this.position
    const fill = () => {
      while (pending.length < ahead && queued < items.length) {
        const batch = this.load(queued, batchSize)
        // Observed now: a batch failing while an earlier one computes is not an unhandled rejection (it throws when awaited).
        batch.catch(() => {})
        pending.push(batch)
        queued = Math.min(items.length, queued + batchSize)
      }
    }
    fill()
    try {
      while (pending.length) {
        if (signal?.aborted) {
          await Promise.allSettled(pending.splice(0))
          await timed('checkpointMs', async () => this.options.onCancel?.())
          throw new ConvscopeError('CANCELLED', this.options.cancelMessage ?? 'Cancelled by the user')
        }
        const entries = await timed('waitMs', () => pending.shift()!)
        const start = this.position
        const after = start + entries.length
        fill()
        for (const e of entries) if (e.reason !== undefined) this.skipped.push({ item: e.item, reason: e.reason })
        const loaded = entries.filter((e): e is { item: Item; loaded: Loaded } => e.reason === undefined)
        await timed('computeMs', () => this.options.compute({ start, entries, loaded }))
        this.position = after
        t.items += entries.length
        onProgress?.(this.progress())
        if (checkpoint && after < items.length && performance.now() - lastCheckpoint >= checkpoint.everyMs) {
          await timed('checkpointMs', () => checkpoint.save())
          lastCheckpoint = performance.now()
        }
        await setImmediate()
      }
    } finally {
      t.wallMs += performance.now() - began
    }
    return this.skipped
  }

  private load(from: number, batchSize: number): Promise<BatchEntry<Item, Loaded>[]> {
    return Promise.all(
      this.options.items.slice(from, from + batchSize).map(async (item): Promise<BatchEntry<Item, Loaded>> => {
        if (this.loading++ === 0) this.loadingSince = performance.now()
        try {
          const result = await this.options.load(item)
          return result instanceof Skip ? { item, reason: result.reason } : { item, loaded: result }
        } finally {
          if (--this.loading === 0) this.timings.loadingMs += performance.now() - this.loadingSince
        }
      }),
    )
  }
}

/** Run one pass (see DatasetLoop); the skipped files, in list order. */
export async function runDatasetLoop<Item, Loaded>(options: DatasetLoopOptions<Item, Loaded>): Promise<SkippedFile[]> {
  const skipped = await new DatasetLoop(options).run()
  return skipped.map((s) => ({ path: options.pathOf(s.item), reason: s.reason }))
}
