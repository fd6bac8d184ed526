/** getCodeUnitValues (issue 13) — placeholder of the interface commit. */
import { ConvscopeError, type ParsedParams, type Result } from '../../../../shared/api'

export async function getCodeUnitValues(_workspace: string, _p: ParsedParams<'getCodeUnitValues'>): Promise<Result<'getCodeUnitValues'>> {
  throw new ConvscopeError('INTERNAL', 'unit values of codes are not built yet')
}
