/**
 * The one interface every class-map method implements (issue 5): CAM, Grad-CAM, Grad-CAM++ and plain
 * gradient saliency today, one file each under src/main/engine/maps/, registered in maps/index.ts.
 * Boxes, localization metrics, faithfulness curves and the UI only ever see a ClassMap.
 */
import type * as tf from '@tensorflow/tfjs'
import type { LoadedModel } from '../model'

export const MAP_METHOD_NAMES = ['cam', 'gradcam', 'gradcampp', 'backprop'] as const
export type MapMethodName = (typeof MAP_METHOD_NAMES)[number]

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
  /** Conv layer to read the map at (Grad-CAM family); default: the last spatial layer before the classifier head. */
  layer?: string
}

export interface MapResult {
  /** The layer the maps were read at; null for input-space methods. */
  layer: string | null
  maps: ClassMap[]
}

export interface MapMethod {
  readonly name: MapMethodName
  /** Display name, e.g. "Grad-CAM++". */
  readonly label: string
  /** Why the method cannot run on this model (e.g. CAM without a GAP head), or null when it can. */
  unsupported(model: LoadedModel): string | null
  /**
   * The maps of `classes` for one preprocessed input [1, h, w, c] (the caller keeps ownership of `input`).
   * Implementations dispose every tensor they create.
   */
  compute(model: LoadedModel, input: tf.Tensor4D, classes: number[], options?: MapOptions): Promise<MapResult>
}
