/**
 * Image names for narrow lists: the part that tells images apart. In ImageNet's val folder every file
 * starts "ILSVRC2012_val_000…", so a list cut to its width shows the same text on every row (issue 9).
 */

/** Shared prefixes shorter than this are kept: cutting "c" off "c00_val_1.jpg" helps nobody. */
const MIN_PREFIX = 4

/**
 * The prefix every name starts with, cut back to just after its last separator (_ - . space or /) so
 * that what remains starts a word, and kept ("") when shorter than MIN_PREFIX or when it is a whole name.
 */
export function commonNamePrefix(names: readonly string[]): string {
  if (names.length < 2) return ''
  let prefix = names[0]!
  for (const name of names) {
    let i = 0
    while (i < prefix.length && i < name.length && prefix[i] === name[i]) i++
    prefix = prefix.slice(0, i)
    if (!prefix) return ''
  }
  const cut = Math.max(...['_', '-', '.', ' ', '/'].map((sep) => prefix.lastIndexOf(sep))) + 1
  prefix = prefix.slice(0, cut)
  return prefix.length >= MIN_PREFIX && !names.includes(prefix) ? prefix : ''
}

/** `name` without the shared `prefix`, marked with an ellipsis where something was cut. */
export const withoutPrefix = (name: string, prefix: string): string => (prefix && name.startsWith(prefix) ? `…${name.slice(prefix.length)}` : name)
