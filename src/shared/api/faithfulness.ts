/** Deletion and insertion curves (Petsiuk et al. 2018): how faithful a map is to the model. */
import { z } from 'zod'
import { LocalPath, ModelId, SkippedFile } from './common'
import { MapMethodName } from './classMaps'

export const FaithfulnessCurve = z.object({
  /** Fraction of the pixels deleted (or inserted) at each point, 0 → 1. */
  fractions: z.array(z.number()),
  /** The class probability at each point. */
  scores: z.array(z.number()),
  /** Area under the curve (trapezoid over fractions): low is good for deletion, high for insertion. */
  auc: z.number(),
})

/**
 * Deletion and insertion curves (Petsiuk et al. 2018; engine/faithfulness/deletionInsertion.ts): pixels in the
 * order of the map, most important first; deletion sets them to 0 in the normalised input, insertion puts them
 * back into a blurred copy (σ = 5 px). `random` is the same with a random pixel order: the baseline to beat.
 */
export const Faithfulness = z.object({
  method: MapMethodName,
  classIndex: z.number().int(),
  label: z.string().nullable(),
  deletion: FaithfulnessCurve,
  insertion: FaithfulnessCurve,
  random: z.object({ deletion: FaithfulnessCurve, insertion: FaithfulnessCurve }),
  /** Milliseconds for the map and for the curves. */
  mapMilliseconds: z.number(),
  curveMilliseconds: z.number(),
})
export type Faithfulness = z.infer<typeof Faithfulness>

/** Mean deletion / insertion curves per method over a folder, every image explained for its top-1 class. */
export const FolderFaithfulness = z.object({
  dataDir: z.string(),
  /** Images evaluated (after `limit`). */
  images: z.number().int(),
  methods: z.array(
    z.object({
      /** A map method, or 'random' (a random pixel order, the baseline). */
      method: z.union([MapMethodName, z.literal('random')]),
      label: z.string(),
      images: z.number().int(),
      deletionAuc: z.number(),
      insertionAuc: z.number(),
      deletion: FaithfulnessCurve,
      insertion: FaithfulnessCurve,
      mapMilliseconds: z.number(),
      curveMilliseconds: z.number(),
    }),
  ),
  skipped: z.array(SkippedFile),
  seconds: z.number(),
})
export type FolderFaithfulness = z.infer<typeof FolderFaithfulness>

export const GetFaithfulness = z.object({
  modelId: ModelId,
  image: LocalPath,
  method: MapMethodName,
  class: z.number().int().min(0).optional(),
  layer: z.string().optional(),
  /** Points on each curve (51: 2 % of the pixels per step). */
  points: z.number().int().min(2).max(256).default(51),
})

export const StartFaithfulness = z.object({
  modelId: ModelId,
  dataDir: LocalPath,
  methods: z.array(MapMethodName).min(1),
  /** N images spread evenly over the folder, not all. */
  limit: z.number().int().positive().optional(),
  points: z.number().int().min(2).max(256).default(51),
})
