/**
 * The benches' demo image folders, generated once under .cache/bench/ (a second call finds them done).
 */
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { generateDemoDataset } from '../src/main/engine/demo'

export const BENCH_CACHE = join(resolve(import.meta.dirname, '..'), '.cache/bench')
export const DEMO_CLASSES = 14

/** A demo val split of `perClass` images per class at `size` px; returns its folder (class sub-folders). */
export async function demoImages(size: number, perClass: number): Promise<string> {
  const out = join(BENCH_CACHE, `demo-${size}px-${perClass}x${DEMO_CLASSES}`)
  if (!existsSync(join(out, 'val', '.complete'))) {
    process.stderr.write(`generating ${perClass * DEMO_CLASSES} demo images (${size}²) into ${out}\n`)
    let last = 0
    await generateDemoDataset({
      out,
      count: { train: 0, val: perClass },
      size,
      seed: 0,
      onProgress: (done, total) => {
        if (performance.now() - last > 5000 || done === total) {
          last = performance.now()
          process.stderr.write(`  ${done}/${total}\n`)
        }
      },
    })
    await writeFile(join(out, 'val', '.complete'), '')
  }
  return join(out, 'val')
}
