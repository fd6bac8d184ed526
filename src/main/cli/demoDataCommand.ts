import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { ConvscopeError } from '../../shared/api'
import { generateDemoDataset, BOX_CONVENTION } from '../engine/demo'
import type { Command } from './index'
import { progressBar } from './progressBar'

const usage = `usage: convscope demo-data --out DIR [--count N] [--val N] [--size 128] [--seed S] [--objects N | --objects MIN-MAX] [--mixed]

Generates the demo dataset: shapes × textures on cluttered backgrounds, as an ImageNet-style tree
(train/<class-id>/*.jpg, val/<class-id>/*.jpg) with classes.json, labels.txt, one VOC XML box file and one
mask PNG per image. Deterministic: the same options give byte-identical files. An interrupted run, started
again with the same options, writes only the missing files.
  --count N     train images per class (default 500); val gets N/5 (default 100) unless --val is given
  --objects     objects per image (default 1); --mixed draws the extra objects from every class`

export const demoDataCommand: Command = {
  summary: 'generate the demo dataset (images, boxes, masks) deterministically',
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        out: { type: 'string' },
        count: { type: 'string' },
        val: { type: 'string' },
        size: { type: 'string', default: '128' },
        seed: { type: 'string', default: '0' },
        objects: { type: 'string', default: '1' },
        mixed: { type: 'boolean', default: false },
      },
    })
    if (!values.out) {
      console.error(usage)
      return 2
    }
    const int = (name: string, text: string) => {
      const n = Number(text)
      if (!Number.isInteger(n)) throw new ConvscopeError('BAD_REQUEST', `--${name} must be an integer, got "${text}"`)
      return n
    }
    // A lone --count lets the generator derive val (a fifth); --val alone keeps its default train count.
    const train = values.count === undefined ? undefined : int('count', values.count)
    const count = values.val === undefined ? train : { train, val: int('val', values.val) }
    const range = /^(\d+)-(\d+)$/.exec(values.objects)
    const objectsPerImage = range ? ([int('objects', range[1]), int('objects', range[2])] as const) : int('objects', values.objects)
    const bar = progressBar(process.stderr)
    let summary
    try {
      summary = await generateDemoDataset({
        out: resolve(values.out),
        count,
        size: int('size', values.size),
        seed: int('seed', values.seed),
        objectsPerImage,
        objectClasses: values.mixed ? 'mixed' : 'same',
        onProgress: bar.update,
      })
    } catch (error) {
      if (error instanceof RangeError) throw new ConvscopeError('BAD_REQUEST', error.message)
      throw error
    } finally {
      bar.end()
    }
    console.log(
      `${summary.out}: ${summary.classes.length} classes, ${summary.splits.train.images} train + ${summary.splits.val.images} val images ` +
        `(${summary.rendered} rendered, ${summary.skipped} already there) in ${summary.seconds.toFixed(1)} s`,
    )
    console.log(`boxes: ${BOX_CONVENTION}`)
    return 0
  },
}
