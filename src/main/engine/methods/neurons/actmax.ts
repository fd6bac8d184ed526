/** Issue 12, being built in this session: replaced by its owner's implementation before the stop. */
import { ConvscopeError, type ParsedParams, type Result } from '../../../../shared/api'
import type { JobContext } from '../../context'
import type { LoadedModel } from '../../model'

export async function startActmax(workspace: string, model: LoadedModel, p: ParsedParams<'startActmax'>, ctx: JobContext): Promise<Result<'startActmax'>> {
  throw new ConvscopeError('UNSUPPORTED_OP', `startActmax is not built yet (${workspace} ${model.info.name} ${p.target.kind} ${ctx.signal.aborted})`)
}
