/**
 * The fully-convolutional class grid (issue 5, item 3; format-neutral since issue 10): a network whose classifier
 * head was turned into convolutions runs on an input larger than it was trained on and gives one classification
 * per position. The engine builds it from any LoadedModel (convolutionalHead.ts: TF.js layers, TF.js graph, ONNX);
 * the tests' independent reference, a rewrite of a layers model into a standalone tf.LayersModel
 * (test/helpers/layersFullyConvolutional.ts), builds the same interface. This module is what they share: the interface and the grid (classes, windows, receptive fields).
 */
import type * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ReceptiveField } from '../../../shared/api'
import { fieldBox } from './receptiveField'

/** How the classifier head was turned into convolutions. */
export type FcnHead = 'flatten-dense' | 'global-pooling'

/** A network that classifies every position of a larger input. */
export interface ClassGridNetwork {
  head: FcnHead
  /** What was done, one sentence each, for the user. */
  steps: string[]
  /** The original network's input [height, width]: the window one output position classifies. */
  trainingInputSize: [number, number]
  classes: number
  /** Whether the output is a softmax over classes at each position, or raw scores. */
  outputs: 'probabilities' | 'scores'
  /** Input [1, H, W, c] → [1, H', W', classes]; the caller disposes the result and keeps the input. Async where its forward runs on onnxruntime. */
  predict(input: tf.Tensor4D): tf.Tensor4D | Promise<tf.Tensor4D>
  /** The receptive field of one output position for an input of [H, W, c]; null if not computable. */
  positionField(inputShape: [number, number, number]): ReceptiveField | null
  dispose(): void
}

/** A grid position's window and receptive field, in input pixels (inclusive). */
export interface FcnCell {
  y: number
  x: number
  /** Flatten → dense head: the window of the training input size the position classifies. Global-pooling head: the receptive field, clipped. */
  window: { top: number; left: number; bottom: number; right: number }
  /** Receptive field clipped to the input; null where unknown. */
  field: { top: number; left: number; bottom: number; right: number } | null
}

export interface FcnGrid {
  /** The input it ran at, [height, width]. */
  inputSize: [number, number]
  height: number
  width: number
  classes: number
  /** Row-major height × width × classes: probabilities (or scores, see ClassGridNetwork.outputs). */
  values: Float32Array
  /** Per position (row-major) the top class and its value. */
  argmax: Int32Array
  maxValue: Float32Array
  /** Input pixels between neighbouring positions, per axis. */
  stride: [number, number]
  /** Row-major height × width. */
  cells: FcnCell[]
  /** The receptive field of one position (size / jump / start in input pixels); null if not computable. */
  receptiveField: ReceptiveField | null
}

/** Run the network on one preprocessed input [1, H, W, c]; the caller keeps `input`. */
export async function classMapGrid(fcn: ClassGridNetwork, input: tf.Tensor4D): Promise<FcnGrid> {
  if (input.shape[0] !== 1) throw new ConvscopeError('BAD_REQUEST', `classMapGrid takes one image, got a batch of ${input.shape[0]}`)
  const [, H, W, c] = input.shape
  const [h0, w0] = fcn.trainingInputSize
  if (fcn.head === 'flatten-dense' && (H < h0 || W < w0)) throw new ConvscopeError('BAD_REQUEST', `the input (${H}×${W}) is smaller than the training input size ${h0}×${w0}: no window fits`)
  const out = await fcn.predict(input)
  const [, gh, gw, k] = out.shape
  const values = (await out.data()) as Float32Array
  out.dispose()

  const argmax = new Int32Array(gh * gw)
  const maxValue = new Float32Array(gh * gw)
  for (let p = 0; p < gh * gw; p++) {
    let best = 0
    for (let j = 1; j < k; j++) if (values[p * k + j]! > values[p * k + best]!) best = j
    argmax[p] = best
    maxValue[p] = values[p * k + best]!
  }

  const rf = fcn.positionField([H, W, c])
  // Neighbouring positions are the jump of the field apart; with a 1-position axis, there is no neighbour.
  const stride: [number, number] = [rf?.jump[0] || (gh > 1 ? (H - h0) / (gh - 1) : 0), rf?.jump[1] || (gw > 1 ? (W - w0) / (gw - 1) : 0)]
  const cells: FcnCell[] = []
  for (let y = 0; y < gh; y++) {
    for (let x = 0; x < gw; x++) {
      const top = y * stride[0]
      const left = x * stride[1]
      const field = rf ? fieldBox(rf, y, x, [H, W]) : null
      const window = fcn.head === 'flatten-dense' || !field ? { top, left, bottom: top + h0 - 1, right: left + w0 - 1 } : field
      cells.push({ y, x, window, field })
    }
  }
  return { inputSize: [H, W], height: gh, width: gw, classes: k, values, argmax, maxValue, stride, cells, receptiveField: rf }
}
