/**
 * The pixel-map registry (issue 12): one line per method. A method is one file exporting a PixelMethod (types.ts);
 * the API's getPixelMethods, the CLI's --method choices and the views' options all come from this list, in order.
 */
import { ConvscopeError } from '../../../shared/api'
import { backprop } from './backprop'
import { deconvnet } from './deconvnet'
import { guided } from './guided'
import { guidedGradCam } from './guidedGradCam'
import type { PixelMethod } from './types'

export type { PixelMapOptions, PixelMapResult, PixelMethod } from './types'

export const PIXEL_METHOD_LIST: readonly PixelMethod[] = [backprop, deconvnet, guided, guidedGradCam]

export const PIXEL_METHOD_NAMES: readonly string[] = PIXEL_METHOD_LIST.map((m) => m.name)

/** The method called `name`; a BAD_REQUEST naming the known ones otherwise. */
export function pixelMethod(name: string): PixelMethod {
  const method = PIXEL_METHOD_LIST.find((m) => m.name === name)
  if (!method) throw new ConvscopeError('BAD_REQUEST', `Unknown pixel method "${name}"; known: ${PIXEL_METHOD_NAMES.join(', ')}`)
  return method
}
