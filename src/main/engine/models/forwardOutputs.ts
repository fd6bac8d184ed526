/**
 * What both model classes' forward shares: requested names mapped onto distinct outputs and back (a name asked
 * twice gets a clone, so the caller can dispose every result), and the shape check of a replaced layer's value.
 */
import type * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../../shared/api'

/** Map requested names onto distinct targets, so duplicates become clones and the caller can dispose each result. */
export function gather(names: string[], resolve: (name: string) => string): { unique: string[]; index: number[] } {
  const unique: string[] = []
  const index = names.map((n) => {
    const key = resolve(n)
    let i = unique.indexOf(key)
    if (i < 0) i = unique.push(key) - 1
    return i
  })
  return { unique, index }
}

export function scatter(results: tf.Tensor[], index: number[]): tf.Tensor[] {
  const used = new Set<number>()
  return index.map((i) => {
    if (!used.has(i)) {
      used.add(i)
      return results[i]!
    }
    return results[i]!.clone()
  })
}

/** A replacement must have the replaced layer's shape (where the model fixes it) and the input's batch size. */
export function checkReplacement(model: string, layer: string, expected: readonly (number | null | undefined)[], got: readonly number[], batch: number): void {
  const fits =
    got.length === expected.length && got[0] === batch && expected.every((d, i) => i === 0 || d === null || d === undefined || d < 0 || d === got[i])
  if (!fits) {
    const want = ['n', ...expected.slice(1).map((d) => (d === null || d === undefined || d < 0 ? 'any' : d))].join(', ')
    throw new ConvscopeError('BAD_REQUEST', `Model ${model}: the replacement for layer "${layer}" has shape [${got.join(', ')}]; it needs [${want}] with n = ${batch}, the input's batch`)
  }
}
