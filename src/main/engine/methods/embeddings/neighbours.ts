/** getNeighbours (issue 13) — placeholder of the interface commit. */
import { ConvscopeError, type ParsedParams, type Result } from '../../../../shared/api'
import type { LoadedModel } from '../../model'

/** `model(id)`: the engine's opened model of that identity (a query image outside the folder needs its code computed). */
export async function getNeighbours(_p: ParsedParams<'getNeighbours'>, _model: (id: string) => Promise<LoadedModel>): Promise<Result<'getNeighbours'>> {
  throw new ConvscopeError('INTERNAL', 'neighbours are not built yet')
}
