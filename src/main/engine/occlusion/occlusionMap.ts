/**
 * The batched occlusion pass (Zeiler & Fergus 2014): the target's value on every occluded copy of one image,
 * `batch` copies per forward pass on the forward executor (executors/forward.ts: onnxruntime where the model has a
 * runtime source, else tfjs), pinned for the whole map. Forward-only: the target is read from one forward name
 * (targets.ts targetForwardName / targetScoresFromForward), so a unit at its max is the max over space of each
 * copy, recomputed, not the unoccluded image's position held fixed. Progress after each batch, in positions;
 * cancellation is checked between batches.
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ResolvedTarget } from '../../../shared/api'
import { RateMeter, rateFields } from '../../../shared/progressRate'
import { noopContext, throwIfCancelled, type JobContext } from '../context'
import { forwardTensors, pinExecutor, type ForwardRequest } from '../executors/forward'
import type { ExecutorName } from '../executors/onnxRuntime'
import type { LoadedModel } from '../model'
import { locateTarget, targetForwardName, targetScoresFromForward, type LocatedTarget, type TargetPlan } from '../targets'
import { occludedCopies } from './copies'
import { fillImage, type OcclusionFill } from './fills'
import { occlusionGrid, type OcclusionGrid } from './grid'

export interface OcclusionRequest {
  size: number
  stride: number
  fill: OcclusionFill
  /** Occluded copies per forward pass. */
  batch: number
  /** Which forward executor (default: the request's / CONVSCOPE_EXECUTOR's choice, as every forward-only method). */
  executor?: ForwardRequest['executor']
}

/** One preprocessed image, HWC values (images/preprocess.ts ModelInput has this shape). */
export interface OcclusionImage {
  data: Float32Array
  shape: readonly [number, number, 3] | readonly [number, number, number]
}

export interface OcclusionResult {
  grid: OcclusionGrid
  fill: OcclusionFill
  /** The target on the unoccluded image (its value read on the same executor as the copies). */
  resolved: ResolvedTarget
  /** rows × cols, row-major: the target's value with the square at (row · stride, col · stride). */
  values: Float32Array<ArrayBuffer>
  executor: ExecutorName
}

/** The occlusion map of `image` for the target `plan` (planTarget). */
export async function occlusionMap(model: LoadedModel, image: OcclusionImage, plan: TargetPlan, request: OcclusionRequest, ctx: JobContext = noopContext()): Promise<OcclusionResult> {
  const [height, width, channels] = image.shape
  if (channels !== 3) throw new ConvscopeError('BAD_REQUEST', `Occlusion needs a 3-channel image input; this one has ${channels}`)
  const grid = occlusionGrid(height, width, request.size, request.stride)
  if (!Number.isInteger(request.batch) || request.batch < 1) throw new ConvscopeError('BAD_REQUEST', `The occlusion batch must be a whole number ≥ 1, got ${request.batch}`)
  const { executor, request: pinned } = pinExecutor(model, { executor: request.executor })
  const name = targetForwardName(model, plan)
  const valuesOf = async (data: Float32Array, n: number): Promise<Float32Array> => {
    const { tensors } = await forwardTensors(model, { data, shape: [n, height, width, 3] }, [name], pinned)
    try {
      const scores = targetScoresFromForward(model, plan, tensors[0]!)
      try {
        return (await scores.data()) as Float32Array
      } finally {
        scores.dispose()
      }
    } finally {
      tf.dispose(tensors)
    }
  }

  // The unoccluded image: where a unit's max lies and its receptive field (tfjs), its value on the copies' executor.
  const clean = tf.tensor4d(image.data, [1, height, width, 3])
  let located: LocatedTarget
  try {
    located = await locateTarget(model, clean, plan)
  } finally {
    clean.dispose()
  }
  const [value] = await valuesOf(image.data, 1)
  const resolved: ResolvedTarget = { ...located.resolved, value: value! }

  const fill = fillImage(image.data, height, width, request.fill, grid.size, model.info.preprocessing)
  const total = grid.rows * grid.cols
  const values = new Float32Array(total)
  const meter = new RateMeter()
  ctx.progress({ done: 0, total, unit: 'positions', ...rateFields(meter.sample(0, total)) })
  for (let from = 0; from < total; from += request.batch) {
    throwIfCancelled(ctx)
    const count = Math.min(request.batch, total - from)
    values.set(await valuesOf(occludedCopies(image.data, fill, grid, from, count), count), from)
    const done = from + count
    ctx.progress({ done, total, unit: 'positions', ...rateFields(meter.sample(done, total)) })
  }
  return { grid, fill: request.fill, resolved, values, executor }
}
