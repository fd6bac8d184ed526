/**
 * Datasets given as a file list (issue 4: "ImageNet-style trees, flat folders, nested folders, or a file
 * list"): a text file with one image path per line, relative to the list file's folder or absolute, and an
 * optional second column after a TAB with the image's class name. Blank lines and lines starting with `#`
 * are ignored; Windows line ends are accepted.
 *
 * The result has the same shape as listImageFolder's (root = the list file's folder), so scans, their
 * dataset identity (paths, sizes, modification times) and resuming work the same. The order is the list's
 * order. Files are not checked here: a listed file that does not exist is skipped by the scan ("missing"),
 * not a failure of the listing.
 */
import { readFile, stat } from 'node:fs/promises'
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path'
import { ConvscopeError, type ImageEntry, type ImageFolder } from '../../../shared/api'
import { listImageFolder } from './imageFolder'

/** Parse the text of a file list; `listFile` is its absolute path (for messages and relative paths). */
export function parseImageList(text: string, listFile: string, limit: number = Number.MAX_SAFE_INTEGER): ImageFolder {
  const root = dirname(listFile)
  const images: ImageEntry[] = []
  const lineOf = new Map<string, number>()
  let truncated = false
  const lines = text.split('\n')
  for (const [i, raw] of lines.entries()) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    const where = `${listFile} line ${i + 1}`
    const columns = line.split('\t')
    if (columns.length > 2) throw new ConvscopeError('BAD_REQUEST', `${where}: ${columns.length} tab-separated columns; a line is a path, optionally followed by a tab and a class name`)
    const file = columns[0]!.trim()
    const className = columns.length === 2 ? columns[1]!.trim() || null : null
    if (file === '') throw new ConvscopeError('BAD_REQUEST', `${where}: no path before the tab`)
    const path = isAbsolute(file) ? resolve(file) : resolve(root, file)
    const earlier = lineOf.get(path)
    if (earlier !== undefined) throw new ConvscopeError('BAD_REQUEST', `${where}: ${file} is listed already on line ${earlier}`)
    if (images.length >= limit) {
      truncated = true
      break
    }
    lineOf.set(path, i + 1)
    images.push({ path, relPath: relative(root, path).split(sep).join('/'), className })
  }
  const classes = [...new Set(images.map((i) => i.className).filter((c): c is string => c !== null))]
  return { root, images, classes, truncated }
}

/** Read the file list at `listFile`. */
export async function listImageFile(listFile: string, limit: number = 5000): Promise<ImageFolder> {
  const abs = resolve(listFile)
  const text = await readFile(abs, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') throw new ConvscopeError('NOT_FOUND', `File list ${abs} does not exist`)
    throw new ConvscopeError('BAD_REQUEST', `File list ${abs} cannot be read: ${e.message}`)
  })
  if (text.includes('\0')) throw new ConvscopeError('BAD_REQUEST', `${abs} is not a text file list of image paths (it holds NUL bytes)`)
  return parseImageList(text, abs, limit)
}

/** A dataset named on the command line: a folder of images (listImageFolder) or a file list (listImageFile). */
export async function listDataset(path: string, limit: number = 5000): Promise<ImageFolder> {
  const abs = resolve(path)
  const s = await stat(abs).catch(() => null)
  return s?.isFile() ? listImageFile(abs, limit) : listImageFolder(abs, limit)
}
