/**
 * The representation space (issue 13; the lecture's "last layer" section): the code of every image of a folder
 * at one layer, its nearest neighbours in code space beside those in pixel space, 2-D maps of the codes
 * (PCA, t-SNE, UMAP: the projections registry, engine/projections) and the cnnembed image grid.
 *
 * Where things live in the workspace:
 *   <workspace>/codes/<model>-<dataset>-<settings>/       a codes folder (engine/codes/codesFolder.ts: format)
 *     embeddings/<method>-<params hash>.npy + .json       a finished projection, reused when asked again
 *     grids/<...>.png                                     image grids written by getImageGrid
 */
import { z } from 'zod'
import { Float32, LocalPath, ModelId, SkippedFile } from './common'

/** How codes are stored: float16 halves the file (and the memory of a kNN query) at ~3 significant digits. */
export const CodeDtype = z.enum(['float16', 'float32'])
export type CodeDtype = z.infer<typeof CodeDtype>

/** A codes folder in the workspace; `incomplete` ones were cancelled or killed and resume when started again. */
export const CodesSummary = z.object({
  /** Absolute path of the codes folder. */
  dir: z.string(),
  status: z.enum(['complete', 'incomplete']),
  modelId: ModelId,
  /** The image folder the codes are of (absolute). */
  dataDir: z.string(),
  layer: z.string(),
  /** Code length: the layer's channels (a spatial map is globally average-pooled) or its units. */
  dim: z.number().int(),
  /** Whether the layer's output was a spatial map, averaged over space to make the code. */
  pooled: z.boolean(),
  dtype: CodeDtype,
  /** Images in the dataset (rows of the codes matrix; skipped images have NaN rows). */
  images: z.number().int(),
  skipped: z.array(SkippedFile),
  seconds: z.number().nullable(),
  imagesPerSecond: z.number().nullable(),
  finishedAt: z.string().nullable(),
})
export type CodesSummary = z.infer<typeof CodesSummary>

export const StartCodes = z.object({
  modelId: ModelId,
  /** An image folder the user opened. */
  dataDir: LocalPath,
  /** Default: the classifier's input (e.g. fc7, or the globally pooled last conv map). */
  layer: z.string().optional(),
  dtype: CodeDtype.default('float32'),
})

/** One image of a codes folder, with what colours it on a map. */
export const CodeImage = z.object({
  index: z.number().int(),
  /** Absolute path. */
  path: z.string(),
  /** Its class folder's name (ImageNet layout), null when none. */
  className: z.string().nullable(),
  /** The model's top-1 class index for it, null when skipped or the model has no classifier output. */
  predicted: z.number().int().nullable(),
  /** That class's label, when the model has labels. */
  predictedLabel: z.string().nullable(),
  /** False for an image that could not be read (its code is NaN; maps leave it out). */
  ok: z.boolean(),
})
export type CodeImage = z.infer<typeof CodeImage>

export const CodeImages = z.object({ codesDir: z.string(), layer: z.string(), dim: z.number().int(), images: z.array(CodeImage) })
export type CodeImages = z.infer<typeof CodeImages>

export const Metric = z.enum(['cosine', 'l2'])
export type Metric = z.infer<typeof Metric>

export const GetNeighbours = z.object({
  codesDir: LocalPath,
  /** The query: an image of the folder, or any image file (its code is computed on the call). */
  image: LocalPath,
  k: z.number().int().min(1).max(200).default(10),
  metric: Metric.default('cosine'),
})

/** One neighbour: cosine distance = 1 − cos, l2 = Euclidean distance. */
export const Neighbour = z.object({ index: z.number().int(), path: z.string(), className: z.string().nullable(), distance: z.number() })
export type Neighbour = z.infer<typeof Neighbour>

export const Neighbours = z.object({
  codesDir: z.string(),
  image: z.string(),
  /** The query's row in the codes folder (it is left out of its own neighbours), null when it is not in the folder. */
  index: z.number().int().nullable(),
  metric: Metric,
  /** Nearest in code space, nearest first; exact (blocked matrix products, no approximation). */
  code: z.array(Neighbour),
  /** Nearest in pixel space (Euclidean distance of the 32×32 RGB thumbnails, the lecture's comparison). */
  pixel: z.array(Neighbour),
  milliseconds: z.number(),
})
export type Neighbours = z.infer<typeof Neighbours>

/** A setting of a projection method, as the window draws its input and the CLI its flag. */
export const ProjectionParam = z.object({
  name: z.string(),
  label: z.string(),
  kind: z.enum(['int', 'number', 'choice']),
  default: z.union([z.number(), z.string()]),
  min: z.number().optional(),
  max: z.number().optional(),
  choices: z.array(z.string()).optional(),
  help: z.string(),
})
export type ProjectionParam = z.infer<typeof ProjectionParam>

/** A method of the projections registry (engine/projections/registry.ts). */
export const ProjectionInfo = z.object({
  name: z.string(),
  label: z.string(),
  description: z.string(),
  /** Output dimensions it can make (PCA: 2 … 100; t-SNE and UMAP: 2). */
  maxDims: z.number().int(),
  params: z.array(ProjectionParam),
})
export type ProjectionInfo = z.infer<typeof ProjectionInfo>

export const ProjectionParams = z.record(z.string(), z.union([z.number(), z.string()]))
export type ProjectionParams = z.infer<typeof ProjectionParams>

export const StartEmbedding = z.object({
  codesDir: LocalPath,
  /** A projection's name (getProjections). */
  method: z.string(),
  /** Settings by name; missing ones take the method's default. */
  params: ProjectionParams.default({}),
  dims: z.number().int().min(1).max(100).default(2),
})

export const Embedding = z.object({
  codesDir: z.string(),
  method: z.string(),
  /** Every setting the method ran with, defaults filled in. */
  params: ProjectionParams,
  dims: z.number().int(),
  /** Rows of the codes folder. */
  count: z.number().int(),
  /** [count, dims] row-major; NaN rows for images that could not be read. */
  points: Float32,
  /** PCA: the fraction of variance each output dimension explains; null for other methods. */
  explainedVariance: Float32.nullable(),
  /** The .npy the points are stored in (float32 [count, dims]). */
  file: z.string(),
  seconds: z.number(),
  /** True when a finished result of the same (codes, method, settings, dims) was returned. */
  cached: z.boolean(),
})
export type Embedding = z.infer<typeof Embedding>

export const GetCodeUnitValues = z.object({ codesDir: LocalPath, layer: z.string(), unit: z.number().int().min(0) })

/** A unit's maximum per image of a codes folder, from a finished scan of the same model and images. */
export const CodeUnitValues = z.object({
  codesDir: z.string(),
  layer: z.string(),
  unit: z.number().int(),
  /** One per codes row (NaN: skipped or not scanned). */
  values: Float32,
  scanDir: z.string(),
})
export type CodeUnitValues = z.infer<typeof CodeUnitValues>

export const GetImageGrid = z.object({
  codesDir: LocalPath,
  /** The 2-D embedding the grid is snapped from (a finished startEmbedding with these settings). */
  method: z.string(),
  params: ProjectionParams.default({}),
  cols: z.number().int().min(1).max(200),
  /** Default: as many as `cols`. */
  rows: z.number().int().min(1).max(200).optional(),
  /** Side of one cell in the PNG, pixels. */
  cell: z.number().int().min(8).max(512).default(64),
  /** Only these rows of the codes folder (a lasso selection); default every readable image. */
  indices: z.array(z.number().int().min(0)).optional(),
})

export const ImageGrid = z.object({
  cols: z.number().int(),
  rows: z.number().int(),
  cell: z.number().int(),
  /** Row-major, one per cell: the codes row shown there, -1 for an empty cell. */
  cells: z.array(z.number().int()),
  /** Sum over filled cells of the squared distance between the cell's centre and its image's point (the map scaled to the grid). */
  cost: z.number(),
  /** The grid written as a PNG in the codes folder (absolute path). */
  png: z.string(),
  milliseconds: z.number(),
})
export type ImageGrid = z.infer<typeof ImageGrid>
