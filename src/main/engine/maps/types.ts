/**
 * The one interface every class-map method implements (issues 5 and 9): one file per method under
 * src/main/engine/maps/, one line in the registry (maps/index.ts). A method describes itself (what it needs,
 * what it returns, on which grid, at what cost, why not on a model), and the API, the CLI and the Classes view
 * read that description from the registry instead of keeping tables of their own. Boxes, localization metrics
 * and faithfulness curves only ever see a ClassMap.
 */
import type * as tf from '@tensorflow/tfjs'
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

export interface MapOptions {
  /** Conv layer to read the map at (methods that need a layer); default: the last spatial layer before the classifier head. */
  layer?: string
}

export interface MapResult {
  /** The layer the maps were read at; null for input-space methods. */
  layer: string | null
  maps: ClassMap[]
}

/** What a method needs from the model and the request. */
export interface MapMethodNeeds {
  /** Reads its maps at a spatial layer the caller may choose (MapOptions.layer). */
  layer: boolean
  /** Differentiates the class score (a backward pass), so it needs a differentiable executor. */
  gradient: boolean
  /** Reads the weights of a global-pooling → linear classifier head (CAM). */
  globalPoolingHead: boolean
}

/** The self-description a method registers with; getMapMethods sends it to the UI as it is. */
export interface MapMethodDescriptor {
  readonly name: MapMethodName
  /** Display name, e.g. "Grad-CAM++". */
  readonly label: string
  readonly needs: MapMethodNeeds
  /** One value per grid cell ('one-channel'), or a colour per cell ('rgb'; ClassMap carries one channel today). */
  readonly returns: 'one-channel' | 'rgb'
  /** The map's grid: a layer's (CAM, Grad-CAM family) or the network input's (gradient saliency). */
  readonly grid: 'layer' | 'input'
  /** For one image and all its requested classes, in words, e.g. "forward only", "one backward pass". */
  readonly cost: string
  /** Ticked by default where methods are compared over a folder (the Classes view's localization run). */
  readonly comparedByDefault: boolean
}

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
}
