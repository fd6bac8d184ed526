/**
 * Listing the images under a folder: flat folders, nested folders and ImageNet-style trees
 * (root/<class>/.../*.jpg), in a deterministic order so that every run and every machine sees the same list.
 *
 * A folder is a class tree when it holds no images directly and at least one sub-folder does; then each
 * image's class is the first path component below the root. Otherwise classes are null.
 */
import { readdir, realpath, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { ConvscopeError, type ImageEntry, type ImageFolder } from '../../../shared/api'

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp'])

export function isImageFileName(name: string): boolean {
  const dot = name.lastIndexOf('.')
  return dot > 0 && IMAGE_EXTENSIONS.has(name.slice(dot).toLowerCase())
}

// Code-unit order, not localeCompare: the same on every machine and locale.
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

async function anyImageFile(dir: string, names: string[]): Promise<boolean> {
  for (const name of names) {
    if (isImageFileName(name) && (await stat(join(dir, name)).catch(() => null))?.isFile()) return true
  }
  return false
}

interface Found {
  relPath: string
  path: string
}

export async function listImageFolder(root: string, limit: number = 5000): Promise<ImageFolder> {
  const abs = resolve(root)
  try {
    const s = await stat(abs)
    if (!s.isDirectory()) throw new ConvscopeError('BAD_REQUEST', `${abs} is a file, not a folder of images`)
  } catch (e) {
    if (e instanceof ConvscopeError) throw e
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ConvscopeError('NOT_FOUND', `Folder ${abs} does not exist`)
    throw new ConvscopeError('BAD_REQUEST', `Folder ${abs} cannot be read: ${(e as Error).message}`)
  }

  const found: Found[] = []
  let truncated = false
  let rootHasImages = false
  const visited = new Set<string>() // real paths of folders seen, so symlink loops end

  const walk = async (dir: string, rel: string): Promise<void> => {
    const real = await realpath(dir).catch(() => dir)
    if (visited.has(real)) return
    visited.add(real)
    let names: string[]
    try {
      names = (await readdir(dir)).filter((n) => !n.startsWith('.')).sort(byName)
    } catch (e) {
      if (rel === '') throw new ConvscopeError('BAD_REQUEST', `Folder ${dir} cannot be read: ${(e as Error).message}`)
      return // an unreadable sub-folder is skipped, not fatal
    }
    if (rel === '') rootHasImages = await anyImageFile(dir, names)
    for (const name of names) {
      if (truncated) return
      const path = join(dir, name)
      const relPath = rel ? `${rel}/${name}` : name
      // stat, not lstat: follow symlinks to files and folders.
      const s = await stat(path).catch(() => null)
      if (!s) continue
      if (s.isDirectory()) {
        await walk(path, relPath)
      } else if (s.isFile() && isImageFileName(name)) {
        if (found.length >= limit) {
          truncated = true
          return
        }
        found.push({ relPath, path })
      }
    }
  }
  await walk(abs, '')

  // Decided from the root's own listing, so it holds even when the walk stopped early.
  const tree = !rootHasImages && found.length > 0
  const images: ImageEntry[] = found.map((f) => ({ ...f, className: tree ? f.relPath.slice(0, f.relPath.indexOf('/')) : null }))
  const classes = tree ? [...new Set(images.map((i) => i.className!))] : []
  return { root: abs, images, classes, truncated }
}
