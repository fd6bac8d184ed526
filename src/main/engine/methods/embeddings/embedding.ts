/** getProjections / startEmbedding (issue 13) — placeholder of the interface commit. */
import { ConvscopeError, type ParsedParams, type Result } from '../../../../shared/api'
import type { JobContext } from '../../context'
import { projectionInfos } from '../../projections/registry'

export async function getProjections(): Promise<Result<'getProjections'>> {
  return projectionInfos()
}
export async function startEmbedding(_p: ParsedParams<'startEmbedding'>, _ctx: JobContext): Promise<Result<'startEmbedding'>> {
  throw new ConvscopeError('INTERNAL', 'embeddings are not built yet')
}
