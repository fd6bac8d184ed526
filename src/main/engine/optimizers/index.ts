/**
 * The image parameterizations of activation maximization: one file each, registered here with one line. The
 * contract's `ActmaxSettings.parameterization` names them (shared/api/neurons.ts).
 */
import { ConvscopeError } from '../../../shared/api'
import { fourier } from './fourier'
import { pixel } from './pixel'
import type { ImageParameterization } from './types'

export type { ImageParameterization, ParameterizedImage } from './types'

export const PARAMETERIZATION_LIST: readonly ImageParameterization[] = [fourier, pixel]

export const PARAMETERIZATION_NAMES = PARAMETERIZATION_LIST.map((p) => p.name)

export function parameterization(name: string): ImageParameterization {
  const found = PARAMETERIZATION_LIST.find((p) => p.name === name)
  if (!found) throw new ConvscopeError('BAD_REQUEST', `Unknown image parameterization "${name}" (known: ${PARAMETERIZATION_NAMES.join(', ')})`)
  return found
}
