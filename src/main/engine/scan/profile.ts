/**
 * Where a scan's time goes (`convscope scan --profile`, issue 11): the dataset loop's own timings
 * (datasets/datasetLoop.ts: decoding, waiting for images, checkpoints) and runScan's steps inside the compute
 * (forward with the per-channel max, top-K, maxima writes). Seconds of wall time in this process; loading
 * overlaps the compute, so `decoding` is not part of the sum. A scan over worker processes reports each
 * worker's profile and their sum (workers run side by side: the sum is process-seconds, not wall time).
 */
import { z } from 'zod'
import type { LoopTimings } from '../datasets/datasetLoop'

/** The steps of the compute that runScan times (the rest of the compute is "other"). */
export const COMPUTE_STEPS = ['forward', 'topK', 'maximaWrites'] as const
export type ComputeStep = (typeof COMPUTE_STEPS)[number]

const seconds = z.number().nonnegative()
export const ScanProfile = z.object({
  /** Images loaded or skipped in this run (a resumed run counts from its checkpoint). */
  images: z.number().int().nonnegative(),
  /** From this process's start to the dataset loop's (Node, modules, the model, its session): summed over worker processes. */
  startupSeconds: seconds.default(0),
  /** The dataset loop, start to end. */
  wallSeconds: seconds,
  /** Wall time with at least one image loading (file read, decode, resize, normalize); overlaps the rest. */
  decodingSeconds: seconds,
  /** Decode threads the loads ran on (datasets/decodePool.ts); 0: decoded in the scan's own thread. */
  decodeThreads: z.number().int().nonnegative().default(0),
  /** The decode threads' busy time (their event loops' active time, summed over threads). */
  decodeThreadBusySeconds: seconds.default(0),
  /** Wall time the compute waited for images: zero when decoding keeps up. */
  waitForImagesSeconds: seconds,
  /** Forward pass to the scanned layers with each unit's max and argmax over space (scan/scanLayer.ts). */
  forwardSeconds: seconds,
  /** Offering the batch's maxima to the per-unit top-K (scan/topK.ts). */
  topKSeconds: seconds,
  /** Writing the per-image maxima rows (scan/rowFiles.ts; a codes run: its codes, thumbnails and classes too). */
  maximaWritesSeconds: seconds,
  /** Checkpoints (scan/checkpoint.ts), the final one included. */
  checkpointSeconds: seconds,
  /** The rest of the loop's wall time: progress, yielding to the event loop, arranging batches. */
  otherSeconds: seconds,
})
/** A profile; the fields added later (start-up, decode threads) may be absent in one made before them. */
export type ScanProfile = z.input<typeof ScanProfile>

/** Collects runScan's compute steps; `profile(loop timings)` gives the whole picture. */
export class ProfileCollector {
  private readonly ms: Record<ComputeStep, number> = { forward: 0, topK: 0, maximaWrites: 0 }
  private extraCheckpointMs = 0

  /** Time `work` as `step`. */
  async time<T>(step: ComputeStep, work: () => Promise<T> | T): Promise<T> {
    const t0 = performance.now()
    try {
      return await work()
    } finally {
      this.ms[step] += performance.now() - t0
    }
  }

  /** A checkpoint outside the loop (the final one). */
  async checkpoint(work: () => Promise<void>): Promise<void> {
    const t0 = performance.now()
    try {
      await work()
    } finally {
      this.extraCheckpointMs += performance.now() - t0
    }
  }

  profile(loop: LoopTimings, decode: { threads: number; busyMs: number } = { threads: 0, busyMs: 0 }): ScanProfile {
    const s = (ms: number) => Math.max(0, ms) / 1000
    const steps = this.ms.forward + this.ms.topK + this.ms.maximaWrites
    return {
      images: loop.items,
      startupSeconds: s(loop.startedAtMs),
      wallSeconds: s(loop.wallMs + this.extraCheckpointMs),
      decodingSeconds: s(loop.loadingMs),
      decodeThreads: decode.threads,
      decodeThreadBusySeconds: s(decode.busyMs),
      waitForImagesSeconds: s(loop.waitMs),
      forwardSeconds: s(this.ms.forward),
      topKSeconds: s(this.ms.topK),
      maximaWritesSeconds: s(this.ms.maximaWrites),
      checkpointSeconds: s(loop.checkpointMs + this.extraCheckpointMs),
      // The compute's own remainder (batch bookkeeping) and the loop's (progress, event-loop turns).
      otherSeconds: s(loop.wallMs - loop.waitMs - loop.checkpointMs - steps),
    }
  }
}

/** The profiles of several processes added field by field (process-seconds). */
export function sumProfiles(profiles: readonly ScanProfile[]): ScanProfile {
  const keys = (Object.keys(ScanProfile.shape) as (keyof ScanProfile)[]).filter((k) => profiles.some((p) => p[k] !== undefined))
  return Object.fromEntries(keys.map((k) => [k, profiles.reduce((s, p) => s + (p[k] ?? 0), 0)])) as ScanProfile
}

const ROWS: [keyof ScanProfile, string][] = [
  ['waitForImagesSeconds', 'waiting for images'],
  ['forwardSeconds', 'forward + per-unit max'],
  ['topKSeconds', 'top-K'],
  ['maximaWritesSeconds', 'maxima writes'],
  ['checkpointSeconds', 'checkpoints'],
  ['otherSeconds', 'other'],
]

/** The profile as lines of text: each step's seconds, share of the wall time and ms per image. */
export function formatProfile(p: ScanProfile, heading: string): string[] {
  const wall = p.wallSeconds
  const row = (label: string, sec: number, share = true) =>
    `  ${label.padEnd(24)} ${sec.toFixed(2).padStart(8)} s${share && wall > 0 ? `${((100 * sec) / wall).toFixed(0).padStart(5)} %` : '       '}${p.images > 0 ? `${((1000 * sec) / p.images).toFixed(2).padStart(9)} ms/image` : ''}`
  return [
    `${heading}: ${p.images} images in ${wall.toFixed(2)} s`,
    ...(p.startupSeconds !== undefined ? [row('start-up (to the loop)', p.startupSeconds, false)] : []),
    ...ROWS.map(([key, label]) => row(label, p[key] ?? 0)),
    row('decoding (overlapped)', p.decodingSeconds, false),
    ...(p.decodeThreads ? [row(`${p.decodeThreads} decode thread(s) busy`, p.decodeThreadBusySeconds ?? 0, false)] : []),
  ]
}
