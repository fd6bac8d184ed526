/** The dataset loop's image load: a file into the network's input, or why it is skipped. */
import { ConvscopeError, type Preprocessing } from '../../../shared/api'
import type { ModelInput } from '../images/preprocess'
import { readModelInput } from '../images/readImage'
import { Skip } from './datasetLoop'

export interface DecodedImage {
  input: ModelInput
  /** The file's own size, before preprocessing. */
  width: number
  height: number
}

/** Why a file could not be read: "missing" for a file gone since the listing, else the reader's message. */
export function skipReason(path: string, e: unknown): string {
  if (e instanceof ConvscopeError) return e.code === 'NOT_FOUND' ? 'missing' : e.message
  return `${path} could not be read: ${(e as Error)?.message ?? String(e)}`
}

/** Read and preprocess one image (readModelInput: the bytes of toModelInput(readImage(path))). */
export async function decodeImage(path: string, preprocessing: Preprocessing): Promise<DecodedImage | Skip> {
  try {
    const { input, width, height } = await readModelInput(path, preprocessing)
    return { input, width, height }
  } catch (e) {
    return new Skip(skipReason(path, e))
  }
}
