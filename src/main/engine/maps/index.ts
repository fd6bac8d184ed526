/**
 * The class-map methods by name (issue 5). A new method is one file implementing MapMethod, added here.
 */
import { ConvscopeError } from '../../../shared/api'
import { cam } from './cam'
import { gradCam } from './gradCam'
import { gradCamPlusPlus } from './gradCamPlusPlus'
import { gradientSaliency } from './gradientSaliency'
import { MAP_METHOD_NAMES, type MapMethod, type MapMethodName } from './types'

export type { ClassMap, MapMethod, MapMethodName, MapOptions, MapResult } from './types'
export { MAP_METHOD_NAMES } from './types'
export { defaultMapLayer, mapLayers } from './mapLayers'
export { classLogits, findLogits } from './classScores'

export const MAP_METHODS: Record<MapMethodName, MapMethod> = {
  cam,
  gradcam: gradCam,
  gradcampp: gradCamPlusPlus,
  backprop: gradientSaliency,
}

/** The method called `name`; a BAD_REQUEST error naming the known ones otherwise. */
export function mapMethod(name: string): MapMethod {
  if ((MAP_METHOD_NAMES as readonly string[]).includes(name)) return MAP_METHODS[name as MapMethodName]
  throw new ConvscopeError('BAD_REQUEST', `Unknown map method "${name}"; known: ${MAP_METHOD_NAMES.join(', ')}`)
}
