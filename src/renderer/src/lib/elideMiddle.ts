/**
 * Long layer names (PyTorch scopes, TF graph paths: up to 200 characters) shortened in the middle, because
 * both ends identify a layer: the start says where in the network, the end which node ("layer3.1.dow…ample.0").
 * Pure (no DOM), so node tests cover it.
 */

export const ELLIPSIS = '…'

/** Characters of a layer name in the views' layer drop-downs and chips, so a long name cannot push a toolbar apart. */
export const LAYER_OPTION_CHARS = 48

/**
 * `name` cut to at most `max` characters (code points) by replacing its middle with "…"; the end keeps the
 * extra character when the kept part is odd. Names that fit are returned as they are.
 */
export function elideMiddle(name: string, max: number): string {
  const chars = Array.from(name)
  if (chars.length <= max) return name
  if (max < 3) return chars.slice(0, Math.max(0, max)).join('')
  const kept = max - 1
  const head = Math.floor(kept / 2)
  const tail = kept - head
  return chars.slice(0, head).join('') + ELLIPSIS + chars.slice(chars.length - tail).join('')
}
