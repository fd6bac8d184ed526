/**
 * The one target type of issue 12 (shared/api/neurons.ts `Target`): what a pixel map, an occlusion map or an
 * activation maximization explains, as one number per image of a batch.
 *
 * - class: its logit (maps/classScores.ts: the score before the softmax) or its softmax probability;
 * - unit: channel `channel` of `layer` at its spatial max, at a position, or its spatial mean;
 * - direction: Σ_k vector[k] · layer[.., k], averaged over space.
 *
 * A unit "at its max" has two readings. Methods that differentiate (pixel maps) pick the position on the image
 * first (`locateTarget`) and hold it fixed: the gradient of the value at one position. Methods that change the
 * image and read the unit again (occlusion, activation maximization) take the max over space of each copy:
 * `targetScores` without a position.
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ImageBox, type ResolvedTarget, type Target } from '../../shared/api'
import { forwardWithLogits, logitsForwardName, logitsFromForward, requireLogits } from './maps/classScores'
import type { LoadedModel } from './model'
import { fieldBox } from './models/receptiveField'

export interface Position {
  y: number
  x: number
}

/** A target checked against a model: the layer it reads (null for classes) and its words. */
export interface TargetPlan {
  target: Target
  /** The layer whose output the target reads; null for a class (the logits). */
  layer: string | null
  /** "class 3 (gold star) logit", "conv_last channel 12 at its max", ... (the position is added once located). */
  description: string
  /** The layer output's [height, width] for spatial layers, null for vectors (dense layers, classes). */
  grid: [number, number] | null
}

/** Check `target` against `model`; a BAD_REQUEST naming what is wrong otherwise. */
export function planTarget(model: LoadedModel, target: Target): TargetPlan {
  if (target.kind === 'class') {
    const source = requireLogits(model)
    const classes = model.graph.get(source.layer).outputShape[0]!
    if (target.class >= classes) throw new ConvscopeError('BAD_REQUEST', `Class ${target.class} is not a class of model ${model.info.name} (it has ${classes}: 0 … ${classes - 1})`)
    const label = model.info.labels?.[target.class]
    return { target, layer: null, grid: null, description: `class ${target.class}${label ? ` (${label})` : ''} ${target.score}` }
  }
  const info = model.graph.find(target.layer)
  if (!info) throw new ConvscopeError('BAD_REQUEST', `Model ${model.info.name} has no layer "${target.layer}"`)
  const shape = info.outputShape
  const channels = shape[shape.length - 1]
  if (shape.length !== 3 && shape.length !== 1) {
    throw new ConvscopeError('BAD_REQUEST', `Layer "${target.layer}" has output shape [${shape.join(', ')}]; a target needs channels (a map [h, w, c] or a vector [c])`)
  }
  if (channels == null) throw new ConvscopeError('BAD_REQUEST', `Layer "${target.layer}" has an unknown number of channels`)
  const grid: [number, number] | null = shape.length === 3 && shape[0] != null && shape[1] != null ? [shape[0], shape[1]] : null
  if (target.kind === 'direction') {
    if (target.vector.length !== channels) {
      throw new ConvscopeError('BAD_REQUEST', `A direction in "${target.layer}" needs ${channels} weights (one per channel); got ${target.vector.length}`)
    }
    return { target, layer: target.layer, grid, description: `a direction in ${target.layer}` }
  }
  if (target.channel >= channels) {
    throw new ConvscopeError('BAD_REQUEST', `Layer "${target.layer}" has ${channels} channels (0 … ${channels - 1}); got channel ${target.channel}`)
  }
  const at = target.at
  if (typeof at === 'object') {
    if (!grid) throw new ConvscopeError('BAD_REQUEST', `Layer "${target.layer}" is not a spatial map; a position needs one`)
    if (at.y >= grid[0] || at.x >= grid[1]) {
      throw new ConvscopeError('BAD_REQUEST', `Position (y ${at.y}, x ${at.x}) is outside the ${grid[0]}×${grid[1]} map of "${target.layer}"`)
    }
  }
  const where = at === 'max' ? 'at its max' : at === 'mean' ? 'spatial mean' : `at (y ${at.y}, x ${at.x})`
  return { target, layer: target.layer, grid, description: `${target.layer} channel ${target.channel} ${where}` }
}

/**
 * The target's value for each image of `input` [n, h, w, c]: a tensor [n], differentiable (usable inside tf.grad).
 * A unit at 'max' reads `position` when given (held fixed), else each image's own spatial max. The caller owns the result.
 */
export function targetScores(model: LoadedModel, input: tf.Tensor4D, plan: TargetPlan, position?: Position): tf.Tensor1D {
  const { target } = plan
  if (target.kind === 'class') {
    const { outputs, logits } = forwardWithLogits(model, input, [])
    tf.dispose(outputs)
    return disposeAfter(logits, () => {
      const scores = target.score === 'probability' ? tf.softmax(logits) : logits
      return tf.squeeze(tf.slice(scores, [0, target.class], [-1, 1]), [1]) as tf.Tensor1D
    })
  }
  const [out] = model.forward(input, [plan.layer!])
  return disposeAfter(out!, () => layerScores(out!, plan, position))
}

/** Run `f`, then dispose `t` (inside tf.grad the tape keeps what it needs). */
function disposeAfter<T extends tf.Tensor>(t: tf.Tensor, f: () => T): T {
  try {
    return tf.tidy(f)
  } finally {
    t.dispose()
  }
}

/** The target's value per image from the layer's output [n, h, w, c] or [n, c]. */
function layerScores(out: tf.Tensor, plan: TargetPlan, position?: Position): tf.Tensor1D {
  const target = plan.target
  const n = out.shape[0]!
  if (target.kind === 'direction') {
    const v = tf.tensor1d(target.vector)
    const dot = tf.sum(tf.mul(out, v), -1) // [n, h, w] or [n]
    return (out.rank === 4 ? tf.mean(dot, [1, 2]) : dot) as tf.Tensor1D
  }
  if (target.kind !== 'unit') throw new Error('layerScores reads units and directions')
  if (out.rank === 2) return tf.squeeze(tf.slice(out, [0, target.channel], [-1, 1]), [1]) as tf.Tensor1D
  const channel = tf.squeeze(tf.slice(out, [0, 0, 0, target.channel], [-1, -1, -1, 1]), [3]) // [n, h, w]
  const at = typeof target.at === 'object' ? target.at : target.at === 'max' ? position : undefined
  if (at) return tf.reshape(tf.slice(channel, [0, at.y, at.x], [-1, 1, 1]), [n]) as tf.Tensor1D
  return (target.at === 'mean' ? tf.mean(channel, [1, 2]) : tf.max(channel, [1, 2])) as tf.Tensor1D
}

/** What `locateTarget` finds on one image. */
export interface LocatedTarget {
  resolved: ResolvedTarget
  /** The position to hold fixed when differentiating a unit at its max (or at a given position); else undefined. */
  position: Position | undefined
}

/**
 * The target on one image [1, h, w, c]: its value, and for a unit at 'max' the position of that max (first in
 * row-major order on ties, as the scan's argmax), with its receptive field in network-input pixels.
 */
export async function locateTarget(model: LoadedModel, input: tf.Tensor4D, plan: TargetPlan): Promise<LocatedTarget> {
  const target = plan.target
  if (target.kind !== 'unit' || target.at === 'mean' || !plan.grid) {
    const value = targetScores(model, input, plan)
    const [v] = await value.data()
    value.dispose()
    return { resolved: { description: plan.description, value: v!, position: null, receptiveField: null }, position: undefined }
  }
  let position: Position
  let value: number
  if (typeof target.at === 'object') {
    position = target.at
    const t = targetScores(model, input, plan, position)
    value = (await t.data())[0]!
    t.dispose()
  } else {
    const [out] = model.forward(input, [plan.layer!])
    const channel = tf.tidy(() => tf.slice(out!, [0, 0, 0, target.channel], [1, -1, -1, 1]).reshape([-1]))
    out!.dispose()
    const values = await channel.data()
    channel.dispose()
    let best = 0
    for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i
    position = { y: Math.floor(best / plan.grid[1]), x: best % plan.grid[1] }
    value = values[best]!
  }
  const description = target.at === 'max' ? `${plan.description} (y ${position.y}, x ${position.x})` : plan.description
  return { resolved: { description, value, position, receptiveField: receptiveFieldBox(model, plan.layer!, position, input.shape[1], input.shape[2]) }, position }
}

/** The receptive field of `layer`'s unit at `position` in network-input pixels (edges, clipped); null when unknown. */
export function receptiveFieldBox(model: LoadedModel, layer: string, position: Position, height: number, width: number): ImageBox | null {
  const rf = model.graph.get(layer).receptiveField
  if (!rf) return null
  const box = fieldBox(rf, position.y, position.x, [height, width])
  return box && { x: box.left, y: box.top, width: box.right - box.left + 1, height: box.bottom - box.top + 1 }
}

/**
 * Forward-only reading (occlusion, on whichever executor executors/forward.ts picks): the one name a forward pass
 * must give for the target — its layer, or what the logits are computed from (maps/classScores.ts logitsForwardName).
 */
export function targetForwardName(model: LoadedModel, plan: TargetPlan): string {
  return plan.layer ?? logitsForwardName(model)
}

/**
 * The target's value per image [n] from `out`, the forward output of targetForwardName: the same numbers as
 * targetScores (a unit at 'max' without a position: each image's own spatial max). The caller owns the result;
 * `out` is not disposed.
 */
export function targetScoresFromForward(model: LoadedModel, plan: TargetPlan, out: tf.Tensor, position?: Position): tf.Tensor1D {
  const target = plan.target
  if (target.kind !== 'class') return tf.tidy(() => layerScores(out, plan, position))
  const logits = logitsFromForward(model, out)
  return disposeAfter(logits, () => {
    const scores = target.score === 'probability' ? tf.softmax(logits) : logits
    return tf.squeeze(tf.slice(scores, [0, target.class], [-1, 1]), [1]) as tf.Tensor1D
  })
}
