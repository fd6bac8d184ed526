/** Dataset scans (issue 4): a unit's top patches and maxima over an image folder, kept in the workspace. */
import { z } from 'zod'
import { Float32, ImageBox, LocalPath, ModelId, SkippedFile } from './common'

/** A layer a dataset scan covers: its map size and number of units (channels). */
export const ScanLayerSummary = z.object({ name: z.string(), units: z.number().int(), height: z.number().int(), width: z.number().int() })

/**
 * A dataset scan in the workspace (issue 4): `<workspace>/scans/<model>-<dataset>-<settings>`, so results
 * are never shown for another model or for changed images. `incomplete` scans were cancelled or killed and
 * resume from their checkpoint when started again with the same settings.
 */
export const ScanSummary = z.object({
  /** Absolute path of the result folder (manifest.json + .npy files, see engine/scan/manifest.ts). */
  dir: z.string(),
  status: z.enum(['complete', 'incomplete']),
  modelId: ModelId,
  /** The image folder that was scanned (absolute). */
  dataDir: z.string(),
  layers: z.array(ScanLayerSummary),
  k: z.number().int(),
  /** Images in the dataset. */
  images: z.number().int(),
  /** Files that could not be read (finished scans only). */
  skipped: z.array(SkippedFile),
  seconds: z.number().nullable(),
  imagesPerSecond: z.number().nullable(),
  finishedAt: z.string().nullable(),
  resumed: z.boolean(),
})
export type ScanSummary = z.infer<typeof ScanSummary>

export const StartScan = z.object({
  modelId: ModelId,
  /** An image folder the user opened (ImageNet-style class sub-folders give class names). */
  dataDir: LocalPath,
  /** Default: every spatial conv / depthwise / pool layer except the first. */
  layers: z.array(z.string()).min(1).optional(),
  /** Top patches kept per unit. */
  k: z.number().int().min(1).max(256).default(16),
})

/** One of a unit's top patches: its image, value and where (the receptive field at the max) in image pixels. */
export const TopPatchEntry = z.object({
  rank: z.number().int(),
  /** Absolute path of the image. */
  path: z.string(),
  className: z.string().nullable(),
  value: z.number(),
  /** Position of the maximum in the layer's map. */
  y: z.number().int(),
  x: z.number().int(),
  /** The unit's receptive field there, in original-image pixels (edges), clipped; null when unknown. */
  box: ImageBox.nullable(),
  /** Size of the original image, null when unknown. */
  imageWidth: z.number().int().nullable(),
  imageHeight: z.number().int().nullable(),
})
export type TopPatchEntry = z.infer<typeof TopPatchEntry>

export const UnitTopPatches = z.object({
  scanDir: z.string(),
  layer: z.string(),
  unit: z.number().int(),
  units: z.number().int(),
  patches: z.array(TopPatchEntry),
  /** The unit's maximum over space for every image of the dataset (NaN: skipped); null when the scan kept no maxima. */
  maxima: Float32.nullable(),
  /** Classes of the unit's top-N images (by their maxima; the top-K patches without maxima), most frequent first. */
  classHistogram: z.array(z.object({ className: z.string(), count: z.number().int() })),
  /** N: how many images the class histogram counts. */
  topN: z.number().int(),
})
export type UnitTopPatches = z.infer<typeof UnitTopPatches>

export const GetTopPatches = z.object({
  scanDir: LocalPath,
  layer: z.string(),
  unit: z.number().int().min(0),
  /** Patches to return (default all K). */
  count: z.number().int().positive().optional(),
  /** Images the class histogram counts (default 100). */
  topN: z.number().int().positive().default(100),
  /** Include the per-image maxima (the overview leaves them out). */
  withMaxima: z.boolean().default(true),
})

/** The overview's rows (Girshick et al. 2014, fig. 4): a few top patches of each of several units, one read of the scan. */
export const GetUnitsOverview = z.object({
  scanDir: LocalPath,
  layer: z.string(),
  units: z.array(z.number().int().min(0)).min(1).max(256),
  /** Patches per unit (default all K). */
  count: z.number().int().positive().optional(),
})

export const UnitsOverview = z.object({
  scanDir: z.string(),
  layer: z.string(),
  /** Units of the layer. */
  units: z.number().int(),
  /** One row per asked unit, in the order asked. */
  rows: z.array(z.object({ unit: z.number().int(), patches: z.array(TopPatchEntry) })),
})
export type UnitsOverview = z.infer<typeof UnitsOverview>
