/** Progress of a call, as long jobs report it to the Jobs view and progress bars. */
import { z } from 'zod'
import { SkippedFile } from './common'

/** At most this many skipped files travel with each progress event (the count is always exact). */
export const SKIPPED_FILES_SHOWN = 100

/** Progress of a call. The optional fields are what long jobs add for the Jobs view and progress bars. */
export const Progress = z.object({
  done: z.number(),
  total: z.number().nullable(),
  message: z.string().optional(),
  /** What done/total count, e.g. "images". */
  unit: z.string().optional(),
  /** Items per second in this run (a resumed job counts from where it resumed); absent until measurable. */
  rate: z.number().optional(),
  /** Seconds left at that rate. */
  etaSeconds: z.number().optional(),
  /** Inputs skipped so far (unreadable files), and the first SKIPPED_FILES_SHOWN of them. */
  skipped: z.number().int().optional(),
  skippedFiles: z.array(SkippedFile).optional(),
  /** A preview of what the job is making, as a PNG data URL (activation maximization's current image). */
  image: z.string().optional(),
})
export type Progress = z.infer<typeof Progress>
