import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConvscopeError } from '../../src/shared/api'
import { annotationXml, classIndexJson } from '../../src/main/engine/demo/writers'
import { DEMO_CLASSES } from '../../src/main/engine/demo/classes'
import {
  annotationCandidates,
  classResolver,
  findAnnotation,
  findAnnotationDir,
  parseAnnotationXml,
  readAnnotation,
  readAnnotationCached,
  sharedClassResolver,
} from '../../src/main/engine/localization/annotations'
import { groundTruthOf } from '../../src/main/engine/localization/imageMaps'
import { makeFakeModel } from './fakeModel'

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'ilsvrc')

test('ILSVRC2012 val XML: size, WordNet-id names, several objects with truncated / difficult flags', async () => {
  const one = await readAnnotation(join(fixtures, 'ILSVRC2012_val_00000001.xml'))
  assert.equal(one.filename, 'ILSVRC2012_val_00000001')
  assert.deepEqual([one.width, one.height], [500, 375])
  assert.deepEqual(one.objects, [{ name: 'n01751748', classIndex: null, box: { xmin: 111, ymin: 108, xmax: 441, ymax: 292 }, difficult: false, truncated: false }])

  const three = await readAnnotation(join(fixtures, 'ILSVRC2012_val_00000007.xml'))
  assert.deepEqual([three.width, three.height], [500, 334])
  assert.deepEqual(
    three.objects.map((o) => [o.name, o.box.xmin, o.box.ymin, o.box.xmax, o.box.ymax, o.truncated, o.difficult]),
    [
      ['n01440764', 8, 41, 219, 190, false, false],
      ['n01440764', 262, 0, 499, 333, true, false],
      ['n01440764', 150, 200, 260, 300, false, true],
    ],
  )
})

test("the demo generator's XML: 0-based boxes read as written; firstPixel 1 shifts PASCAL VOC files", () => {
  const xml = annotationXml({
    folder: 'c06_gold_star',
    filename: 'c06_val_00060.jpg',
    width: 128,
    height: 128,
    classes: DEMO_CLASSES,
    objects: [{ classIndex: 6, maskId: 1, truncated: false, area: 1500, box: { xmin: 2, ymin: 38, xmax: 57, ymax: 92 } }],
  })
  const a = parseAnnotationXml(xml, 'demo.xml')
  assert.equal(a.filename, 'c06_val_00060.jpg')
  assert.deepEqual(a.objects.map((o) => [o.name, o.box]), [['c06_gold_star', { xmin: 2, ymin: 38, xmax: 57, ymax: 92 }]])
  const voc = parseAnnotationXml(xml, 'voc.xml', { firstPixel: 1 })
  assert.deepEqual(voc.objects[0]!.box, { xmin: 1, ymin: 37, xmax: 56, ymax: 91 })
})

test('an image with no objects has an empty list; boxes are clipped to <size>', () => {
  assert.deepEqual(parseAnnotationXml('<annotation/>', 'f.xml').objects, [])
  assert.deepEqual(parseAnnotationXml('<annotation><size><width>10</width><height>8</height></size></annotation>', 'f.xml').objects, [])
  const a = parseAnnotationXml('<annotation><size><width>10</width><height>8</height></size><object><name>x</name><bndbox><xmin>-2</xmin><ymin>3</ymin><xmax>10</xmax><ymax>12.0</ymax></bndbox></object></annotation>', 'f.xml')
  assert.deepEqual(a.objects[0]!.box, { xmin: 0, ymin: 3, xmax: 9, ymax: 7 })
})

test('malformed annotations: the error names the file and the problem', () => {
  const fails = (xml: string, pattern: RegExp) =>
    assert.throws(() => parseAnnotationXml(xml, '/data/ann/x.xml'), (e: unknown) => e instanceof ConvscopeError && e.code === 'BAD_REQUEST' && e.message.startsWith('Annotation /data/ann/x.xml: ') && pattern.test(e.message))
  fails('<annotation><object><name>a</name></annotation>', /not well-formed XML at line 1, column \d+/)
  fails('<voc><object/></voc>', /root element is <voc>, expected <annotation>/)
  fails('<annotation><object><bndbox><xmin>1</xmin></bndbox></object></annotation>', /<object> 1 has no <name>/)
  fails('<annotation><object><name>cat</name></object></annotation>', /<object> 1 \(cat\) has no <bndbox>/)
  fails('<annotation><object><name>cat</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax></bndbox></object></annotation>', /<object> 1 <ymax> is missing/)
  fails('<annotation><object><name>cat</name><bndbox><xmin>one</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object></annotation>', /<xmin> is "one", not a number/)
  fails('<annotation><object><name>cat</name><bndbox><xmin>5</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object></annotation>', /\(cat\) has an empty box: x 5\.\.3/)
})

test('finding the XML of an image: mirrored tree, flat folder, next to the image; default folders', async () => {
  const root = await mkdtemp(join(tmpdir(), 'convscope-ann-'))
  try {
    // Demo layout: data/val/<class>/x.jpg, data/annotations/val/<class>/x.xml.
    await mkdir(join(root, 'demo', 'val', 'c1'), { recursive: true })
    await mkdir(join(root, 'demo', 'annotations', 'val', 'c1'), { recursive: true })
    await writeFile(join(root, 'demo', 'annotations', 'val', 'c1', 'a.xml'), '<annotation/>')
    const demoDir = await findAnnotationDir(join(root, 'demo', 'val'))
    assert.equal(demoDir, join(root, 'demo', 'annotations', 'val'))
    const demoImage = { path: join(root, 'demo', 'val', 'c1', 'a.jpg'), relPath: 'c1/a.jpg' }
    assert.equal(await findAnnotation(demoDir, demoImage), join(root, 'demo', 'annotations', 'val', 'c1', 'a.xml'))

    // ILSVRC layout: val/<wnid>/ILSVRC2012_val_*.JPEG with a flat annotation folder given explicitly.
    await mkdir(join(root, 'ilsvrc', 'val', 'n01440764'), { recursive: true })
    await mkdir(join(root, 'ilsvrc', 'bbox'), { recursive: true })
    await writeFile(join(root, 'ilsvrc', 'bbox', 'ILSVRC2012_val_00000293.xml'), '<annotation/>')
    const ilsvrcImage = { path: join(root, 'ilsvrc', 'val', 'n01440764', 'ILSVRC2012_val_00000293.JPEG'), relPath: 'n01440764/ILSVRC2012_val_00000293.JPEG' }
    const bbox = await findAnnotationDir(join(root, 'ilsvrc', 'val'), join(root, 'ilsvrc', 'bbox'))
    assert.deepEqual(annotationCandidates(bbox, ilsvrcImage), [
      join(root, 'ilsvrc', 'bbox', 'n01440764', 'ILSVRC2012_val_00000293.xml'),
      join(root, 'ilsvrc', 'bbox', 'ILSVRC2012_val_00000293.xml'),
      join(root, 'ilsvrc', 'val', 'n01440764', 'ILSVRC2012_val_00000293.xml'),
    ])
    assert.equal(await findAnnotation(bbox, ilsvrcImage), join(root, 'ilsvrc', 'bbox', 'ILSVRC2012_val_00000293.xml'))

    // Next to the image, no annotation folder anywhere.
    await mkdir(join(root, 'flat'), { recursive: true })
    await writeFile(join(root, 'flat', 'b.xml'), '<annotation/>')
    assert.equal(await findAnnotationDir(join(root, 'flat')), null)
    assert.equal(await findAnnotation(null, { path: join(root, 'flat', 'b.png'), relPath: 'b.png' }), join(root, 'flat', 'b.xml'))
    // No XML: null (reported by the caller, not fatal).
    assert.equal(await findAnnotation(null, { path: join(root, 'flat', 'c.png'), relPath: 'c.png' }), null)
    // A named folder that does not exist is an error.
    await assert.rejects(findAnnotationDir(join(root, 'flat'), join(root, 'nope')), /Annotation folder .*nope does not exist/)
  } finally {
    await rm(root, { recursive: true, force: true })
  }
})

test('object names map to model classes by WordNet id, by label, or through the dataset classes.json', async () => {
  const root = await mkdtemp(join(tmpdir(), 'convscope-ann-'))
  const fake = makeFakeModel(['tench', 'goldfish', 'sea snake'])
  try {
    // An ImageNet-style label map beside the model gives WordNet ids.
    await writeFile(join(root, 'labels.json'), JSON.stringify({ 0: ['n01440764', 'tench'], 1: ['n01443537', 'goldfish'], 2: ['n01751748', 'sea snake'] }))
    const model = { ...fake.model, info: { ...fake.model.info, dir: root, preprocessing: { ...fake.model.info.preprocessing, labels: 'labels.json' } } }
    const resolver = classResolver(model, join(root, 'val'))
    const resolved = await resolver.resolve(await readAnnotation(join(fixtures, 'ILSVRC2012_val_00000001.xml')))
    assert.equal(resolved.objects[0]!.classIndex, 2)
    assert.equal(await resolver.index('goldfish'), 1)
    assert.equal(await resolver.index('n99999999'), null)
    assert.deepEqual([...resolver.unknown], ['n99999999'])

    // The demo's ids (c06_gold_star) through the dataset's classes.json, onto a model labelled by name.
    const demo = join(root, 'demo')
    await mkdir(join(demo, 'val'), { recursive: true })
    await writeFile(join(demo, 'classes.json'), classIndexJson(DEMO_CLASSES))
    const named = makeFakeModel(DEMO_CLASSES.slice(4, 7).map((c) => c.name))
    const demoResolver = classResolver(named.model, join(demo, 'val'))
    assert.equal(await demoResolver.index('c06_gold_star'), 2)
    assert.equal(await demoResolver.index(DEMO_CLASSES[5]!.id), 1)
    assert.equal(await demoResolver.index(DEMO_CLASSES[0]!.id), null)
    named.model.dispose()
  } finally {
    fake.model.dispose()
    await rm(root, { recursive: true, force: true })
  }
})

test('cached annotations and class resolvers are read again when the folder changes: an edited file, a new file, a changed classes.json', async () => {
  const root = await mkdtemp(join(tmpdir(), 'convscope-ann-'))
  const named = makeFakeModel(DEMO_CLASSES.slice(4, 7).map((c) => c.name))
  const model = named.model
  const xml = (name: string, [xmin, ymin, xmax, ymax]: number[]) =>
    `<annotation><object><name>${name}</name><bndbox><xmin>${xmin}</xmin><ymin>${ymin}</ymin><xmax>${xmax}</xmax><ymax>${ymax}</ymax></bndbox></object></annotation>`
  const objects = async (image: string) => (await groundTruthOf(model, join(root, 'val', 'c06_gold_star', image)))?.objects.map((o) => [o.classIndex, o.box]) ?? null
  try {
    const dir = join(root, 'annotations', 'val', 'c06_gold_star')
    await mkdir(dir, { recursive: true })
    await writeFile(join(root, 'classes.json'), classIndexJson(DEMO_CLASSES))
    const file = join(dir, 'a.xml')
    await writeFile(file, xml('c06_gold_star', [1, 2, 30, 40]))
    assert.deepEqual(await objects('a.jpg'), [[2, { xmin: 1, ymin: 2, xmax: 30, ymax: 40 }]])
    // Unchanged: the same parse and the same resolver come back.
    assert.equal(await readAnnotationCached(file), await readAnnotationCached(file))
    assert.equal(await sharedClassResolver(model, join(root, 'val')), await sharedClassResolver(model, join(root, 'val')))

    // Edited in place to the same size; its modification time moves on.
    await writeFile(file, xml('c06_gold_star', [9, 8, 37, 46]))
    const later = new Date(Date.now() + 10_000)
    await utimes(file, later, later)
    assert.deepEqual(await objects('a.jpg'), [[2, { xmin: 9, ymin: 8, xmax: 37, ymax: 46 }]])

    // A file that was not there is found once it is (misses are not kept).
    assert.equal(await objects('b.jpg'), null)
    await writeFile(join(dir, 'b.xml'), xml('c05_x', [0, 0, 3, 3]))
    assert.deepEqual(await objects('b.jpg'), [[null, { xmin: 0, ymin: 0, xmax: 3, ymax: 3 }]])

    // classes.json now names c06_gold_star after class 5 (index 1 of the model) and knows c05_x: resolved anew.
    await writeFile(join(root, 'classes.json'), JSON.stringify({ 0: ['c06_gold_star', DEMO_CLASSES[5]!.name], 1: ['c05_x', DEMO_CLASSES[4]!.name] }))
    assert.deepEqual(await objects('a.jpg'), [[1, { xmin: 9, ymin: 8, xmax: 37, ymax: 46 }]])
    assert.deepEqual(await objects('b.jpg'), [[0, { xmin: 0, ymin: 0, xmax: 3, ymax: 3 }]])

    // A file that becomes unreadable is an error, not its old content.
    await writeFile(file, '<annotation><object>')
    await utimes(file, new Date(Date.now() + 20_000), new Date(Date.now() + 20_000))
    const broken = await groundTruthOf(model, join(root, 'val', 'c06_gold_star', 'a.jpg'))
    assert.deepEqual(broken?.objects, [])
    assert.match(broken?.error ?? '', /not well-formed XML/)
  } finally {
    model.dispose()
    await rm(root, { recursive: true, force: true })
  }
})
