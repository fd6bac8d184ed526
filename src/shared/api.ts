/**
 * The one contract between the window and the engine.
 *
 * Every call the UI can make is a row of `methods`: its params and its result, as zod schemas. Both
 * transports (Electron IPC and the served-mode WebSocket) carry the same envelopes (`RequestEnvelope`,
 * `ResponseEnvelope`, `ProgressEnvelope`, `CancelEnvelope`), and every process boundary validates them
 * with these schemas. A newcomer reads this file to know everything the renderer can ask for.
 *
 * Numbers travel as Float32Array (structured clone over IPC, tagged base64 over WebSocket: see wire.ts).
 */
import { z } from 'zod'

// ---------------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------------

export const Float32 = z.instanceof(Float32Array)

/** Backends in the order the engine tries them. */
export const BackendName = z.enum(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'])
export type BackendName = z.infer<typeof BackendName>

export const BackendAttempt = z.object({
  name: BackendName,
  ok: z.boolean(),
  /** Why it was skipped or failed; for the chosen one, why it was chosen (e.g. "forced by --backend"). */
  reason: z.string(),
})
export const BackendReport = z.object({
  active: BackendName,
  attempts: z.array(BackendAttempt),
  forced: z.boolean(),
})
export type BackendReport = z.infer<typeof BackendReport>

/**
 * Receptive field of a unit of a layer, per axis [height, width], in input pixels (Araujo et al. 2019):
 * `size` = how many input pixels one unit sees, `jump` = input pixels between neighbouring units,
 * `start` = input coordinate of the centre of the field of unit 0 (may be negative with padding).
 * The field of unit (y, x) covers rows start[0] + y*jump[0] ± (size[0]-1)/2, likewise for columns.
 */
export const ReceptiveField = z.object({
  size: z.tuple([z.number(), z.number()]),
  jump: z.tuple([z.number(), z.number()]),
  start: z.tuple([z.number(), z.number()]),
  /** false where branches merged fields of different geometry: then this is the enclosing field. */
  exact: z.boolean(),
})
export type ReceptiveField = z.infer<typeof ReceptiveField>

export const LayerKind = z.enum(['input', 'conv', 'depthwise', 'pool', 'global-pool', 'dense', 'norm', 'activation', 'merge', 'reshape', 'other'])
export type LayerKind = z.infer<typeof LayerKind>

export const LayerInfo = z.object({
  name: z.string(),
  /** Keras class name (layers models) or TF op (graph models). */
  type: z.string(),
  kind: LayerKind,
  /** Output shape without the batch axis; null entries are unknown dimensions. */
  outputShape: z.array(z.number().nullable()),
  params: z.number().int(),
  inbound: z.array(z.string()),
  receptiveField: ReceptiveField.nullable(),
  /** Whether the layer has a 4-D kernel that the Filters view can show. */
  hasFilters: z.boolean(),
  /** Whether activations of this layer are spatial maps (rank 3 without batch). */
  spatial: z.boolean(),
  activation: z.string().nullable(),
})
export type LayerInfo = z.infer<typeof LayerInfo>

/** Input preprocessing, from the model's `convscope.json` sidecar (defaults where it is missing). */
export const Preprocessing = z.object({
  /** [height, width] the network takes. */
  inputSize: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  channelOrder: z.enum(['RGB', 'BGR']).default('RGB'),
  /** Pixel values are first scaled from [0, 255] to `range`, then `(x - mean) / std` per channel. */
  range: z.tuple([z.number(), z.number()]).default([0, 1]),
  mean: z.tuple([z.number(), z.number(), z.number()]).default([0, 0, 0]),
  std: z.tuple([z.number(), z.number(), z.number()]).default([1, 1, 1]),
  /** stretch: resize to inputSize ignoring aspect; center-crop: resize the short side then crop; pad: letterbox. */
  resize: z.enum(['stretch', 'center-crop', 'pad']).default('stretch'),
  /** Label file beside model.json: one label per line, or a JSON array, or an ImageNet-style {"0": [wnid, name]} map. */
  labels: z.string().nullable().default(null),
})
export type Preprocessing = z.infer<typeof Preprocessing>

export const ModelInfo = z.object({
  /** Content hash of model.json and its weight shards: the model's identity. */
  id: z.string(),
  dir: z.string(),
  name: z.string(),
  format: z.enum(['layers', 'graph']),
  /** [height, width, channels] of one input image. */
  inputShape: z.tuple([z.number(), z.number(), z.number()]),
  preprocessing: Preprocessing,
  /** True where no convscope.json was found and defaults were used. */
  preprocessingDefaulted: z.boolean(),
  labels: z.array(z.string()).nullable(),
  layers: z.array(LayerInfo),
  totalParams: z.number().int(),
  warnings: z.array(z.string()),
})
export type ModelInfo = z.infer<typeof ModelInfo>

export const RecentModel = z.object({ id: z.string(), dir: z.string(), name: z.string(), openedAt: z.string() })
export type RecentModel = z.infer<typeof RecentModel>

export const ImageEntry = z.object({
  /** Absolute path. */
  path: z.string(),
  /** Path relative to the folder root, with forward slashes. */
  relPath: z.string(),
  /** Class folder name for ImageNet-style trees, else null. */
  className: z.string().nullable(),
})
export type ImageEntry = z.infer<typeof ImageEntry>

export const ImageFolder = z.object({
  root: z.string(),
  images: z.array(ImageEntry),
  classes: z.array(z.string()),
  /** True when listing stopped at `limit`. */
  truncated: z.boolean(),
})
export type ImageFolder = z.infer<typeof ImageFolder>

export const DirEntry = z.object({ name: z.string(), path: z.string(), kind: z.enum(['dir', 'file']), isModel: z.boolean() })
export const DirListing = z.object({ path: z.string(), parent: z.string().nullable(), entries: z.array(DirEntry) })
export type DirListing = z.infer<typeof DirListing>

/** Facts about how an image was read, for the UI to show next to the image. */
export const ImageFacts = z.object({
  path: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  format: z.string(),
  /** Notes on conversions made: "CMYK converted to sRGB", "alpha flattened on white", "EXIF rotation applied", ... */
  notes: z.array(z.string()),
})
export type ImageFacts = z.infer<typeof ImageFacts>

export const FilterData = z.object({
  layer: z.string(),
  /** Kernel shape [kh, kw, inChannels, outChannels] (depthwise: [kh, kw, channels, multiplier]). */
  shape: z.tuple([z.number(), z.number(), z.number(), z.number()]),
  depthwise: z.boolean(),
  /** Kernel values in the shape above, row-major. */
  weights: Float32,
  /** True for a first layer whose inputs are the 3 image colour channels: shown as RGB tiles. */
  rgb: z.boolean(),
})
export type FilterData = z.infer<typeof FilterData>

export const ActivationData = z.object({
  layer: z.string(),
  image: ImageFacts,
  /** [height, width, channels] for spatial layers, [units] otherwise. */
  shape: z.array(z.number()),
  /** Activations, row-major in `shape`. */
  values: Float32,
  /** Per channel: max over space and the flat (y * width + x) index where it occurs. */
  channelMax: Float32,
  channelArgmax: z.array(z.number().int()),
  /** Top-5 of the model output for this image, where the model ends in class scores. */
  predictions: z.array(z.object({ index: z.number().int(), label: z.string().nullable(), score: z.number() })),
})
export type ActivationData = z.infer<typeof ActivationData>

/** One engine process (see `Where` below): its lane, pid, and the backend it initialised (null before its first start). */
export const EngineProcessInfo = z.object({
  lane: z.enum(['engine', 'jobs']),
  pid: z.number().int().nullable(),
  backend: BackendReport.nullable(),
})
export type EngineProcessInfo = z.infer<typeof EngineProcessInfo>

export const SystemInfo = z.object({
  version: z.string(),
  backend: BackendReport,
  workspace: z.string(),
  /** 'electron' when the window is an Electron window, 'served' when it is a browser on served mode. */
  shell: z.enum(['electron', 'served']),
  /** Native folder dialogs are available (Electron only). */
  nativeDialogs: z.boolean(),
  /** This installation bundles the trained demo network. */
  demoAvailable: z.boolean(),
  /** Open the bundled demo (model + generated images) when the workspace has no models yet. */
  openDemoOnFirstStart: z.boolean(),
  platform: z.string(),
  node: z.string(),
  /** The engine processes: the interactive one and the one for long jobs (pid null where not running). `backend` above is the interactive one's. */
  engines: z.array(EngineProcessInfo).optional(),
})
export type SystemInfo = z.infer<typeof SystemInfo>

/** The bundled demo: the trained GAP network and the demo dataset generated into the workspace. */
export const DemoSetup = z.object({
  modelDir: z.string(),
  /** The generated dataset's root (classes.json, annotations/, masks/ ...). */
  dataDir: z.string(),
  /** The image folder to show: the held-out val split, an ImageNet-style tree. */
  imagesDir: z.string(),
  /** True when this call generated images; false when they were already there. */
  generated: z.boolean(),
})
export type DemoSetup = z.infer<typeof DemoSetup>

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
  modelId: z.string(),
  /** The image folder that was scanned (absolute). */
  dataDir: z.string(),
  layers: z.array(ScanLayerSummary),
  k: z.number().int(),
  /** Images in the dataset. */
  images: z.number().int(),
  /** Files that could not be read (finished scans only). */
  skipped: z.array(z.object({ path: z.string(), reason: z.string() })),
  seconds: z.number().nullable(),
  imagesPerSecond: z.number().nullable(),
  finishedAt: z.string().nullable(),
  resumed: z.boolean(),
})
export type ScanSummary = z.infer<typeof ScanSummary>

export const StartScan = z.object({
  modelId: z.string(),
  /** An image folder the user opened (ImageNet-style class sub-folders give class names). */
  dataDir: z.string().min(1),
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
  box: z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() }).nullable(),
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

/** A long computation with progress, used to keep the engine busy in responsiveness tests and benchmarks. */
export const BusyWork = z.object({ milliseconds: z.number().int().positive().max(600_000) })

// ---------------------------------------------------------------------------------------------------
// Class maps and weakly-supervised localization (issue 5)
// ---------------------------------------------------------------------------------------------------

/** cam: Zhou et al. 2016 (GAP heads); gradcam / gradcampp: Selvaraju et al. 2017, Chattopadhay et al. 2018; backprop: plain gradient saliency. */
export const MapMethodName = z.enum(['cam', 'gradcam', 'gradcampp', 'backprop'])
export type MapMethodName = z.infer<typeof MapMethodName>

/** A box in original-image pixels, as edges: it covers columns [x, x + width) and rows [y, y + height). */
export const ImageBox = z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() })
export type ImageBox = z.infer<typeof ImageBox>

export const Prediction = z.object({ index: z.number().int(), label: z.string().nullable(), score: z.number() })

/** What the class-map methods can do with a model: which methods run, at which layers. */
export const MapMethodsInfo = z.object({
  methods: z.array(
    z.object({
      name: MapMethodName,
      /** Display name, e.g. "Grad-CAM++". */
      label: z.string(),
      /** Why the method cannot run on this model (CAM without a GAP head), null when it can. */
      unsupported: z.string().nullable(),
    }),
  ),
  /** Spatial layers the Grad-CAM family can read maps at, input side first. */
  layers: z.array(z.string()),
  /** The layer used when none is given: the last spatial layer before the classifier head. */
  defaultLayer: z.string().nullable(),
  /**
   * Why the model has no fully-convolutional rewrite (no flatten → dense or global pooling → dense head), null when
   * its layers have one; judged from the layer list, so the rewrite may still refuse, with its reason, in getClassMapGrid.
   */
  fullyConvolutional: z.string().nullable(),
})
export type MapMethodsInfo = z.infer<typeof MapMethodsInfo>

export const GroundTruthBox = z.object({
  /** The object's class name as the annotation gives it (<name>, e.g. a WordNet id or a class folder name). */
  name: z.string(),
  /** Its index among the model's classes, null when the model has no class of that name. */
  classIndex: z.number().int().nullable(),
  box: ImageBox,
})

/** One class's map for one image, with its box at the threshold. */
export const ClassMapEntry = z.object({
  classIndex: z.number().int(),
  label: z.string().nullable(),
  /** The model's output for the class (probability when the model ends in a softmax). */
  probability: z.number(),
  /** The class score the map explains (the logit). */
  logit: z.number(),
  /** Grid of the map: a conv layer's (CAM, Grad-CAM family) or the network input's (backprop). */
  height: z.number().int(),
  width: z.number().int(),
  /** Raw map values, row-major height × width (not normalised; CAM values may be negative). */
  values: Float32,
  /** Largest connected component of the map (upsampled to the image) above threshold × its max; null for an all-zero map. */
  box: ImageBox.nullable(),
})
export type ClassMapEntry = z.infer<typeof ClassMapEntry>

export const ClassMaps = z.object({
  image: ImageFacts,
  method: MapMethodName,
  /** The layer the maps were read at; null for input-space methods. */
  layer: z.string().nullable(),
  threshold: z.number(),
  /** The model's top-5 classes for the image. */
  predictions: z.array(Prediction),
  maps: z.array(ClassMapEntry),
  /** Where the network's input lies on the image (a crop lies inside it, letterbox padding outside): maps are drawn there. */
  inputOnImage: ImageBox,
  /** Boxes from the image's annotation file (none, and why, when it cannot be read); null when no file was found. */
  groundTruth: z.object({ annotation: z.string(), boxes: z.array(GroundTruthBox), error: z.string().nullable() }).nullable(),
  /** Milliseconds spent on the maps (beyond the forward pass for the predictions). */
  milliseconds: z.number(),
})
export type ClassMaps = z.infer<typeof ClassMaps>

export const GetClassMaps = z.object({
  modelId: z.string(),
  image: z.string().min(1),
  method: MapMethodName,
  /** Classes to map; default: the top `top` predicted classes. */
  classes: z.array(z.number().int().min(0)).min(1).max(64).optional(),
  top: z.number().int().min(1).max(20).default(5),
  /** Grad-CAM family: the layer to read maps at (default: the last spatial layer before the head). */
  layer: z.string().optional(),
  /** Boxes keep the map above this fraction of its max (the CAM paper: 20 %). */
  threshold: z.number().gt(0).lt(1).default(0.2),
  /** The image folder the image belongs to (its root), where annotations and classes.json are looked for. */
  dataDir: z.string().optional(),
  /** Folder of annotation XML (see engine/localization/annotations.ts for where it is looked for by default). */
  annotations: z.string().optional(),
})

/** Fractions in [0, 1]; null where no image counted (e.g. no annotated image). */
const Fraction = z.number().nullable()

/** One method's row of a localization table (engine/localization/metrics.ts computes it). */
export const LocalizationRow = z.object({
  method: MapMethodName,
  label: z.string(),
  /** Images evaluated (annotated and readable). */
  images: z.number().int(),
  threshold: z.number(),
  /** Top-1 / top-5 localization error (class right and IoU ≥ 0.5 with a box of that class): the CAM paper's Table 2. */
  top1LocError: Fraction,
  top5LocError: Fraction,
  /** GT-known localization accuracy: the true class's map, its box with IoU ≥ 0.5. */
  gtKnownLoc: Fraction,
  /** MaxBoxAccV2 (Choe et al. 2020): mean over IoU 0.3 / 0.5 / 0.7 of the best box accuracy over thresholds. */
  maxBoxAccV2: Fraction,
  /** Per IoU δ: the best box accuracy over thresholds and the (smallest) threshold reaching it. */
  maxBoxAcc: z.array(z.object({ iou: z.number(), accuracy: z.number(), threshold: z.number() })),
  /** Classification error on the same images. */
  top1ClsError: Fraction,
  top5ClsError: Fraction,
})
export type LocalizationRow = z.infer<typeof LocalizationRow>

export const SweepPoint = z.object({
  threshold: z.number(),
  top1LocError: z.number(),
  gtKnownLoc: z.number(),
  /** Box accuracy at this threshold for IoU δ = 0.3, 0.5, 0.7. */
  boxAcc: z.array(z.number()),
})

export const LocalizationFailure = z.object({
  method: MapMethodName,
  /** Absolute path, and relative to the evaluated folder. */
  path: z.string(),
  relPath: z.string(),
  /** The image's true class and the predicted top-1 (model class indices) with their names, and its probability. */
  label: z.number().int(),
  labelName: z.string().nullable(),
  predicted: z.number().int(),
  predictedName: z.string().nullable(),
  probability: z.number(),
  /** "wrong class" or e.g. "IoU 0.31 < 0.5". */
  reason: z.string(),
  /** IoU of the top-1 class's box with that class's ground truth (0 for a class not in the image). */
  iou: z.number(),
  imageWidth: z.number().int(),
  imageHeight: z.number().int(),
  /** At the chosen threshold: the top-1 class's box, the true class's box, and the true class's ground-truth boxes. */
  box: ImageBox.nullable(),
  gtKnownBox: ImageBox.nullable(),
  gtBoxes: z.array(ImageBox),
})
export type LocalizationFailure = z.infer<typeof LocalizationFailure>

export const LocalizationReport = z.object({
  dataDir: z.string(),
  /** The annotation folder used; null when annotations were looked for next to the images only. */
  annotations: z.string().nullable(),
  threshold: z.number(),
  /** Images evaluated (annotated and readable), and how many the folder lists. */
  images: z.number().int(),
  listed: z.number().int(),
  rows: z.array(LocalizationRow),
  /** Per method: the metrics at each threshold of the sweep (0, 0.01, …, 0.99). */
  sweep: z.array(z.object({ method: MapMethodName, points: z.array(SweepPoint) })),
  /** Top-1 localization failures, per method worst IoU first (at most 1000 per method kept). */
  failures: z.array(LocalizationFailure),
  /** Per method, how many top-1 failures there were in all. */
  failureCounts: z.array(z.object({ method: MapMethodName, count: z.number().int() })),
  /** Images without an annotation file, unreadable images or XML: reported, not fatal. */
  skipped: z.array(z.object({ path: z.string(), reason: z.string() })),
  /** Annotation object names that are none of the model's classes. */
  unknownClasses: z.array(z.string()),
  seconds: z.number(),
  imagesPerSecond: z.number(),
})
export type LocalizationReport = z.infer<typeof LocalizationReport>

export const StartLocalization = z.object({
  modelId: z.string(),
  /** An image folder the user opened. */
  dataDir: z.string().min(1),
  methods: z.array(MapMethodName).min(1),
  threshold: z.number().gt(0).lt(1).default(0.2),
  /** Evaluate N images spread evenly over the folder's list (every class of a class-sorted folder), not all. */
  limit: z.number().int().positive().optional(),
  annotations: z.string().optional(),
})

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
      method: z.string(),
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
  skipped: z.array(z.object({ path: z.string(), reason: z.string() })),
  seconds: z.number(),
})
export type FolderFaithfulness = z.infer<typeof FolderFaithfulness>

/** The fully-convolutional rewrite of a flatten → dense network run on a larger input (issue 5, item 3). */
export const ClassMapGrid = z.object({
  image: ImageFacts,
  /** The input size it ran at, [height, width], and the training input size. */
  inputSize: z.tuple([z.number().int(), z.number().int()]),
  trainingInputSize: z.tuple([z.number().int(), z.number().int()]),
  /** How the head became convolutions: a flatten → dense head, or global pooling removed; and the steps, for the user. */
  head: z.enum(['flatten-dense', 'global-pooling']),
  steps: z.array(z.string()),
  /**
   * The output grid: position (y, x) sees the input around (origin[0] + y · stride[0], origin[1] + x · stride[1])
   * (input pixels, as edges: the centre of its receptive field; for a flatten → dense head, of the training-size
   * window it classifies).
   */
  height: z.number().int(),
  width: z.number().int(),
  stride: z.tuple([z.number(), z.number()]),
  origin: z.tuple([z.number(), z.number()]),
  classes: z.number().int(),
  /** Per position the most probable class (row-major height × width) and its probability. */
  argmax: z.array(z.number().int()),
  maxProbability: Float32,
  /** Class probabilities, row-major height × width × classes. */
  probabilities: Float32,
  labels: z.array(z.string()).nullable(),
  /** Where the network's input lies on the image. */
  inputOnImage: ImageBox,
})
export type ClassMapGrid = z.infer<typeof ClassMapGrid>

// ---------------------------------------------------------------------------------------------------
// The methods
// ---------------------------------------------------------------------------------------------------

/**
 * Where a method runs. 'shell': the shell answers at once. 'engine': the interactive engine process, one
 * call at a time (quick calls the views wait for). 'jobs': a second engine process for long passes over a
 * dataset (scans, evaluations), so that they never queue the views' calls behind them. A long job is one
 * field: `method('jobs', ...)`.
 */
export type Where = 'shell' | 'engine' | 'jobs'
/** The two engine processes. */
export type EngineLane = Exclude<Where, 'shell'>
const method = <W extends Where, P extends z.ZodType, R extends z.ZodType>(where: W, params: P, result: R) => ({ where, params, result })

export const methods = {
  getSystemInfo: method('shell', z.object({}), SystemInfo),
  ping: method('shell', z.object({}), z.object({ at: z.number() })),
  /** List a folder for the served-mode folder picker (folders and model/image files only). */
  browse: method('shell', z.object({ path: z.string().optional() }), DirListing),
  /** Electron only: the native folder dialog. null when cancelled. */
  chooseFolder: method('shell', z.object({ title: z.string().optional() }), z.object({ path: z.string().nullable() })),
  listRecentModels: method('engine', z.object({}), z.array(RecentModel)),
  openModel: method('engine', z.object({ path: z.string().min(1) }), ModelInfo),
  getFilters: method('engine', z.object({ modelId: z.string(), layer: z.string() }), FilterData),
  openImageFolder: method('engine', z.object({ path: z.string().min(1), limit: z.number().int().positive().default(5000) }), ImageFolder),
  getActivations: method('engine', z.object({ modelId: z.string(), layer: z.string(), image: z.string().min(1) }), ActivationData),
  /** Make sure the demo dataset exists in the workspace (generating it with progress) and say where the demo model is. */
  prepareDemo: method('jobs', z.object({}), DemoSetup),
  busyWork: method('jobs', BusyWork, z.object({ iterations: z.number() })),
  /**
   * Scan an opened image folder: per unit of each layer, the top-K image patches and every image's maximum.
   * Progress: images done/total, message with images/s and skipped files. Cancelling checkpoints and stops;
   * starting the same scan again resumes it. A finished scan is returned at once.
   */
  startScan: method('jobs', StartScan, ScanSummary),
  /** The scans of a model in the workspace, finished and incomplete, newest first. */
  listScans: method('engine', z.object({ modelId: z.string() }), z.array(ScanSummary)),
  /** The top patches of one unit from a finished scan, its maxima over the dataset and its top-N classes. */
  getTopPatches: method(
    'engine',
    z.object({
      scanDir: z.string().min(1),
      layer: z.string(),
      unit: z.number().int().min(0),
      /** Patches to return (default all K). */
      count: z.number().int().positive().optional(),
      /** Images the class histogram counts (default 100). */
      topN: z.number().int().positive().default(100),
      /** Include the per-image maxima (the overview leaves them out). */
      withMaxima: z.boolean().default(true),
    }),
    UnitTopPatches,
  ),
  /** What the class-map methods can do with a model: methods with the reason where one cannot run, Grad-CAM layers. */
  getMapMethods: method('engine', z.object({ modelId: z.string() }), MapMethodsInfo),
  /**
   * Class maps of one image (issue 5): the top-5 predictions, per class its map on the layer's grid and the box
   * of the map's largest component above `threshold` × max in image pixels, and the annotation's boxes when found.
   */
  getClassMaps: method('engine', GetClassMaps, ClassMaps),
  /**
   * Weakly-supervised localization over an annotated image folder, per method: the table row (top-1 / top-5 /
   * GT-known localization error, MaxBoxAccV2), the threshold sweep and the failures. Progress: images done/total.
   */
  startLocalization: method('jobs', StartLocalization, LocalizationReport),
  /** Deletion and insertion curves (Petsiuk et al. 2018) of one image's map for a class (default: the top-1 class). */
  getFaithfulness: method(
    'engine',
    z.object({
      modelId: z.string(),
      image: z.string().min(1),
      method: MapMethodName,
      class: z.number().int().min(0).optional(),
      layer: z.string().optional(),
      /** Points on each curve (51: 2 % of the pixels per step). */
      points: z.number().int().min(2).max(256).default(51),
    }),
    Faithfulness,
  ),
  /** Mean deletion / insertion curves over an image folder for `methods` and a random pixel order. Progress: images done/total. */
  startFaithfulness: method(
    'jobs',
    z.object({
      modelId: z.string(),
      dataDir: z.string().min(1),
      methods: z.array(MapMethodName).min(1),
      /** N images spread evenly over the folder, not all. */
      limit: z.number().int().positive().optional(),
      points: z.number().int().min(2).max(256).default(51),
    }),
    FolderFaithfulness,
  ),
  /** Which of the model's classes each class folder of an image folder holds (null: none), as `classify` maps them. */
  getClassFolders: method(
    'engine',
    z.object({ modelId: z.string(), dataDir: z.string().min(1), folders: z.array(z.string()) }),
    z.array(z.object({ folder: z.string(), classIndex: z.number().int().nullable() })),
  ),
  /** The fully-convolutional rewrite of a flatten → dense network on one image at a larger input: class probabilities per position. */
  getClassMapGrid: method(
    'engine',
    z.object({ modelId: z.string(), image: z.string().min(1), size: z.number().int().min(8).max(2048) }),
    ClassMapGrid,
  ),
} as const

export type Methods = typeof methods
export type MethodName = keyof Methods
/** The methods the shell answers itself, without waiting for the engine. */
export type ShellMethodName = { [M in MethodName]: Methods[M]['where'] extends 'shell' ? M : never }[MethodName]
export type Params<M extends MethodName> = z.input<Methods[M]['params']>
export type Result<M extends MethodName> = z.infer<Methods[M]['result']>

/** A file a job could not read: its path (relative to the job's folder) and why. */
export const SkippedFile = z.object({ path: z.string(), reason: z.string() })
export type SkippedFile = z.infer<typeof SkippedFile>
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
})
export type Progress = z.infer<typeof Progress>

export interface CallOptions {
  onProgress?: (p: Progress) => void
  signal?: AbortSignal
}

/** What the renderer sees as `window.convscope` (Electron) or builds over a WebSocket (served mode). */
export interface ConvscopeApi {
  call<M extends MethodName>(method: M, params: Params<M>, options?: CallOptions): Promise<Result<M>>
  /** URL the window can put in an <img src> for a local image the user opened. */
  imageUrl(path: string): string
  readonly shell: 'electron' | 'served'
}

// ---------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------

export const ErrorCode = z.enum([
  'BAD_REQUEST', // params failed validation
  'NOT_FOUND', // a file or folder is missing
  'BAD_MODEL', // not a model, unreadable model.json, missing/short weights
  'UNSUPPORTED_OP', // the backend cannot run an op of the model
  'BAD_IMAGE', // not an image, truncated, too large, ...
  'FORBIDDEN', // a path outside the folders the user opened, or a missing token
  'CANCELLED',
  'UNAVAILABLE', // e.g. native dialogs in served mode
  'INTERNAL',
])
export type ErrorCode = z.infer<typeof ErrorCode>

export const ErrorPayload = z.object({ code: ErrorCode, message: z.string() })

/** An error that crosses process boundaries with its code and a message a user can act on. */
export class ConvscopeError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'ConvscopeError'
  }
  toPayload(): z.infer<typeof ErrorPayload> {
    return { code: this.code, message: this.message }
  }
  static from(payload: z.infer<typeof ErrorPayload>): ConvscopeError {
    return new ConvscopeError(payload.code, payload.message)
  }
}

// ---------------------------------------------------------------------------------------------------
// Envelopes (identical over IPC, WebSocket and the engine process channel)
// ---------------------------------------------------------------------------------------------------

export const RequestEnvelope = z.object({ kind: z.literal('request'), id: z.number().int(), method: z.string(), params: z.unknown() })
export const ResponseEnvelope = z.union([
  z.object({ kind: z.literal('response'), id: z.number().int(), ok: z.literal(true), result: z.unknown() }),
  z.object({ kind: z.literal('response'), id: z.number().int(), ok: z.literal(false), error: ErrorPayload }),
])
export const ProgressEnvelope = z.object({ kind: z.literal('progress'), id: z.number().int(), progress: Progress })
export const CancelEnvelope = z.object({ kind: z.literal('cancel'), id: z.number().int() })
export const ClientEnvelope = z.union([RequestEnvelope, CancelEnvelope])
export const ServerEnvelope = z.union([ResponseEnvelope, ProgressEnvelope])
export type RequestEnvelope = z.infer<typeof RequestEnvelope>
export type ResponseEnvelope = z.infer<typeof ResponseEnvelope>
export type ProgressEnvelope = z.infer<typeof ProgressEnvelope>
export type CancelEnvelope = z.infer<typeof CancelEnvelope>
export type ClientEnvelope = z.infer<typeof ClientEnvelope>
export type ServerEnvelope = z.infer<typeof ServerEnvelope>

export function isMethodName(name: string): name is MethodName {
  return Object.prototype.hasOwnProperty.call(methods, name)
}

/** Validate params of a request; throws ConvscopeError('BAD_REQUEST') with zod's explanation. */
export function parseParams<M extends MethodName>(name: M, params: unknown): z.infer<Methods[M]['params']> {
  const parsed = methods[name].params.safeParse(params ?? {})
  if (!parsed.success) {
    throw new ConvscopeError('BAD_REQUEST', `Invalid parameters for ${name}: ${z.prettifyError(parsed.error)}`)
  }
  return parsed.data as z.infer<Methods[M]['params']>
}

/** Validate a result before it leaves the process that made it. */
export function parseResult<M extends MethodName>(name: M, result: unknown): Result<M> {
  const parsed = methods[name].result.safeParse(result)
  if (!parsed.success) {
    throw new ConvscopeError('INTERNAL', `Engine produced an invalid ${name} result: ${z.prettifyError(parsed.error)}`)
  }
  return parsed.data as Result<M>
}
