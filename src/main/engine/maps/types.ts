/**
 * The one interface every class-map method implements (issues 5 and 9): one file per method under
 * src/main/engine/maps/, one line in the registry (maps/index.ts). A method describes itself (what it needs,
 * what it returns, on which grid, at what cost, why not on a model), and the API, the CLI and the Classes view
 * read that description from the registry instead of keeping tables of their own. Boxes, localization metrics
 * and faithfulness curves only ever see a ClassMap.
 */
import type * as tf from '@tensorflow/tfjs'
import type { MapMethodsInfo } from '../../../shared/api'
import type { LoadedModel } from '../model'

/** A registered method's name, e.g. "gradcam"; checked against the registry by mapMethod (maps/index.ts). */
export type MapMethodName = string

/** One class's map for one image, on the grid where the method computes it. */
export interface ClassMap {
  classIndex: number
  /** The class score the map explains: the logit (before softmax). */
  score: number
  /** Grid size: the conv layer's [height, width] (CAM, Grad-CAM family) or the network input's (gradient saliency). */
  height: number
  width: number
  /** Row-major height × width, raw (not normalised; CAM values can be negative). */
  values: Float32Array<ArrayBuffer>
}

/** The class score a map explains (issue 12's class target): the logit, or the softmax probability. */
export type ClassScore = 'logit' | 'probability'

export interface MapOptions {
  /** Conv layer to read the map at (methods that need a layer); default: the last spatial layer before the classifier head. */
  layer?: string
  /** Default 'logit'; 'probability' only for methods listing it in `scores` (checkMapScore). */
  score?: ClassScore
}

export interface MapResult {
  /** The layer the maps were read at; null for input-space methods. */
  layer: string | null
  maps: ClassMap[]
}

/**
 * The self-description a method registers with: the contract's getMapMethods entry (name, label, needs,
 * returns, grid, cost, comparedByDefault; documented there) less `unsupported`, which depends on the model.
 */
export type MapMethodDescriptor = Readonly<Omit<MapMethodsInfo['methods'][number], 'unsupported'>>
export type MapMethodNeeds = MapMethodDescriptor['needs']

export interface MapMethod extends MapMethodDescriptor {
  /** Why the method cannot run on this model (e.g. CAM without a global-pooling head), or null when it can. */
  unsupported(model: LoadedModel): string | null
  /** The label on this model when the method adapts to it (CAM over a max-pooling head); default: `label`. */
  labelOn?(model: LoadedModel): string
  /**
   * The maps of `classes` for one preprocessed input [1, h, w, c] (the caller keeps ownership of `input`).
   * Implementations dispose every tensor they create.
   */
  compute(model: LoadedModel, input: tf.Tensor4D, classes: number[], options?: MapOptions): Promise<MapResult>
  /**
   * Forward-only methods (CAM): the forward names their maps are read from, so that a caller running the model anyway
   * (imageClassMaps, for the ranking) fetches them in the same pass and calls mapsFromForward instead of compute.
   */
  forwardNames?(model: LoadedModel): string[]
  /** The maps of `classes` from one image's tensors of forwardNames, in that order (the caller disposes them). */
  mapsFromForward?(model: LoadedModel, tensors: tf.Tensor[], classes: number[]): Promise<MapResult>
}
