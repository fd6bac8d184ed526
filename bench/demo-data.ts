/**
 * Demo dataset generation speed: images per second for the default dataset (or a smaller one).
 *
 *   node --import tsx bench/demo-data.ts [--train N] [--val N] [--size PX] [--objects N] [--out DIR] [--keep]
 *
 * Generates into a fresh temporary folder (or --out), prints images/s, then a second pass over the same
 * folder to show the cost of a resume that finds everything done. The folder is removed unless --keep.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { generateDemoDataset } from '../src/main/engine/demo'

const { values } = parseArgs({
  options: {
    train: { type: 'string', default: '500' },
    val: { type: 'string', default: '100' },
    size: { type: 'string', default: '128' },
    objects: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '4' },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
})

const out = values.out ?? (await mkdtemp(join(tmpdir(), 'convscope-demo-bench-')))
const options = {
  out,
  count: { train: Number(values.train), val: Number(values.val) },
  size: Number(values.size),
  objectsPerImage: Number(values.objects),
  concurrency: Number(values.concurrency),
}
try {
  let last = 0
  const first = await generateDemoDataset({
    ...options,
    onProgress: (done, total) => {
      const now = performance.now()
      if (now - last > 2000 || done === total) {
        last = now
        process.stderr.write(`\r${done}/${total}`)
      }
    },
  })
  process.stderr.write('\n')
  console.log(
    `generated ${first.images} images (${first.classes.length} classes, ${first.size}px, ${first.filesWritten} files) ` +
      `in ${first.seconds.toFixed(1)} s: ${(first.rendered / first.seconds).toFixed(0)} images/s`,
  )
  const again = await generateDemoDataset(options)
  console.log(`resume with nothing to do: ${again.skipped} skipped in ${again.seconds.toFixed(2)} s`)
  console.log(`output: ${out}${values.keep ? '' : ' (removed)'}`)
} finally {
  if (!values.keep && values.out === undefined) await rm(out, { recursive: true, force: true })
}
