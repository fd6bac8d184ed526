/**
 * One projection method (issue 13): codes in, points in `dims` dimensions out. Each method is one file of this
 * folder registered in registry.ts; the API (startEmbedding, getProjections), the CLI (`embed`) and the
 * Embeddings view read the registry, so a new method is one file and one line there.
 */
import type { ProjectionInfo, ProjectionParams } from '../../../shared/api'
import type { JobContext } from '../context'

/** Row-major codes, only readable images (the caller drops NaN rows and puts them back after). */
export interface ProjectionInput {
  data: Float32Array
  count: number
  dim: number
}

export interface ProjectionOutput {
  /** [count, dims] row-major. */
  points: Float32Array
  /** PCA: the fraction of the total variance each output dimension explains. */
  explainedVariance?: Float32Array
}

export interface Projection {
  info: ProjectionInfo
  /**
   * Project `input` to `dims` dimensions with `params` (every setting of info.params, resolved by
   * registry.resolveParams). Reports progress through ctx.progress (done/total iterations, unit "iterations")
   * and checks ctx.signal between iterations (throwIfCancelled). Same params (seed included) → same points.
   */
  run(input: ProjectionInput, dims: number, params: ProjectionParams, ctx: JobContext): Promise<ProjectionOutput>
}
