import { realpath, stat } from 'node:fs/promises'
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { ConvscopeError } from '../../shared/api'

/**
 * The folders whose files the window may read (images through the image protocol or /file): the
 * workspace and every model or image folder the user opened. Anything else is FORBIDDEN.
 *
 * Roots and asked-for paths are compared as real paths, so neither `..` segments nor a symlink inside
 * a root that points outside it get through. Listing folder *names* (browse) is allowed everywhere: it
 * is how a served-mode user picks a folder, and it never returns file contents.
 */
export class AllowedRoots {
  private readonly realRoots = new Set<string>()

  private constructor() {}

  /** Roots start with the workspace. */
  static async create(workspace: string): Promise<AllowedRoots> {
    const roots = new AllowedRoots()
    await roots.add(workspace)
    return roots
  }

  /** Allow a folder and everything under it (a file's folder when given a file); returns the real path added. */
  async add(path: string): Promise<string> {
    let real = await realpath(checkedAbsolute(path))
    if (!(await stat(real)).isDirectory()) real = dirname(real)
    this.realRoots.add(real)
    return real
  }

  list(): string[] {
    return [...this.realRoots]
  }

  /**
   * The real path of `path` if it lies inside an allowed root; throws FORBIDDEN otherwise (also for a
   * path that does not exist outside the roots: existence outside them is not ours to reveal), and
   * NOT_FOUND for a missing path inside a root. Open the returned real path, not the one asked for.
   */
  async assertAllowed(path: string): Promise<string> {
    const absolute = checkedAbsolute(path)
    const { real, exists } = await realPathOf(absolute)
    if (![...this.realRoots].some((root) => isInside(real, root))) {
      throw new ConvscopeError('FORBIDDEN', `${path} is outside the folders you opened`)
    }
    if (!exists) throw new ConvscopeError('NOT_FOUND', `${path} does not exist`)
    return real
  }
}

function checkedAbsolute(path: string): string {
  if (path.includes('\0')) throw new ConvscopeError('BAD_REQUEST', 'A path may not contain NUL characters')
  if (!isAbsolute(path)) throw new ConvscopeError('BAD_REQUEST', `Expected an absolute path, got ${JSON.stringify(path)}`)
  return resolve(path)
}

/** Real path of an absolute path; for a missing one, the real path of its nearest existing ancestor plus the rest. */
async function realPathOf(absolute: string): Promise<{ real: string; exists: boolean }> {
  const missing: string[] = []
  for (let current = absolute; ; current = dirname(current)) {
    try {
      const real = await realpath(current)
      return { real: missing.length ? join(real, ...missing.reverse()) : real, exists: missing.length === 0 }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(current) === current) throw error
      missing.push(basename(current))
    }
  }
}

/** Whether `path` is `root` or below it (both absolute and normalised). */
export function isInside(path: string, root: string): boolean {
  const rel = relative(root, path)
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + sep) && !isAbsolute(rel))
}

const IMAGE_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.bmp': 'image/bmp',
  '.avif': 'image/avif',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
}

/** Content type of a raster image file by its extension; null for anything else (SVG included: it can carry scripts). */
export function imageContentType(path: string): string | null {
  return IMAGE_TYPES[extname(path).toLowerCase()] ?? null
}
