/**
 * A labelled image split held in memory for training: every image decoded once, with exactly the reading
 * and resizing the engine uses at inference (readImage → resizeForModel), kept as 8-bit RGB; batches are
 * normalised with the engine's own `normalize`. So training, evaluation here and `convscope classify`
 * later see byte-identical network inputs.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Preprocessing } from '../../shared/api'
import { listImageFolder } from '../engine/images/imageFolder'
import { normalize, resizeForModel } from '../engine/images/preprocess'
import { readImage } from '../engine/images/readImage'

export interface InMemorySplit {
  /** n × side × side × 3 bytes, image after image. */
  pixels: Uint8Array
  labels: Int32Array
  paths: string[]
  count: number
  side: number
}

/** The class index of a demo-style dataset: classes.json `{"0": [folder id, name], ...}`. */
export interface ClassIndex {
  ids: string[]
  names: string[]
}

export async function readClassIndex(root: string): Promise<ClassIndex> {
  const map = JSON.parse(await readFile(join(root, 'classes.json'), 'utf8')) as Record<string, [string, string]>
  const n = Object.keys(map).length
  const ids: string[] = []
  const names: string[] = []
  for (let i = 0; i < n; i++) {
    const entry = map[String(i)]
    if (!entry) throw new Error(`${join(root, 'classes.json')} has no entry ${i}`)
    ids.push(entry[0])
    names.push(entry[1])
  }
  return { ids, names }
}

/**
 * Decode every image of `<root>/<split>/<class id>/*` to the model's input size. Labels come from the
 * class index (folder id → its position). `onProgress(done, total)` is called as images finish.
 */
export async function loadSplit(
  root: string,
  split: string,
  classes: ClassIndex,
  pre: Pick<Preprocessing, 'inputSize' | 'resize'>,
  options: {
    /** Keep only the first n images of each class (file names sort in index order): a folder may hold more. */
    perClass?: number
    concurrency?: number
    onProgress?: (done: number, total: number) => void
  } = {},
): Promise<InMemorySplit> {
  const [h, w] = pre.inputSize
  if (h !== w) throw new RangeError(`training expects a square input, got ${h}×${w}`)
  const folder = await listImageFolder(join(root, split), Number.MAX_SAFE_INTEGER)
  const index = new Map(classes.ids.map((id, i) => [id, i]))
  const seen = new Map<string, number>()
  const listed = folder.images.filter((img) => {
    const n = (seen.get(img.className ?? '') ?? 0) + 1
    seen.set(img.className ?? '', n)
    return options.perClass === undefined || n <= options.perClass
  })
  const images = listed.map((img) => {
    const label = img.className === null ? undefined : index.get(img.className)
    if (label === undefined) throw new Error(`${img.path}: folder "${img.className}" is not a class of ${join(root, 'classes.json')}`)
    return { path: img.path, label }
  })
  const bytes = h * w * 3
  const pixels = new Uint8Array(images.length * bytes)
  const labels = Int32Array.from(images, (i) => i.label)
  let next = 0
  let done = 0
  // sharp decodes on libuv's thread pool: a few images in flight keep it busy.
  const worker = async () => {
    while (next < images.length) {
      const i = next++
      const decoded = await readImage(images[i]!.path)
      const { rgb } = await resizeForModel(decoded, pre)
      pixels.set(rgb, i * bytes)
      options.onProgress?.(++done, images.length)
    }
  }
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker))
  return { pixels, labels, paths: images.map((i) => i.path), count: images.length, side: h }
}

export interface Augmentation {
  /** Mirror left-right with probability 1/2. */
  flip: boolean
  /** Shift by up to this many pixels in x and y, edges replicated. */
  shift: number
}

/** Draws for one image: flip, dx, dy. */
export interface AugmentDraw {
  flip: boolean
  dx: number
  dy: number
}

/**
 * Copy image `i` of the split into `out` (side × side × 3 bytes), shifted and mirrored as drawn. Pure JS on
 * bytes, so the result does not depend on the backend.
 */
export function augmentInto(split: InMemorySplit, i: number, draw: AugmentDraw, out: Uint8Array): void {
  const s = split.side
  const src = split.pixels.subarray(i * s * s * 3, (i + 1) * s * s * 3)
  const last = s - 1
  for (let y = 0; y < s; y++) {
    const sy = Math.min(last, Math.max(0, y + draw.dy))
    for (let x = 0; x < s; x++) {
      let sx = Math.min(last, Math.max(0, x + draw.dx))
      if (draw.flip) sx = last - sx
      const o = (y * s + x) * 3
      const p = (sy * s + sx) * 3
      out[o] = src[p]!
      out[o + 1] = src[p + 1]!
      out[o + 2] = src[p + 2]!
    }
  }
}

/**
 * A batch as the network's input: the images at `indices` (augmented with `draws`, if given), normalised
 * exactly as the engine normalises at inference. Returns [n·side·side·3] floats.
 */
export function batchInput(split: InMemorySplit, indices: ArrayLike<number>, pre: Preprocessing, draws?: AugmentDraw[]): Float32Array {
  const bytes = split.side * split.side * 3
  const out = new Float32Array(indices.length * bytes)
  const scratch = new Uint8Array(bytes)
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!
    let rgb: Uint8Array
    if (draws) {
      augmentInto(split, i, draws[k]!, scratch)
      rgb = scratch
    } else {
      rgb = split.pixels.subarray(i * bytes, (i + 1) * bytes)
    }
    out.set(normalize(rgb, pre), k * bytes)
  }
  return out
}
