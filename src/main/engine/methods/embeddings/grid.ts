/** getImageGrid (issue 13) — placeholder of the interface commit. */
import { ConvscopeError, type ParsedParams, type Result } from '../../../../shared/api'
import type { JobContext } from '../../context'

export async function getImageGrid(_p: ParsedParams<'getImageGrid'>, _ctx: JobContext): Promise<Result<'getImageGrid'>> {
  throw new ConvscopeError('INTERNAL', 'image grids are not built yet')
}
