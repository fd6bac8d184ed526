/**
 * One pass over a dataset's items (issue 9), the loop under scan, classify, localization and faithfulness:
 *
 *   load ahead   the next batch loads (decode on sharp's threads, file reads) while this one computes, so
 *                the backend never waits for the disk or the decoder;
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
  /** Read one item (runs a batch ahead of the compute); Skip lists it as skipped. Throwing ends the pass. */
  load(item: Item): Promise<Loaded | Skip>
  /** The work on one batch (skipped items included, marked). */
  compute(batch: Batch<Item, Loaded>): Promise<void>
  /** The path shown for a skipped item. */
  pathOf(item: Item): string
  /** Items per compute (default 1). */
  batchSize?: number
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

/** A pass in progress: its position and skips are readable while it runs (a checkpoint saves them). */
export class DatasetLoop<Item, Loaded> {
  position: number
  readonly skipped: SkippedItem<Item>[]
  private readonly meter = new RateMeter()

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
    this.meter.sample(this.position, this.total) // the rate counts from here: a resumed pass measures this run only
    if (this.options.reportStart) onProgress?.(this.progress())
    let lastCheckpoint = performance.now()
    let next = this.position < items.length ? this.load(this.position, batchSize) : null
    try {
      while (next) {
        if (signal?.aborted) {
          await next.catch(() => {})
          next = null
          await this.options.onCancel?.()
          throw new ConvscopeError('CANCELLED', this.options.cancelMessage ?? 'Cancelled by the user')
        }
        const entries = await next
        const start = this.position
        const after = start + entries.length
        next = after < items.length ? this.load(after, batchSize) : null
        for (const e of entries) if (e.reason !== undefined) this.skipped.push({ item: e.item, reason: e.reason })
        const loaded = entries.filter((e): e is { item: Item; loaded: Loaded } => e.reason === undefined)
        await this.options.compute({ start, entries, loaded })
        this.position = after
        onProgress?.(this.progress())
        if (checkpoint && after < items.length && performance.now() - lastCheckpoint >= checkpoint.everyMs) {
          await checkpoint.save()
          lastCheckpoint = performance.now()
        }
        await setImmediate()
      }
    } finally {
      // A pass ended by an error leaves no load running unobserved (its rejection would crash the process).
      next?.catch(() => {})
    }
    return this.skipped
  }

  private load(from: number, batchSize: number): Promise<BatchEntry<Item, Loaded>[]> {
    return Promise.all(
      this.options.items.slice(from, from + batchSize).map(async (item): Promise<BatchEntry<Item, Loaded>> => {
        const result = await this.options.load(item)
        return result instanceof Skip ? { item, reason: result.reason } : { item, loaded: result }
      }),
    )
  }
}

/** Run one pass (see DatasetLoop); the skipped files, in list order. */
export async function runDatasetLoop<Item, Loaded>(options: DatasetLoopOptions<Item, Loaded>): Promise<SkippedFile[]> {
  const skipped = await new DatasetLoop(options).run()
  return skipped.map((s) => ({ path: options.pathOf(s.item), reason: s.reason }))
}
