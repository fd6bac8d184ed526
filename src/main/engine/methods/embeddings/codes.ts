/** startCodes / listCodes / getCodeImages (issue 13) — placeholder of the interface commit. */
import { ConvscopeError, type ParsedParams, type Result } from '../../../../shared/api'
import type { JobContext } from '../../context'
import type { LoadedModel } from '../../model'

const notYet = (): never => {
  throw new ConvscopeError('INTERNAL', 'codes are not built yet')
}
export async function startCodes(_workspace: string, _model: LoadedModel, _p: ParsedParams<'startCodes'>, _ctx: JobContext): Promise<Result<'startCodes'>> {
  return notYet()
}
export async function listCodes(_workspace: string, _modelId: string): Promise<Result<'listCodes'>> {
  return notYet()
}
export async function getCodeImages(_codesDir: string): Promise<Result<'getCodeImages'>> {
  return notYet()
}
