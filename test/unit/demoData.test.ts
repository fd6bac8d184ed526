import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { after, before, test } from 'node:test'
import sharp from 'sharp'
import { DEMO_CLASSES, DEMO_GENERATOR_VERSION, generateDemoDataset, renderScene, type DemoDatasetOptions } from '../../src/main/engine/demo'
import { Rng } from '../../src/main/engine/rng'
import { DISTRACTOR_COMBINATIONS } from '../../src/main/engine/demo/background'
import { isClassCombination } from '../../src/main/engine/demo/classes'

// ---------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------

const roots: string[] = []
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'convscope-demo-test-'))
  roots.push(dir)
  return dir
}
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true })
})

async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true })
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort()
}

async function hashes(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const f of await listFiles(root)) out.set(f, createHash('sha256').update(await readFile(join(root, f))).digest('hex'))
  return out
}

/** A minimal XML reader for the annotation files: elements, text and comments, no attributes. */
interface XmlNode {
  tag: string
  children: XmlNode[]
  text: string
}
function parseXml(xml: string): XmlNode {
  const root: XmlNode = { tag: '#root', children: [], text: '' }
  const stack = [root]
  const re = /<!--[\s\S]*?-->|<\/([A-Za-z_][\w.-]*)\s*>|<([A-Za-z_][\w.-]*)\s*(\/?)>|([^<]+)/g
  let m: RegExpExecArray | null
  let consumed = 0
  while ((m = re.exec(xml)) !== null) {
    assert.equal(m.index, consumed, `unparsed XML at ${consumed}: ${xml.slice(consumed, consumed + 20)}`)
    consumed = re.lastIndex
    const top = stack[stack.length - 1]!
    if (m[1]) {
      assert.equal(top.tag, m[1], `</${m[1]}> closes <${top.tag}>`)
      stack.pop()
    } else if (m[2]) {
      const node: XmlNode = { tag: m[2], children: [], text: '' }
      top.children.push(node)
      if (!m[3]) stack.push(node)
    } else if (m[4]) {
      if (m[4].trim()) top.text += m[4]
    }
  }
  assert.equal(consumed, xml.length)
  assert.equal(stack.length, 1, 'unclosed elements')
  assert.equal(root.children.length, 1, 'one root element')
  return root.children[0]!
}
function child(node: XmlNode, tag: string): XmlNode {
  const found = node.children.filter((c) => c.tag === tag)
  assert.equal(found.length, 1, `<${node.tag}> has exactly one <${tag}>`)
  return found[0]!
}
const int = (node: XmlNode, tag: string): number => {
  const text = child(node, tag).text
  assert.match(text, /^-?\d+$/, `<${tag}> is an integer`)
  return Number(text)
}

interface Annotation {
  folder: string
  filename: string
  width: number
  height: number
  depth: number
  objects: { name: string; maskId: number; box: [number, number, number, number] }[]
}
function readAnnotation(xml: string): Annotation {
  const a = parseXml(xml)
  assert.equal(a.tag, 'annotation')
  const size = child(a, 'size')
  return {
    folder: child(a, 'folder').text,
    filename: child(a, 'filename').text,
    width: int(size, 'width'),
    height: int(size, 'height'),
    depth: int(size, 'depth'),
    objects: a.children
      .filter((c) => c.tag === 'object')
      .map((o) => {
        const b = child(o, 'bndbox')
        return { name: child(o, 'name').text, maskId: int(o, 'mask_id'), box: [int(b, 'xmin'), int(b, 'ymin'), int(b, 'xmax'), int(b, 'ymax')] }
      }),
  }
}

/** Tight boxes [xmin, ymin, xmax, ymax] (0-based inclusive) of every non-zero id in a mask PNG. */
async function maskBoxes(path: string): Promise<{ width: number; height: number; boxes: Map<number, [number, number, number, number]> }> {
  const meta = await sharp(path).metadata()
  assert.equal(meta.channels, 1, 'mask is single-channel')
  assert.equal(meta.bitsPerSample, 8, 'mask is 8-bit')
  // sharp widens grey to sRGB on output unless told: read the one channel as it is stored.
  const { data, info } = await sharp(path).extractChannel(0).raw().toBuffer({ resolveWithObject: true })
  assert.equal(info.channels, 1)
  const boxes = new Map<number, [number, number, number, number]>()
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      const id = data[y * info.width + x]!
      if (id === 0) continue
      const b = boxes.get(id)
      if (!b) boxes.set(id, [x, y, x, y])
      else {
        b[0] = Math.min(b[0], x)
        b[1] = Math.min(b[1], y)
        b[2] = Math.max(b[2], x)
        b[3] = Math.max(b[3], y)
      }
    }
  }
  return { width: info.width, height: info.height, boxes }
}

const PINNED_SCENES_SHA256 = '4d93e09d95055b793e790dd848da8ccead7b0808b4a25fe3cf4aea9e482ba9da'

const TINY: Omit<DemoDatasetOptions, 'out'> = { classes: 4, count: { train: 3, val: 2 }, size: 64, seed: 7 }

let first = ''
let firstHashes = new Map<string, string>()
before(async () => {
  first = await tempDir()
  await generateDemoDataset({ ...TINY, out: first })
  firstHashes = await hashes(first)
})

// ---------------------------------------------------------------------------------------------------
// Claims
// ---------------------------------------------------------------------------------------------------

test('the same options give byte-identical files, whatever the concurrency', async () => {
  const second = await tempDir()
  await generateDemoDataset({ ...TINY, out: second, concurrency: 1 })
  assert.deepEqual(await hashes(second), firstHashes)
})

test('two shards together give the same files as one run', async () => {
  const sharded = await tempDir()
  await generateDemoDataset({ ...TINY, out: sharded, shard: { index: 1, count: 2 } })
  await generateDemoDataset({ ...TINY, out: sharded, shard: { index: 0, count: 2 } })
  assert.deepEqual(await hashes(sharded), firstHashes)
})

test('a different seed gives different images, masks and boxes', async () => {
  const other = await tempDir()
  await generateDemoDataset({ ...TINY, out: other, seed: 8 })
  const otherHashes = await hashes(other)
  assert.deepEqual([...otherHashes.keys()], [...firstHashes.keys()], 'same file names')
  for (const [file, h] of otherHashes) {
    if (file.endsWith('.jpg') || file.endsWith('.png')) assert.notEqual(h, firstHashes.get(file), file)
  }
  assert.equal(otherHashes.get('classes.json'), firstHashes.get('classes.json'))
})

test('the tree has ImageNet layout, class index and labels, with the asked-for count per class', async () => {
  const classes = JSON.parse(await readFile(join(first, 'classes.json'), 'utf8')) as Record<string, [string, string]>
  assert.deepEqual(Object.keys(classes), ['0', '1', '2', '3'])
  assert.deepEqual(classes['0'], ['c00_striped_triangle', 'striped triangle'])
  const labels = (await readFile(join(first, 'labels.txt'), 'utf8')).split('\n')
  assert.deepEqual(labels, [...Object.values(classes).map((c) => c[1]), ''])
  const ids = Object.values(classes).map((c) => c[0])
  assert.deepEqual([...ids].sort(), ids, 'class ids sort in class order')
  for (const [split, n] of [['train', 3], ['val', 2]] as const) {
    assert.deepEqual((await readdir(join(first, split))).sort(), ids)
    for (const id of ids) {
      const images = await readdir(join(first, split, id))
      assert.equal(images.length, n, `${split}/${id}`)
      for (const f of images) {
        assert.match(f, /^c\d\d_(train|val)_\d{5}\.jpg$/)
        const base = f.replace(/\.jpg$/, '')
        await stat(join(first, 'annotations', split, id, `${base}.xml`))
        await stat(join(first, 'masks', split, id, `${base}.png`))
        const meta = await sharp(join(first, split, id, f)).metadata()
        assert.equal(meta.format, 'jpeg')
        assert.deepEqual([meta.width, meta.height, meta.channels], [64, 64, 3])
      }
    }
  }
  const dataset = JSON.parse(await readFile(join(first, 'dataset.json'), 'utf8'))
  assert.equal(dataset.seed, 7)
  assert.equal(dataset.size, 64)
  assert.deepEqual(dataset.splits, { train: { perClass: 3, images: 12 }, val: { perClass: 2, images: 8 } })
  assert.match(dataset.boxConvention, /0-based inclusive/)
})

test('annotation XML parses and names the folder, file, size and each object with its box', async () => {
  for (const file of [...firstHashes.keys()].filter((f) => f.endsWith('.xml'))) {
    const a = readAnnotation(await readFile(join(first, file), 'utf8'))
    const [, split, classId, name] = file.split('/')
    assert.equal(a.folder, classId)
    assert.equal(a.filename, name!.replace(/\.xml$/, '.jpg'))
    assert.ok(firstHashes.has(join(split!, classId!, a.filename)))
    assert.deepEqual([a.width, a.height, a.depth], [64, 64, 3])
    assert.equal(a.objects.length, 1)
    assert.equal(a.objects[0]!.name, classId)
    const [xmin, ymin, xmax, ymax] = a.objects[0]!.box
    assert.ok(0 <= xmin && xmin <= xmax && xmax < 64 && 0 <= ymin && ymin <= ymax && ymax < 64, `box inside the image: ${a.objects[0]!.box}`)
  }
})

test('every box is the tight box of its mask (0-based inclusive pixel indices)', async () => {
  const xmls = [...firstHashes.keys()].filter((f) => f.endsWith('.xml'))
  assert.equal(xmls.length, 20)
  for (const file of xmls) {
    const a = readAnnotation(await readFile(join(first, file), 'utf8'))
    const mask = await maskBoxes(join(first, file.replace(/^annotations/, 'masks').replace(/\.xml$/, '.png')))
    assert.deepEqual([mask.width, mask.height], [a.width, a.height])
    assert.deepEqual([...mask.boxes.keys()].sort(), a.objects.map((o) => o.maskId).sort())
    for (const o of a.objects) assert.deepEqual(o.box, mask.boxes.get(o.maskId), `${file} object ${o.maskId}`)
  }
})

test('several objects per image get distinct mask ids and boxes, each box tight on its mask', async () => {
  const dir = await tempDir()
  const summary = await generateDemoDataset({ out: dir, classes: 3, count: { train: 2, val: 1 }, size: 96, objectsPerImage: 3, objectClasses: 'mixed', seed: 3 })
  assert.deepEqual(summary.objectsPerImage, [3, 3])
  const names = new Set<string>()
  for (const file of (await listFiles(dir)).filter((f) => f.endsWith('.xml'))) {
    const a = readAnnotation(await readFile(join(dir, file), 'utf8'))
    assert.deepEqual(
      a.objects.map((o) => o.maskId),
      [1, 2, 3],
    )
    assert.equal(a.objects[0]!.name, a.folder, 'the first object is of the folder class')
    a.objects.forEach((o) => names.add(o.name))
    assert.equal(new Set(a.objects.map((o) => o.box.join(','))).size, 3, 'distinct boxes')
    const mask = await maskBoxes(join(dir, file.replace(/^annotations/, 'masks').replace(/\.xml$/, '.png')))
    for (const o of a.objects) assert.deepEqual(o.box, mask.boxes.get(o.maskId))
  }
  assert.ok(names.size > 1, 'mixed mode draws other classes too')
})

test('resuming after deleting some files rewrites exactly those files, byte for byte', async () => {
  const dir = await tempDir()
  await generateDemoDataset({ ...TINY, out: dir })
  const deleted = ['train/c01_dotted_triangle/c01_train_00002.jpg', 'annotations/val/c03_checkered_square/c03_val_00000.xml', 'masks/train/c00_striped_triangle/c00_train_00001.png']
  const before = new Map<string, number>()
  for (const f of await listFiles(dir)) before.set(f, (await stat(join(dir, f))).mtimeMs)
  for (const f of deleted) await unlink(join(dir, f))
  // What a killed run leaves behind: a temp file of a process that is gone.
  const stale = join(dir, 'train/c01_dotted_triangle/c01_train_00002.jpg.tmp-2147483646')
  await writeFile(stale, 'half a JPEG')
  await new Promise((r) => setTimeout(r, 20)) // a rewritten file would get a later mtime
  const summary = await generateDemoDataset({ ...TINY, out: dir })
  assert.equal(summary.rendered, 3)
  assert.equal(summary.filesWritten, 3)
  assert.equal(summary.skipped, 17)
  assert.deepEqual(await hashes(dir), firstHashes, 'the same files, and no stale temp file')
  for (const [f, mtime] of before) {
    if (deleted.includes(f) || ['classes.json', 'labels.txt', 'dataset.json', 'README.txt'].includes(f)) continue
    assert.equal((await stat(join(dir, f))).mtimeMs, mtime, `${f} untouched`)
  }
})

test('progress counts every image and an abort stops the run', async () => {
  const dir = await tempDir()
  const seen: number[] = []
  const controller = new AbortController()
  await assert.rejects(
    generateDemoDataset({
      ...TINY,
      out: dir,
      concurrency: 1,
      signal: controller.signal,
      onProgress: (done, total) => {
        assert.equal(total, 20)
        seen.push(done)
        if (done === 5) controller.abort()
      },
    }),
    { name: 'AbortError' },
  )
  assert.deepEqual(seen, [1, 2, 3, 4, 5])
  const summary = await generateDemoDataset({ ...TINY, out: dir })
  assert.equal(summary.skipped, 5, 'the resumed run keeps what the aborted one wrote')
  assert.deepEqual(await hashes(dir), firstHashes)
})

test('a folder made with other settings is not resumed into', async () => {
  const dir = await tempDir()
  await generateDemoDataset({ ...TINY, count: { train: 1, val: 0 }, out: dir })
  await assert.rejects(generateDemoDataset({ ...TINY, count: { train: 1, val: 0 }, out: dir, seed: 99 }), /other settings/)
  const more = await generateDemoDataset({ ...TINY, count: { train: 2, val: 0 }, out: dir })
  assert.deepEqual([more.skipped, more.rendered], [4, 4], 'more images per class extend the set')
})

test('the pixels of a fixed scene are pinned: bump DEMO_GENERATOR_VERSION when they change', () => {
  // A changed generator must not mix its images into a dataset resumed from an older one (the version is
  // part of every image's random stream and of dataset.json); update this hash together with the version.
  const h = createHash('sha256')
  for (const cls of DEMO_CLASSES) {
    const scene = renderScene(Rng.from('pinned', cls.id), 48, [cls])
    h.update(scene.rgb).update(scene.mask)
  }
  assert.equal(DEMO_GENERATOR_VERSION, 1)
  assert.equal(h.digest('hex'), PINNED_SCENES_SHA256)
})

test('every class renders a visible object even in the smallest images', () => {
  for (const cls of DEMO_CLASSES) {
    for (let i = 0; i < 12; i++) {
      const scene = renderScene(Rng.from('smallest', cls.id, i), 32, [cls])
      assert.equal(scene.objects.length, 1)
      assert.ok(scene.objects[0]!.area >= 4, `${cls.id} #${i}: ${scene.objects[0]!.area} mask pixels`)
    }
  }
})

test('there are at least 10 classes, and no distractor is a class combination', () => {
  assert.ok(DEMO_CLASSES.length >= 10)
  assert.equal(new Set(DEMO_CLASSES.map((c) => `${c.shape}/${c.pattern}`)).size, DEMO_CLASSES.length, 'classes differ')
  const shapes = new Set(DEMO_CLASSES.map((c) => c.shape))
  const patterns = new Set(DEMO_CLASSES.map((c) => c.pattern))
  assert.ok(shapes.size < DEMO_CLASSES.length && patterns.size < DEMO_CLASSES.length, 'some classes share a shape, some a pattern')
  for (const [shape, pattern] of DISTRACTOR_COMBINATIONS) assert.ok(!isClassCombination(shape, pattern), `${shape}/${pattern}`)
})
