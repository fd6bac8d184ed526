/**
 * The one contract between the window and the engine; start reading here.
 *
 * This file is the table: every call the UI can make is a row of `methods`, with the process that answers it
 * (`where`), its params and its result as zod schemas. The schemas live beside it by topic:
 *
 *   common.ts        building blocks: Float32, ModelId, the two path kinds (OpenedPath, LocalPath), ImageBox,
 *                    Prediction, SkippedFile
 *   system.ts        backends, engine processes, SystemInfo, the folder picker's listing, the demo
 *   models.ts        ModelInfo, layers and receptive fields, preprocessing, FilterData
 *   images.ts        image folders and ImageFacts        activations.ts  ActivationData
 *   scans.ts         dataset scans and a unit's top patches
 *   classMaps.ts     class maps (CAM, Grad-CAM, ...) and the fully-convolutional class grid
 *   localization.ts  weakly-supervised localization     faithfulness.ts  deletion / insertion curves
 *   progress.ts      Progress                            errors.ts       ErrorCode, ConvscopeError
 *   envelopes.ts     request / response / progress / cancel, identical over IPC, WebSocket and the engine channel
 *   session.ts       the window's session (model, folders, selection, view) the engine keeps in the workspace
 *   executors.ts     executors (onnxruntime / tfjs) and onnxruntime devices: choice, availability, the setting
 *   neurons.ts       from a neuron back to the pixels: targets, pixel maps, occlusion, activation maximization,
 *                    guided backprop on a unit's top patches, a unit's class weights
 *   embeddings.ts    the representation space: codes of a folder, nearest neighbours, PCA / t-SNE / UMAP maps,
 *                    the image grid
 *
 * Every process boundary validates with these schemas: params once where a call enters a process (the router
 * for windows, the engine process's entry), results once before they leave the engine. A parameter naming a
 * file the engine reads is a `LocalPath`: served mode refuses it outside the opened folders (host/router.ts).
 */
import { z } from 'zod'
import { ActivationData } from './activations'
import { ClassFolder, ClassMapGrid, ClassMaps, GetClassFolders, GetClassMapGrid, GetClassMaps, MapMethodsInfo } from './classMaps'
import { LocalPath, ModelId, OpenedPath } from './common'
import {
  CodeImages,
  CodesSummary,
  CodeUnitValues,
  Embedding,
  GetCodeUnitValues,
  GetImageGrid,
  GetNeighbours,
  ImageGrid,
  Neighbours,
  ProjectionInfo,
  StartCodes,
  StartEmbedding,
} from './embeddings'
import { ConvscopeError } from './errors'
import { ExecutorReport, GetExecutors, SetExecutorSettings } from './executors'
import { Faithfulness, FolderFaithfulness, GetFaithfulness, StartFaithfulness } from './faithfulness'
import { ImageFacts, ImageFolder } from './images'
import { LocalizationReport, StartLocalization } from './localization'
import { FilterData, ModelInfo, RecentModel } from './models'
import {
  ActmaxResult,
  ClassDirection,
  GetClassDirection,
  GetGuidedPatches,
  GetOcclusion,
  GetPixelMap,
  GetUnitClassWeights,
  GuidedPatches,
  OcclusionMap,
  PixelMap,
  PixelMethodsInfo,
  StartActmax,
  UnitClassWeights,
} from './neurons'
import type { Progress } from './progress'
import { Session } from './session'
import { GetTopPatches, GetUnitsOverview, ScanSummary, StartScan, UnitsOverview, UnitTopPatches } from './scans'
import { BusyWork, DemoSetup, DirListing, SystemInfo, type EngineLane, type ShellKind } from './system'

export * from './activations'
export * from './classMaps'
export * from './common'
export * from './embeddings'
export * from './envelopes'
export * from './errors'
export * from './executors'
export * from './faithfulness'
export * from './images'
export * from './localization'
export * from './models'
export * from './neurons'
export * from './progress'
export * from './scans'
export * from './session'
export * from './system'

/**
 * Where a method runs. 'shell': the shell answers at once. 'engine': the interactive engine process, one
 * call at a time (quick calls the views wait for). 'jobs': a second engine process for long passes over a
 * dataset (scans, evaluations), so that they never queue the views' calls behind them. A long job is one
 * field: `method('jobs', ...)`.
 */
export type Where = 'shell' | EngineLane
const method = <W extends Where, P extends z.ZodType, R extends z.ZodType>(where: W, params: P, result: R) => ({ where, params, result })

export const methods = {
  getSystemInfo: method('shell', z.object({}), SystemInfo),
  ping: method('shell', z.object({}), z.object({ at: z.number() })),
  /** List a folder for the served-mode folder picker (folders and model/image files only; names, never contents). */
  browse: method('shell', z.object({ path: z.string().optional() }), DirListing),
  /** Electron only: the native folder dialog. null when cancelled. */
  chooseFolder: method('shell', z.object({ title: z.string().optional() }), z.object({ path: z.string().nullable() })),
  /** Electron only: the native file dialog for a model (a TF.js model.json or an ONNX file). null when cancelled. */
  chooseModel: method('shell', z.object({ title: z.string().optional() }), z.object({ path: z.string().nullable() })),
  listRecentModels: method('engine', z.object({}), z.array(RecentModel)),
  /** Open a model folder (model.json + weights, or an .onnx; + convscope.json) or an .onnx file; the window may then read its folder. */
  openModel: method('engine', z.object({ path: OpenedPath }), ModelInfo),
  getFilters: method('engine', z.object({ modelId: ModelId, layer: z.string() }), FilterData),
  /** List an image folder (ImageNet-style class sub-folders give class names); the window may then read it. */
  openImageFolder: method('engine', z.object({ path: OpenedPath, limit: z.number().int().positive().default(5000) }), ImageFolder),
  /** Every channel of a layer for one image, with the model's top-5. */
  getActivations: method('engine', z.object({ modelId: ModelId, layer: z.string(), image: LocalPath }), ActivationData),
  /** An image's size, format and conversions from its header, no model needed: the window checks an image it is asked to show. */
  getImageFacts: method('engine', z.object({ image: LocalPath }), ImageFacts),
  /** Make sure the demo dataset exists in the workspace (generating it with progress) and say where the demo model is. */
  prepareDemo: method('jobs', z.object({}), DemoSetup),
  /** Keep the engine busy for a while, with progress (responsiveness tests and benchmarks). */
  busyWork: method('jobs', BusyWork, z.object({ iterations: z.number() })),
  /**
   * Scan an opened image folder: per unit of each layer, the top-K image patches and every image's maximum.
   * Progress: images done/total, message with images/s and skipped files. Cancelling checkpoints and stops;
   * starting the same scan again resumes it. A finished scan is returned at once.
   */
  startScan: method('jobs', StartScan, ScanSummary),
  /** The scans of a model in the workspace, finished and incomplete, newest first. */
  listScans: method('engine', z.object({ modelId: ModelId }), z.array(ScanSummary)),
  /** The top patches of one unit from a finished scan, its maxima over the dataset and its top-N classes. */
  getTopPatches: method('engine', GetTopPatches, UnitTopPatches),
  /** The Units overview: the top patches of several units of a layer, reading the scan's arrays once (no maxima, no classes). */
  getUnitsOverview: method('engine', GetUnitsOverview, UnitsOverview),
  /** What the class-map methods can do with a model: methods with the reason where one cannot run, Grad-CAM layers. */
  getMapMethods: method('engine', z.object({ modelId: ModelId }), MapMethodsInfo),
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
  getFaithfulness: method('engine', GetFaithfulness, Faithfulness),
  /** Mean deletion / insertion curves over an image folder for `methods` and a random pixel order. Progress: images done/total. */
  startFaithfulness: method('jobs', StartFaithfulness, FolderFaithfulness),
  /** Which of the model's classes each class folder of an image folder holds (null: none), as `classify` maps them. */
  getClassFolders: method('engine', GetClassFolders, z.array(ClassFolder)),
  /** The fully-convolutional rewrite of a flatten → dense network on one image at a larger input: class probabilities per position. */
  getClassMapGrid: method('engine', GetClassMapGrid, ClassMapGrid),
  /** The window's last session in this workspace; null before the first save. */
  getSession: method('engine', z.object({}), Session.nullable()),
  /** Remember the window's session (`<workspace>/session.json`) for a reload or a second window. */
  saveSession: method('engine', Session, z.object({})),
  /** Where forward-only work runs: onnxruntime's devices (available or why not), the tfjs backend, the model's executor and why. */
  getExecutors: method('engine', GetExecutors, ExecutorReport),
  /** Choose executor and device (saved in `<workspace>/settings.json`; a --device / --executor flag or env variable overrides it). */
  setExecutorSettings: method('engine', SetExecutorSettings, ExecutorReport),
  /** The pixel-map methods (vanilla gradient, deconvnet, guided backprop, guided Grad-CAM) with their ReLU rules, and why one cannot run. */
  getPixelMethods: method('engine', z.object({ modelId: ModelId }), PixelMethodsInfo),
  /** One image's map on the input grid for a target (class, unit, direction) by a pixel method. */
  getPixelMap: method('engine', GetPixelMap, PixelMap),
  /** Occlusion map of one image for a target: a square slides over it, batched. Progress: positions done/total; cancellable. */
  getOcclusion: method('engine', GetOcclusion, OcclusionMap),
  /** Activation maximization for a target. Progress: steps, with a preview image (Progress.image); cached per (model, target, settings). */
  startActmax: method('jobs', StartActmax, ActmaxResult),
  /** Guided backprop (or another pixel method) on each of a unit's top patches of a scan, cached in the scan folder. */
  getGuidedPatches: method('engine', GetGuidedPatches, GuidedPatches),
  /** The classes whose weights on a last-conv channel of a global-pooling network are largest. */
  getUnitClassWeights: method('engine', GetUnitClassWeights, UnitClassWeights),
  /** A class's weight vector over the channels a global-pooling → linear head reads (a direction target), or why there is none. */
  getClassDirection: method('engine', GetClassDirection, ClassDirection),
  /**
   * The code of every image of an opened folder at one layer (spatial maps globally average-pooled), with its
   * 32×32 pixel thumbnail and the model's top-1 class, through the scan pipeline: progress, cancel, resume.
   */
  startCodes: method('jobs', StartCodes, CodesSummary),
  /** The codes folders of a model in the workspace, finished and incomplete, newest first. */
  listCodes: method('engine', z.object({ modelId: ModelId }), z.array(CodesSummary)),
  /** The images of a finished codes folder with their class and predicted class (what a map colours by). */
  getCodeImages: method('engine', z.object({ codesDir: LocalPath }), CodeImages),
  /** An image's nearest neighbours in code space and in pixel space; exact. */
  getNeighbours: method('engine', GetNeighbours, Neighbours),
  /** The projection methods (PCA, t-SNE, UMAP) with their settings. */
  getProjections: method('engine', z.object({}), z.array(ProjectionInfo)),
  /** A 2-D (or n-D) map of a codes folder by a projection method. Progress: iterations; cancellable; cached. */
  startEmbedding: method('jobs', StartEmbedding, Embedding),
  /** A unit's per-image maximum for the images of a codes folder, from a finished scan of them (colours a map). */
  getCodeUnitValues: method('engine', GetCodeUnitValues, CodeUnitValues),
  /** The cnnembed grid: images of a 2-D map snapped to a grid by an optimal assignment, written as a PNG. */
  getImageGrid: method('engine', GetImageGrid, ImageGrid),
} as const

export type Methods = typeof methods
export type MethodName = keyof Methods
/** The methods the shell answers itself, without waiting for the engine. */
export type ShellMethodName = { [M in MethodName]: Methods[M]['where'] extends 'shell' ? M : never }[MethodName]
/** The methods an engine process answers (either lane). */
export type EngineMethodName = Exclude<MethodName, ShellMethodName>
/** Params as a caller writes them (defaults optional) ... */
export type Params<M extends MethodName> = z.input<Methods[M]['params']>
/** ... and as a handler receives them, parsed (defaults filled in, paths branded). */
export type ParsedParams<M extends MethodName> = z.output<Methods[M]['params']>
export type Result<M extends MethodName> = z.infer<Methods[M]['result']>

export function isMethodName(name: string): name is MethodName {
  return Object.prototype.hasOwnProperty.call(methods, name)
}

/** Validate params of a request; throws ConvscopeError('BAD_REQUEST') with zod's explanation. */
export function parseParams<M extends MethodName>(name: M, params: unknown): ParsedParams<M> {
  const parsed = methods[name].params.safeParse(params ?? {})
  if (!parsed.success) {
    throw new ConvscopeError('BAD_REQUEST', `Invalid parameters for ${name}: ${z.prettifyError(parsed.error)}`)
  }
  return parsed.data as ParsedParams<M>
}

/** Validate a result before it leaves the process that made it. */
export function parseResult<M extends MethodName>(name: M, result: unknown): Result<M> {
  const parsed = methods[name].result.safeParse(result)
  if (!parsed.success) {
    throw new ConvscopeError('INTERNAL', `Engine produced an invalid ${name} result: ${z.prettifyError(parsed.error)}`)
  }
  return parsed.data as Result<M>
}

export interface CallOptions {
  onProgress?: (p: Progress) => void
  signal?: AbortSignal
}

/** What the renderer sees as `window.convscope` (Electron) or builds over a WebSocket (served mode). */
export interface ConvscopeApi {
  call<M extends MethodName>(method: M, params: Params<M>, options?: CallOptions): Promise<Result<M>>
  /** URL the window can put in an <img src> for a local image the user opened. */
  imageUrl(path: string): string
  readonly shell: ShellKind
}
