/**
 * The class-map registry (issues 5 and 9): one line per method. A method is one file exporting a MapMethod
 * (name, label, needs, returns, grid, cost, unsupported, compute); the API's getMapMethods, the CLI's
 * --method choices and the Classes view's method options all come from this list, in this order.
 */
import { ConvscopeError, type MapMethodsInfo } from '../../../shared/api'
import type { LoadedModel } from '../model'
import { cam } from './cam'
import { gradCam } from './gradCam'
import { gradCamPlusPlus } from './gradCamPlusPlus'
import { gradientSaliency } from './gradientSaliency'
import { hiResCam } from './hiResCam'
import type { MapMethod, MapMethodName } from './types'

export type { ClassMap, MapMethod, MapMethodDescriptor, MapMethodName, MapOptions, MapResult } from './types'
export { defaultMapLayer, mapLayers } from './mapLayers'
export { classLogits, findLogits } from './classScores'

export const MAP_METHOD_LIST: readonly MapMethod[] = [
  cam,
  gradCam,
  gradCamPlusPlus,
  gradientSaliency,
  hiResCam,
]

export const MAP_METHOD_NAMES: readonly MapMethodName[] = MAP_METHOD_LIST.map((m) => m.name)
export const MAP_METHODS: Readonly<Record<MapMethodName, MapMethod>> = Object.fromEntries(MAP_METHOD_LIST.map((m) => [m.name, m]))

/** The method called `name`; a BAD_REQUEST error naming the known ones otherwise. */
export function mapMethod(name: string): MapMethod {
  const method = MAP_METHOD_LIST.find((m) => m.name === name)
  if (!method) throw new ConvscopeError('BAD_REQUEST', `Unknown map method "${name}"; known: ${MAP_METHOD_NAMES.join(', ')}`)
  return method
}

/** The method's label on this model (CAM names its max-pooling variant). */
export const mapMethodLabel = (method: MapMethod, model: LoadedModel): string => method.labelOn?.(model) ?? method.label

/** What getMapMethods says of a method on a model: its descriptor, its label there and why it cannot run (null: it can). */
export function describeMapMethod(method: MapMethod, model: LoadedModel): MapMethodsInfo['methods'][number] {
  const { name, needs, returns, grid, cost, comparedByDefault, scores } = method
  return { name, label: mapMethodLabel(method, model), unsupported: method.unsupported(model), needs, returns, grid, cost, comparedByDefault, scores: [...scores] }
}

/**
 * The method called `name` when it runs on `model`, labelled as on that model (so reports say "CAM (global max
 * pooling head)" on a GMP network); UNSUPPORTED_OP saying why not otherwise.
 */
export function runnableMapMethod(model: LoadedModel, name: string): MapMethod {
  const method = mapMethod(name)
  const label = mapMethodLabel(method, model)
  const why = method.unsupported(model)
  if (why) throw new ConvscopeError('UNSUPPORTED_OP', `${label} cannot run on ${model.info.name}: ${why}`)
  // A child object: the method's own members (class methods included) with the label on this model.
  return label === method.label ? method : (Object.create(method, { label: { value: label } }) as MapMethod)
}

/** One line per method for a CLI usage text: name, label, cost. */
export function mapMethodHelp(indent = '  '): string {
  const width = Math.max(...MAP_METHOD_NAMES.map((n) => n.length))
  return MAP_METHOD_LIST.map((m) => `${indent}${m.name.padEnd(width)}  ${m.label}${m.needs.layer ? ' (at --layer)' : ''}: ${m.cost}`).join('\n')
}
