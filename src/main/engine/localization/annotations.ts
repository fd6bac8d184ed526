/**
 * Ground-truth boxes from PASCAL VOC / ILSVRC annotation XML, found for each image of a dataset and
 * mapped onto the model's classes.
 *
 * Format: <annotation> with an optional <size><width>/<height>, and any number of <object>s, each with a
 * <name> (a class id such as an ImageNet WordNet id, or a class name) and a <bndbox> of xmin / ymin / xmax /
 * ymax, plus the optional <difficult>, <truncated>, <pose>. Other elements are ignored. Coordinates are read
 * as 0-based inclusive pixel indices (the demo dataset's convention, see boxes.ts); `firstPixel: 1` reads
 * files that number pixels from 1 (PASCAL VOC). Boxes are clipped to <size> when it is given.
 *
 * Where the XML of an image is (first that exists), with DIR the annotation folder:
 *   DIR/<image path relative to the data root, .xml>   (mirrored tree: the demo's annotations/val/<class>/)
 *   DIR/<image file stem>.xml                         (flat: ILSVRC2012 val's annotations/ILSVRC2012_val_*.xml)
 *   <image folder>/<image file stem>.xml              (next to the image)
 * Without --annotations, DIR is the first folder that exists of <data>/annotations,
 * <data>/../annotations/<data folder name> (the demo layout: val/ → annotations/val/) and <data>/../annotations.
 *
 * Object names are mapped to the model's output indices as class folders are (methods/classify.ts): WordNet
 * id of an ImageNet-style label map, label, or the dataset's classes.json. A name that maps to nothing keeps
 * its box with classIndex null (it can never be matched) and is reported.
 */
import { readFile, stat } from 'node:fs/promises'
import { basename, dirname, extname, join, resolve } from 'node:path'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { ConvscopeError, type ImageEntry } from '../../../shared/api'
import { mapClassFolders } from '../methods/classify'
import type { LoadedModel } from '../model'
import type { PixelBox } from './boxes'

export interface AnnotatedObject {
  /** <name> as written: a class id or a class name. */
  name: string
  /** The model's output index for it; null when it names no class of the model. */
  classIndex: number | null
  box: PixelBox
  difficult: boolean
  truncated: boolean
}

export interface Annotation {
  file: string
  /** <filename> and <size>, when given. */
  filename: string | null
  width: number | null
  height: number | null
  objects: AnnotatedObject[]
}

export interface ParseOptions {
  /** The index of the first pixel in the file: 0 (default; the demo dataset) or 1 (PASCAL VOC). */
  firstPixel?: 0 | 1
}

const parser = new XMLParser({
  // Numbers are converted here, where a bad one can be named; names such as "007" stay strings.
  parseTagValue: false,
  ignoreAttributes: true,
  trimValues: true,
  isArray: (name, path) => name === 'object' && path === 'annotation.object',
})

const bad = (file: string, problem: string) => new ConvscopeError('BAD_REQUEST', `Annotation ${file}: ${problem}`)

function text(node: unknown): string | null {
  if (node === undefined || node === null) return null
  if (typeof node === 'string' || typeof node === 'number') return String(node).trim()
  return null
}

function integer(node: unknown, what: string, file: string): number {
  const s = text(node)
  if (s === null || s === '') throw bad(file, `${what} is missing`)
  const v = Number(s)
  if (!Number.isFinite(v)) throw bad(file, `${what} is "${s}", not a number`)
  // Some tools write "12.0"; pixel indices are whole numbers, so round.
  return Math.round(v)
}

const flag = (node: unknown) => text(node) === '1' || text(node)?.toLowerCase() === 'true'

/** Parse one annotation file's text; class indices are left null (see resolveClasses). */
export function parseAnnotationXml(xml: string, file: string, options: ParseOptions = {}): Annotation {
  const valid = XMLValidator.validate(xml)
  if (valid !== true) throw bad(file, `not well-formed XML at line ${valid.err.line}, column ${valid.err.col}: ${valid.err.msg}`)
  const doc = parser.parse(xml) as Record<string, unknown>
  // <annotation/> (an image without objects) parses as ''.
  const root = doc.annotation === '' ? {} : doc.annotation
  if (typeof root !== 'object' || root === null) {
    const top = Object.keys(doc).filter((k) => !k.startsWith('?'))
    throw bad(file, `the root element is <${top[0] ?? 'nothing'}>, expected <annotation> (PASCAL VOC / ILSVRC layout)`)
  }
  const a = root as Record<string, unknown>
  const size = (typeof a.size === 'object' && a.size !== null ? a.size : {}) as Record<string, unknown>
  const width = size.width !== undefined ? integer(size.width, '<size><width>', file) : null
  const height = size.height !== undefined ? integer(size.height, '<size><height>', file) : null
  if ((width !== null && width <= 0) || (height !== null && height <= 0)) throw bad(file, `<size> is ${width}×${height}`)
  const shift = options.firstPixel ?? 0
  const objects = ((a.object ?? []) as unknown[]).map((node, i): AnnotatedObject => {
    const where = `<object> ${i + 1}`
    if (typeof node !== 'object' || node === null) throw bad(file, `${where} is empty`)
    const o = node as Record<string, unknown>
    const name = text(o.name)
    if (!name) throw bad(file, `${where} has no <name>`)
    const b = o.bndbox
    if (typeof b !== 'object' || b === null) throw bad(file, `${where} (${name}) has no <bndbox>`)
    const bb = b as Record<string, unknown>
    let xmin = integer(bb.xmin, `${where} <xmin>`, file) - shift
    let ymin = integer(bb.ymin, `${where} <ymin>`, file) - shift
    let xmax = integer(bb.xmax, `${where} <xmax>`, file) - shift
    let ymax = integer(bb.ymax, `${where} <ymax>`, file) - shift
    if (xmax < xmin || ymax < ymin) throw bad(file, `${where} (${name}) has an empty box: x ${xmin + shift}..${xmax + shift}, y ${ymin + shift}..${ymax + shift}`)
    if (width !== null) [xmin, xmax] = [Math.max(0, xmin), Math.min(width - 1, xmax)]
    if (height !== null) [ymin, ymax] = [Math.max(0, ymin), Math.min(height - 1, ymax)]
    if (xmax < xmin || ymax < ymin) throw bad(file, `${where} (${name}) lies outside the ${width}×${height} image`)
    return { name, classIndex: null, box: { xmin, ymin, xmax, ymax }, difficult: flag(o.difficult), truncated: flag(o.truncated) }
  })
  return { file, filename: text(a.filename), width, height, objects }
}

/** Read and parse one annotation file. */
export async function readAnnotation(file: string, options: ParseOptions = {}): Promise<Annotation> {
  let xml: string
  try {
    xml = await readFile(file, 'utf8')
  } catch (e) {
    throw bad(file, `cannot be read: ${(e as Error).message}`)
  }
  return parseAnnotationXml(xml, file, options)
}

/** Parsed files, each kept while its modification time and size stay the same (at most this many). */
const parsedFiles = new Map<string, { stamp: string; annotation: Promise<Annotation> }>()
const PARSED_FILES_KEPT = 10_000

/**
 * readAnnotation for files asked for again and again (the Classes view reads one image's annotation per call):
 * parsed once, read again when the file's modification time or size changes. Do not change the result: it is shared.
 */
export async function readAnnotationCached(file: string, options: ParseOptions = {}): Promise<Annotation> {
  const facts = await stat(file).catch(() => null)
  if (!facts) return readAnnotation(file, options) // its error names the file
  const stamp = `${facts.mtimeMs}:${facts.size}:${options.firstPixel ?? 0}`
  const kept = parsedFiles.get(file)
  if (kept?.stamp === stamp) return kept.annotation
  const annotation = readAnnotation(file, options)
  parsedFiles.delete(file) // re-inserted last: the oldest entry is the first to go
  parsedFiles.set(file, { stamp, annotation })
  if (parsedFiles.size > PARSED_FILES_KEPT) parsedFiles.delete(parsedFiles.keys().next().value!)
  annotation.catch(() => parsedFiles.get(file)?.annotation === annotation && parsedFiles.delete(file))
  return annotation
}

const isDir = async (p: string) => (await stat(p).catch(() => null))?.isDirectory() ?? false
const isFile = async (p: string) => (await stat(p).catch(() => null))?.isFile() ?? false

/** The annotation folder: `given` (must exist), else the first default place that exists, else null. */
export async function findAnnotationDir(dataRoot: string, given?: string): Promise<string | null> {
  if (given !== undefined) {
    const dir = resolve(given)
    if (!(await isDir(dir))) throw new ConvscopeError('NOT_FOUND', `Annotation folder ${dir} does not exist`)
    return dir
  }
  const root = resolve(dataRoot)
  const parent = dirname(root)
  for (const dir of [join(root, 'annotations'), join(parent, 'annotations', basename(root)), join(parent, 'annotations')]) {
    if (await isDir(dir)) return dir
  }
  return null
}

const stem = (file: string) => basename(file, extname(file))

/** Where the XML of `image` may be (see the file comment), in the order they are tried. */
export function annotationCandidates(dir: string | null, image: Pick<ImageEntry, 'path' | 'relPath'>): string[] {
  const mirrored = image.relPath.slice(0, image.relPath.length - extname(image.relPath).length) + '.xml'
  const own = join(dirname(image.path), `${stem(image.path)}.xml`)
  const list = dir ? [join(dir, ...mirrored.split('/')), join(dir, `${stem(image.path)}.xml`), own] : [own]
  return [...new Set(list)]
}

/** The first candidate file that exists, or null. */
export async function findAnnotation(dir: string | null, image: Pick<ImageEntry, 'path' | 'relPath'>): Promise<string | null> {
  for (const file of annotationCandidates(dir, image)) if (await isFile(file)) return file
  return null
}

export type ClassResolver = ReturnType<typeof classResolver>

/** Per model and data root: a resolver and the state of the classes.json files its lookups read. */
const resolvers = new WeakMap<LoadedModel, Map<string, { stamp: string; resolver: ClassResolver }>>()

/**
 * classResolver kept per model and data root for lookups that recur (one image's annotation per call), made
 * anew when a classes.json that mapClassFolders reads (in the root or its parent) appears, changes or goes.
 * Its `unknown` accumulates over every call: use classResolver where a job reports the names it could not map.
 */
export async function sharedClassResolver(model: LoadedModel, dataRoot: string): Promise<ClassResolver> {
  const root = resolve(dataRoot)
  const files = [join(root, 'classes.json'), join(dirname(root), 'classes.json')]
  const stamp = (await Promise.all(files.map((f) => stat(f).then((s) => `${s.mtimeMs}:${s.size}`, () => '-')))).join()
  let byRoot = resolvers.get(model)
  if (!byRoot) resolvers.set(model, (byRoot = new Map()))
  const kept = byRoot.get(root)
  if (kept?.stamp === stamp) return kept.resolver
  const resolver = classResolver(model, root)
  byRoot.set(root, { stamp, resolver })
  return resolver
}

/**
 * Object names → the model's output indices, looked up once per name (see the file comment). `unknown`
 * collects the names that map to nothing.
 */
export function classResolver(model: LoadedModel, dataRoot: string) {
  const cache = new Map<string, Promise<number | null>>()
  const unknown = new Set<string>()
  const lookup = async (name: string): Promise<number | null> => {
    try {
      return (await mapClassFolders(model, dataRoot, [name])).get(name)?.index ?? null
    } catch (e) {
      if (e instanceof ConvscopeError && e.code === 'BAD_REQUEST') {
        unknown.add(name)
        return null
      }
      throw e
    }
  }
  const index = (name: string): Promise<number | null> => {
    let hit = cache.get(name)
    if (!hit) cache.set(name, (hit = lookup(name)))
    return hit
  }
  /** The annotation with every object's classIndex filled in. */
  const resolveClasses = async (a: Annotation): Promise<Annotation> => ({
    ...a,
    objects: await Promise.all(a.objects.map(async (o) => ({ ...o, classIndex: await index(o.name) }))),
  })
  return { unknown, index, resolve: resolveClasses }
}
