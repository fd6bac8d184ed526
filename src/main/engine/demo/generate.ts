/**
 * generateDemoDataset: writes the demo dataset as an ImageNet-style tree with VOC-style boxes and masks.
 *
 *   <out>/classes.json                          {"0": ["c00_striped_triangle", "striped triangle"], ...}
 *   <out>/labels.txt                            one human name per line, class order
 *   <out>/train/<class-id>/<cNN>_train_<i>.jpg  RGB JPEG, quality 90
 *   <out>/val/<class-id>/<cNN>_val_<i>.jpg
 *   <out>/annotations/<split>/<class-id>/<name>.xml   one <object> per object (see writers.ts)
 *   <out>/masks/<split>/<class-id>/<name>.png         0 = background, k = object k
 *   <out>/dataset.json, <out>/README.txt        settings, counts, classes and conventions
 *
 * Boxes are the tight boxes of the masks in 0-based inclusive pixel indices (BOX_CONVENTION).
 * Each image's randomness is derived from (seed, split, class id, index) alone, so the same options give
 * byte-identical files whatever the order, concurrency, sharding or resumption; a file that exists is
 * complete (atomic writes) and is not rewritten, so an interrupted run resumes where it stopped.
 * (Pixels depend only on this code and V8's Math; the JPEG and PNG bytes also on the sharp/libvips build.)
 */
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import sharp from 'sharp'
import { DEMO_CLASSES, type DemoClass } from './classes'
import { Rng } from '../rng'
import { renderScene, OBJECT_DIAMETER_RANGE } from './scene'
import { annotationXml, BOX_CONVENTION, classIndexJson, labelsTxt, MASK_CONVENTION } from './writers'
import { temporaryFileOwner, writeFileAtomic } from '../store/writeFileAtomic'

/** Bump when a change to the generator changes any pixel: it is part of every image's random stream. */
export const DEMO_GENERATOR_VERSION = 1
export const DEMO_JPEG_QUALITY = 90

export type DemoSplit = 'train' | 'val'

export interface DemoDatasetOptions {
  /** Output folder (created if needed). */
  out: string
  /**
   * Images per class. A number is the train count per class, and val gets a fifth of it (at least 1);
   * or give both. Default: 500 train + 100 val per class (14 classes: 7000 + 1400 images), enough for a
   * small CNN trained from scratch to pass 85–90% val top-1 without reaching 100%.
   */
  count?: number | { train?: number; val?: number }
  /** Image side in pixels (square images). Default 128; at least 32. */
  size?: number
  /** Default 0. */
  seed?: number
  /** Objects per image: a number, or an inclusive [min, max] range drawn per image. Default 1. */
  objectsPerImage?: number | readonly [number, number]
  /**
   * With several objects per image: 'same' (default) makes them all of the folder's class, like ILSVRC
   * localization; 'mixed' keeps the first of the folder's class and draws the others from all classes.
   */
  objectClasses?: 'same' | 'mixed'
  /** Use only the first n classes (for quick experiments and tests); images of a class do not depend on n unless objectClasses is 'mixed'. */
  classes?: number
  /** Only images whose running number ≡ index (mod count): lets several processes share one run. */
  shard?: { index: number; count: number }
  /** Images in flight at once (rendering overlaps sharp's encoding). Default 4. */
  concurrency?: number
  /** fsync every file before its rename (slower; protects against power loss, not just a killed process). */
  durable?: boolean
  onProgress?: (done: number, total: number) => void
  signal?: AbortSignal
}

export interface DemoClassSummary {
  index: number
  id: string
  name: string
  shape: string
  pattern: string
}

export interface DemoDatasetSummary {
  out: string
  generator: 'convscope-demo'
  version: number
  seed: number
  size: number
  objectsPerImage: readonly [number, number]
  objectClasses: 'same' | 'mixed'
  classes: DemoClassSummary[]
  /** Images per class and in all, per split. */
  splits: Record<DemoSplit, { perClass: number; images: number }>
  /** Images in this run's share (all of them unless sharded). */
  images: number
  /** Images rendered by this run (some or all of their files were missing). */
  rendered: number
  /** Images whose three files were already there. */
  skipped: number
  /** Files written by this run (images, masks, annotations). */
  filesWritten: number
  boxConvention: string
  maskConvention: string
  seconds: number
}

interface Task {
  split: DemoSplit
  cls: DemoClass
  index: number
}

function imageBaseName(task: Task): string {
  return `c${String(task.cls.index).padStart(2, '0')}_${task.split}_${String(task.index).padStart(5, '0')}`
}

function resolveCounts(count: DemoDatasetOptions['count']): Record<DemoSplit, number> {
  if (count === undefined) return { train: 500, val: 100 }
  if (typeof count === 'number') return { train: count, val: Math.max(1, Math.round(count / 5)) }
  return { train: count.train ?? 500, val: count.val ?? 100 }
}

function checkInteger(name: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${name} must be an integer in [${lo}, ${hi}], got ${v}`)
}

/** The objects' classes of one image, drawn from its own stream. */
function objectClassesFor(rng: Rng, task: Task, range: readonly [number, number], mode: 'same' | 'mixed', classes: readonly DemoClass[]): DemoClass[] {
  const n = rng.intIn(range[0], range[1])
  const out = [task.cls]
  for (let k = 1; k < n; k++) out.push(mode === 'same' ? task.cls : rng.pick(classes))
  return out
}

/**
 * Names present in a folder, listed once per folder (resuming checks thousands of files). Temp files
 * left by a killed run (writeFileAtomic's, of a process that no longer exists) are removed on the way.
 */
class FolderListing {
  private readonly cache = new Map<string, Promise<Set<string>>>()

  has(dir: string, name: string): Promise<boolean> {
    let listing = this.cache.get(dir)
    if (!listing) {
      listing = readdir(dir).then(
        async (names) => {
          for (const n of names) {
            const pid = temporaryFileOwner(n)
            if (pid !== null && !processAlive(pid)) await unlink(join(dir, n)).catch(() => {})
          }
          return new Set(names)
        },
        () => new Set<string>(),
      )
      this.cache.set(dir, listing)
    }
    return listing.then((s) => s.has(name))
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' // exists, owned by someone else
  }
}

export async function generateDemoDataset(options: DemoDatasetOptions): Promise<DemoDatasetSummary> {
  const started = performance.now()
  const size = options.size ?? 128
  const seed = options.seed ?? 0
  const counts = resolveCounts(options.count)
  const perImage: readonly [number, number] =
    typeof options.objectsPerImage === 'number' ? [options.objectsPerImage, options.objectsPerImage] : (options.objectsPerImage ?? [1, 1])
  const mode = options.objectClasses ?? 'same'
  const classes = DEMO_CLASSES.slice(0, options.classes ?? DEMO_CLASSES.length)
  const concurrency = options.concurrency ?? 4
  const shard = options.shard ?? { index: 0, count: 1 }
  checkInteger('size', size, 32, 2048)
  checkInteger('seed', seed, -(2 ** 31), 2 ** 32 - 1)
  checkInteger('count.train', counts.train, 0, 1_000_000)
  checkInteger('count.val', counts.val, 0, 1_000_000)
  checkInteger('objectsPerImage (min)', perImage[0], 1, 8)
  checkInteger('objectsPerImage (max)', perImage[1], perImage[0], 8)
  checkInteger('classes', classes.length, 1, DEMO_CLASSES.length)
  checkInteger('concurrency', concurrency, 1, 64)
  checkInteger('shard.count', shard.count, 1, 1_000_000)
  checkInteger('shard.index', shard.index, 0, shard.count - 1)
  options.signal?.throwIfAborted()

  const { out } = options
  const classSummaries = classes.map((c): DemoClassSummary => ({ index: c.index, id: c.id, name: c.name, shape: c.shape, pattern: c.pattern }))
  const splits = {
    train: { perClass: counts.train, images: counts.train * classes.length },
    val: { perClass: counts.val, images: counts.val * classes.length },
  }
  // dataset.json holds only what the options decide, so it too is byte-identical between runs; written
  // first, it also tells a later resume which settings made the files already there.
  const description = {
    generator: 'convscope-demo' as const,
    version: DEMO_GENERATOR_VERSION,
    seed,
    size,
    objectsPerImage: perImage,
    objectClasses: mode,
    objectDiameter: OBJECT_DIAMETER_RANGE,
    jpegQuality: DEMO_JPEG_QUALITY,
    classes: classSummaries,
    splits,
    layout: {
      images: '<split>/<class-id>/<cNN>_<split>_<index>.jpg',
      annotations: 'annotations/<split>/<class-id>/<cNN>_<split>_<index>.xml',
      masks: 'masks/<split>/<class-id>/<cNN>_<split>_<index>.png',
      classIndex: 'classes.json',
      labels: 'labels.txt',
    },
    boxConvention: BOX_CONVENTION,
    maskConvention: MASK_CONVENTION,
  }
  await checkSameIdentity(join(out, 'dataset.json'), description)
  await writeFileAtomic(join(out, 'dataset.json'), `${JSON.stringify(description, null, 2)}\n`)
  await writeFileAtomic(join(out, 'README.txt'), readme(description.size, classes, splits))
  await writeFileAtomic(join(out, 'classes.json'), classIndexJson(classes))
  await writeFileAtomic(join(out, 'labels.txt'), labelsTxt(classes))

  const all: Task[] = []
  for (const split of ['train', 'val'] as const) {
    for (const cls of classes) for (let index = 0; index < counts[split]; index++) all.push({ split, cls, index })
  }
  const tasks = all.filter((_, i) => i % shard.count === shard.index)
  // Make every folder once up front, not once per file.
  for (const split of ['train', 'val'] as const) {
    if (counts[split] === 0) continue
    for (const cls of classes) {
      for (const dir of [join(out, split, cls.id), join(out, 'masks', split, cls.id), join(out, 'annotations', split, cls.id)]) await mkdir(dir, { recursive: true })
    }
  }
  const writeOptions = { durable: options.durable ?? false, makeDir: false }
  const listing = new FolderListing()
  let done = 0
  let rendered = 0
  let skipped = 0
  let filesWritten = 0

  const runTask = async (task: Task): Promise<void> => {
    const base = imageBaseName(task)
    const files = {
      image: { dir: join(out, task.split, task.cls.id), name: `${base}.jpg` },
      mask: { dir: join(out, 'masks', task.split, task.cls.id), name: `${base}.png` },
      annotation: { dir: join(out, 'annotations', task.split, task.cls.id), name: `${base}.xml` },
    }
    const missing = {
      image: !(await listing.has(files.image.dir, files.image.name)),
      mask: !(await listing.has(files.mask.dir, files.mask.name)),
      annotation: !(await listing.has(files.annotation.dir, files.annotation.name)),
    }
    if (!missing.image && !missing.mask && !missing.annotation) {
      skipped++
      return
    }
    const rng = Rng.from('convscope-demo', DEMO_GENERATOR_VERSION, seed, task.split, task.cls.id, task.index)
    const objectClasses = objectClassesFor(rng, task, perImage, mode, classes)
    const scene = renderScene(rng, size, objectClasses)
    const raw = { width: scene.width, height: scene.height }
    const writes: Promise<void>[] = []
    if (missing.image) {
      const encoded = sharp(scene.rgb, { raw: { ...raw, channels: 3 } })
        .jpeg({ quality: DEMO_JPEG_QUALITY })
        .toBuffer()
      writes.push(encoded.then((jpeg) => writeFileAtomic(join(files.image.dir, files.image.name), jpeg, writeOptions)))
    }
    if (missing.mask) {
      // Keep one 8-bit grey channel: sharp would otherwise widen the output to sRGB.
      const encoded = sharp(scene.mask, { raw: { ...raw, channels: 1 } })
        .toColourspace('b-w')
        .png({ compressionLevel: 6 })
        .toBuffer()
      writes.push(encoded.then((png) => writeFileAtomic(join(files.mask.dir, files.mask.name), png, writeOptions)))
    }
    if (missing.annotation) {
      const xml = annotationXml({ folder: task.cls.id, filename: files.image.name, ...raw, objects: scene.objects, classes })
      writes.push(writeFileAtomic(join(files.annotation.dir, files.annotation.name), xml, writeOptions))
    }
    await Promise.all(writes)
    filesWritten += writes.length
    rendered++
  }

  let next = 0
  let failed = false
  const worker = async (): Promise<void> => {
    while (next < tasks.length && !failed) {
      options.signal?.throwIfAborted()
      const task = tasks[next++]!
      await runTask(task)
      done++
      options.onProgress?.(done, tasks.length)
    }
  }
  const workers = Array.from({ length: Math.min(concurrency, Math.max(1, tasks.length)) }, () =>
    worker().catch((e: unknown) => {
      failed = true
      throw e
    }),
  )
  // Let every worker finish its image before reporting a failure or an abort: nothing writes after we return.
  const settled = await Promise.allSettled(workers)
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (failure) throw failure.reason

  return {
    out,
    generator: description.generator,
    version: description.version,
    seed,
    size,
    objectsPerImage: perImage,
    objectClasses: mode,
    classes: classSummaries,
    splits,
    images: tasks.length,
    rendered,
    skipped,
    filesWritten,
    boxConvention: BOX_CONVENTION,
    maskConvention: MASK_CONVENTION,
    seconds: (performance.now() - started) / 1000,
  }
}

/**
 * Resuming into a folder made with other settings would mix two datasets: refuse. Counts and the number
 * of classes may change (that extends or trims the set), unless mixed-class scenes draw from the classes.
 */
async function checkSameIdentity(path: string, next: { generator: string; version: number; seed: number; size: number; objectsPerImage: readonly [number, number]; objectClasses: string; classes: readonly unknown[] }): Promise<void> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    return // a new folder
  }
  const prev = JSON.parse(text) as Partial<typeof next>
  const key = (d: Partial<typeof next>): string =>
    JSON.stringify([d.generator, d.version, d.seed, d.size, d.objectsPerImage, d.objectClasses, d.objectClasses === 'mixed' ? d.classes?.length : 0])
  if (key(prev) !== key(next)) {
    throw new Error(`${path} describes a demo dataset made with other settings (${key(prev)}, now ${key(next)}): use another folder or delete this one`)
  }
}

function readme(size: number, classes: readonly DemoClass[], splits: Record<DemoSplit, { perClass: number }>): string {
  return [
    'convscope demo dataset (synthetic; generated by src/main/engine/demo)',
    '',
    `${classes.length} classes, ${size}x${size} RGB JPEG (quality ${DEMO_JPEG_QUALITY}), ${splits.train.perClass} train + ${splits.val.perClass} val images per class.`,
    'Layout: <split>/<class-id>/*.jpg (ImageNet style), classes.json (imagenet_class_index.json layout), labels.txt,',
    'annotations/<split>/<class-id>/*.xml (PASCAL VOC / ILSVRC style), masks/<split>/<class-id>/*.png.',
    '',
    `Boxes: ${BOX_CONVENTION}`,
    `Masks: ${MASK_CONVENTION}`,
    '',
    'Classes:',
    ...classes.map((c) => `  ${c.index}\t${c.id}\t${c.name}`),
    '',
  ].join('\n')
}
