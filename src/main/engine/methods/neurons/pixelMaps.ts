/**
 * The pixel maps' engine side (issue 12): the registry's methods as they describe themselves and which run on a
 * model (getPixelMethods), and one image's map for a target (getPixelMap, through pixels/imagePixelMap.ts).
 */
import type { ParsedParams, Result } from '../../../../shared/api'
import type { JobContext } from '../../context'
import type { LoadedModel } from '../../model'
import { PIXEL_METHOD_LIST } from '../../pixels'
import { imagePixelMap } from '../../pixels/imagePixelMap'

export async function getPixelMethods(model: LoadedModel): Promise<Result<'getPixelMethods'>> {
  return {
    methods: PIXEL_METHOD_LIST.map((m) => ({ name: m.name, label: m.label, rule: m.rule, otherActivations: m.otherActivations, cost: m.cost, unsupported: m.unsupported(model) })),
  }
}

export async function getPixelMap(model: LoadedModel, p: ParsedParams<'getPixelMap'>, ctx: JobContext): Promise<Result<'getPixelMap'>> {
  ctx.signal.throwIfAborted()
  return (await imagePixelMap(model, { image: p.image, method: p.method, target: p.target, layer: p.layer })).map
}
