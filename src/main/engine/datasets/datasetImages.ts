/** The images a dataset pass goes over: every image of a folder (class tree or flat), or N spread over it. */
import { ConvscopeError, type ImageEntry, type ImageFolder } from '../../../shared/api'
import { listImageFolder } from '../images/imageFolder'

/** `limit` entries spread evenly over `list` (all of it when limit is absent or not smaller). */
export function spread<T>(list: readonly T[], limit?: number): T[] {
  if (limit === undefined || limit >= list.length) return [...list]
  return Array.from({ length: limit }, (_, i) => list[Math.floor((i * list.length) / limit)]!)
}

/**
 * Every image under `root` (BAD_REQUEST when there is none), and the ones to visit: all, or `limit` spread
 * evenly over the sorted list (so every class of a class tree).
 */
export async function datasetImages(root: string, limit?: number): Promise<{ folder: ImageFolder; entries: ImageEntry[] }> {
  const folder = await listImageFolder(root, Number.MAX_SAFE_INTEGER)
  if (folder.images.length === 0) throw new ConvscopeError('BAD_REQUEST', `${folder.root} holds no images (.jpg, .jpeg, .png, .webp)`)
  return { folder, entries: spread(folder.images, limit) }
}
