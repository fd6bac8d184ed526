/**
 * getOcclusion (issue 12): the occlusion map of one image for a target, a thin adapter from the API's params to
 * engine/occlusion (occlusionMap: the batched pass on the forward executor, progress per batch, cancel between
 * batches) and back to the contract's OcclusionMap.
 */
import { resolve } from 'node:path'
import type { ParsedParams, Result } from '../../../../shared/api'
import type { JobContext } from '../../context'
import { readModelInput } from '../../images/readImage'
import type { LoadedModel } from '../../model'
import { occlusionMap } from '../../occlusion/occlusionMap'
import { planTarget } from '../../targets'

export async function getOcclusion(model: LoadedModel, p: ParsedParams<'getOcclusion'>, ctx: JobContext): Promise<Result<'getOcclusion'>> {
  const started = performance.now()
  const plan = planTarget(model, p.target)
  const { input } = await readModelInput(resolve(p.image), model.info.preprocessing)
  const r = await occlusionMap(model, input, plan, { size: p.size, stride: p.stride, fill: p.fill, batch: p.batch }, ctx)
  return {
    target: r.resolved,
    rows: r.grid.rows,
    cols: r.grid.cols,
    size: r.grid.size,
    stride: r.grid.stride,
    fill: r.fill,
    inputHeight: r.grid.height,
    inputWidth: r.grid.width,
    values: r.values,
    milliseconds: performance.now() - started,
  }
}
