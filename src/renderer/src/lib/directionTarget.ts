/**
 * Direction targets as a researcher types them (issue 12: "a direction in a layer", shared/api/neurons.ts Target):
 * Σ_k v_k · channel k of a layer, averaged over space. Three ways to give v, each a pure function here (tested
 * under node in test/unit/directionTarget.test.ts), the TargetPicker's form around them:
 * - weights per channel: "12:1, 40:-1" (channel:weight pairs, the others 0) or one weight per channel ("0.5, 0, -1, …");
 * - unit a − unit b: the difference of two channels (what drives one and not the other);
 * - a class's weights on the feature layer of a global-pooling head (getClassDirection, read by the engine).
 */

/** A vector, or why the text is not one. */
export type ParsedVector = { vector: number[]; error: null } | { vector: null; error: string }

const fail = (error: string): ParsedVector => ({ vector: null, error })

/**
 * "12:1, 40:-1" (pairs; a channel named twice adds up) or a full list of `channels` numbers, separated by commas,
 * semicolons or spaces. An all-zero vector is refused: it explains nothing.
 */
export function parseChannelWeights(text: string, channels: number): ParsedVector {
  const tokens = text.split(/[\s,;]+/).filter((t) => t !== '')
  if (tokens.length === 0) return fail(`type channel:weight pairs ("12:1, 40:-1") or ${channels} weights`)
  const pairs = tokens.filter((t) => t.includes(':'))
  let vector: number[]
  if (pairs.length === tokens.length) {
    vector = new Array<number>(channels).fill(0)
    for (const t of tokens) {
      const [k, w, extra] = t.split(':')
      const channel = Number(k)
      const weight = Number(w)
      if (extra !== undefined || k === '' || w === '' || !Number.isInteger(channel) || !Number.isFinite(weight)) return fail(`"${t}" is not channel:weight`)
      if (channel < 0 || channel >= channels) return fail(`channel ${channel} is not in 0 … ${channels - 1}`)
      vector[channel]! += weight
    }
  } else if (pairs.length > 0) {
    return fail('use channel:weight pairs for every entry, or a plain list of weights, not both')
  } else {
    if (tokens.length !== channels) return fail(`a list of weights needs one per channel: ${channels}, got ${tokens.length} (or use channel:weight pairs)`)
    vector = tokens.map(Number)
    const bad = tokens.find((t, i) => !Number.isFinite(vector[i]!))
    if (bad !== undefined) return fail(`"${bad}" is not a number`)
  }
  if (vector.every((v) => v === 0)) return fail('every weight is 0: the direction would explain nothing')
  return { vector, error: null }
}

/** e_a − e_b over `channels` channels: what drives unit a more than unit b. */
export function unitDifference(a: number, b: number, channels: number): ParsedVector {
  for (const k of [a, b]) if (!Number.isInteger(k) || k < 0 || k >= channels) return fail(`unit ${k} is not in 0 … ${channels - 1}`)
  if (a === b) return fail('unit a and unit b are the same: their difference is 0')
  const vector = new Array<number>(channels).fill(0)
  vector[a] = 1
  vector[b] = -1
  return { vector, error: null }
}

/** Short words for a vector: "12 (+1), 40 (−1)" for a sparse one, else the count of non-zero weights. */
export function describeVector(vector: readonly number[]): string {
  const nonZero = vector.flatMap((v, k) => (v !== 0 ? [[k, v] as const] : []))
  if (nonZero.length > 4) return `${nonZero.length} of ${vector.length} channels weighted`
  return nonZero.map(([k, v]) => `${k} (${v > 0 ? '+' : '−'}${Math.abs(v)})`).join(', ')
}
