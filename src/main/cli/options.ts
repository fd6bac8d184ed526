/**
 * Number options shared by the commands: one parser each, so every command refuses a bad value with the same
 * kind of message naming the flag (BAD_REQUEST: the CLI prints it and exits 2).
 */
import { ConvscopeError } from '../../shared/api'

/** A whole number ≥ min; undefined when the option is absent. */
export function wholeNumberOption(text: string | undefined, flag: string, min = 1): number | undefined {
  if (text === undefined) return undefined
  const n = Number(text)
  if (!Number.isInteger(n) || n < min) throw new ConvscopeError('BAD_REQUEST', `${flag} must be a whole number ≥ ${min}, got "${text}"`)
  return n
}

/** A fraction strictly between 0 and 1 (a map threshold). */
export function fractionOption(text: string, flag: string): number {
  const n = Number(text)
  if (!(n > 0 && n < 1)) throw new ConvscopeError('BAD_REQUEST', `${flag} must be a fraction between 0 and 1, got "${text}"`)
  return n
}
