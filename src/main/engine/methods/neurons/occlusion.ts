/** Issue 12, being built in this session: replaced by its owner's implementation before the stop. */
import { ConvscopeError, type ParsedParams, type Result } from '../../../../shared/api'
import type { JobContext } from '../../context'
import type { LoadedModel } from '../../model'

export async function getOcclusion(model: LoadedModel, p: ParsedParams<'getOcclusion'>, ctx: JobContext): Promise<Result<'getOcclusion'>> {
  throw new ConvscopeError('UNSUPPORTED_OP', `getOcclusion is not built yet (${model.info.name} ${p.size} ${ctx.signal.aborted})`)
}
