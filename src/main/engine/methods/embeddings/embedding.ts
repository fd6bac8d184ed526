/**
 * getProjections / startEmbedding (issue 13): the projections registry's methods, and a map of a codes folder
 * (engine/embeddings/embeddingStore.ts: computed once per settings, then returned from the folder).
 */
import type { ParsedParams, Result } from '../../../../shared/api'
import type { JobContext } from '../../context'
import { embedCodes } from '../../embeddings/embeddingStore'
import { projectionInfos } from '../../projections/registry'

export async function getProjections(): Promise<Result<'getProjections'>> {
  return projectionInfos()
}

export async function startEmbedding(p: ParsedParams<'startEmbedding'>, ctx: JobContext): Promise<Result<'startEmbedding'>> {
  return embedCodes(p.codesDir, p.method, p.params, p.dims, ctx)
}
