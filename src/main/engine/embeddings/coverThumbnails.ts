/**
 * Images made into side × side RGB tiles for the figures of the representation space (the image grid and the
 * thumbnail map): decoded and cover-resized by sharp (libuv's thread pool), a few at a time so that memory stays
 * at a handful of decoded images whatever the count.
 */
import sharp from 'sharp'
import { throwIfCancelled, type JobContext } from '../context'

/** Images decoded at once: enough to keep libuv's 4 threads busy. */
const IN_FLIGHT = 8

/** One image as a side × side × 3 RGB tile (cover: scaled to fill, centre-cropped; alpha flattened on white); null when unreadable. */
export async function coverTile(path: string, side: number): Promise<Uint8Array | null> {
  try {
    const data = await sharp(path, { failOn: 'error' })
      .rotate()
      .resize(side, side, { fit: 'cover', position: 'centre' })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer()
    return data.length === side * side * 3 ? new Uint8Array(data.buffer, data.byteOffset, data.length) : null
  } catch {
    return null
  }
}

/**
 * Calls `use(k, tile)` for every k of `order` (tile null when the image at paths[k] could not be read), in the
 * order given, with at most IN_FLIGHT images decoded ahead.
 */
export async function forEachCoverTile(
  paths: readonly string[],
  order: readonly number[],
  side: number,
  use: (k: number, tile: Uint8Array | null) => void,
  ctx?: JobContext,
): Promise<void> {
  for (let start = 0; start < order.length; start += IN_FLIGHT) {
    if (ctx) throwIfCancelled(ctx)
    const chunk = order.slice(start, start + IN_FLIGHT)
    const tiles = await Promise.all(chunk.map((k) => coverTile(paths[k]!, side)))
    chunk.forEach((k, i) => use(k, tiles[i]!))
  }
}

/** Copy a w × h × 3 tile into an RGB canvas `width` pixels wide at (left, top), clipped to the canvas. */
export function pasteRgb(canvas: Uint8Array, width: number, height: number, tile: Uint8Array, w: number, h: number, left: number, top: number): void {
  const x0 = Math.max(0, left)
  const x1 = Math.min(width, left + w)
  if (x1 <= x0) return
  for (let y = Math.max(0, top); y < Math.min(height, top + h); y++) {
    const from = ((y - top) * w + (x0 - left)) * 3
    canvas.set(tile.subarray(from, from + (x1 - x0) * 3), (y * width + x0) * 3)
  }
}

/** '#rrggbb' → [r, g, b]. */
export function hexRgb(hex: string): [number, number, number] {
  return [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)]
}
