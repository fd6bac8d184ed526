/** Issue 12, being built in this session: replaced by its owner's implementation before the stop. */
import { ConvscopeError, type ParsedParams, type Result } from '../../../../shared/api'
import type { JobContext } from '../../context'
import type { LoadedModel } from '../../model'

export async function getPixelMethods(model: LoadedModel): Promise<Result<'getPixelMethods'>> {
  throw new ConvscopeError('UNSUPPORTED_OP', `getPixelMethods is not built yet (${model.info.name})`)
}

export async function getPixelMap(model: LoadedModel, p: ParsedParams<'getPixelMap'>, ctx: JobContext): Promise<Result<'getPixelMap'>> {
  throw new ConvscopeError('UNSUPPORTED_OP', `getPixelMap is not built yet (${model.info.name}, ${p.method}, ${ctx.signal.aborted})`)
}
