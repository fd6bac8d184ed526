/**
 * Per-image preprocessing time, file → normalised model input (readModelInput, what scans do per image):
 * sharp's one-pipeline decode + resize (the older modes) against decode + PIL-exact resampling in JS
 * (resize "shorter-side" or an interpolation in the sidecar), for the 500×375 fixture JPEG → 224².
 *
 *   node --import tsx bench/preprocessing.ts [--image FILE] [--repeats 200]
 *
 * Prints the process CPU time per image (all threads: sharp decodes on libuv's pool), the median of 5
 * rounds, which a busy machine disturbs less than wall time; and the wall time of the same rounds.
 */
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import { Preprocessing } from '../src/shared/api'
import { readImage, readModelInput } from '../src/main/engine/images/readImage'
import { pilResize } from '../src/main/engine/images/pilResample'
import { planResize } from '../src/main/engine/images/preprocess'

const { values } = parseArgs({
  options: {
    image: { type: 'string', default: join(import.meta.dirname, '../test/fixtures/preprocessing/photo-500x375.jpg') },
    repeats: { type: 'string', default: '200' },
  },
})
const file = values.image!
const repeats = Math.max(5, Number(values.repeats))

async function measure(name: string, run: () => unknown): Promise<void> {
  for (let i = 0; i < 10; i++) await run()
  const cpu: number[] = []
  const wall: number[] = []
  const perRound = Math.ceil(repeats / 5)
  for (let r = 0; r < 5; r++) {
    const c = process.cpuUsage()
    const t = performance.now()
    for (let i = 0; i < perRound; i++) await run()
    const d = process.cpuUsage(c)
    cpu.push((d.user + d.system) / 1000 / perRound)
    wall.push((performance.now() - t) / perRound)
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[2]!.toFixed(2)
  console.log(`${name.padEnd(48)} CPU ${median(cpu)} ms/img   wall ${median(wall)} ms/img`)
}

const pre = (p: Partial<Preprocessing>) => Preprocessing.parse({ inputSize: [224, 224], ...p })
const decoded = await readImage(file)
console.log(`${file}: ${decoded.width}×${decoded.height} → 224×224, ${repeats} images per case`)
await measure('decode only (readImage)', () => readImage(file))
for (const interpolation of ['bilinear', 'bicubic'] as const) {
  const plan = planResize(decoded.width, decoded.height, pre({ resize: 'shorter-side', resizeSize: 256 }))
  await measure(`PIL ${interpolation} resample alone (Resize(256) + crop)`, () => pilResize(decoded, plan.resizeWidth, plan.resizeHeight, interpolation, plan.crop!))
}
await measure('before: center-crop, sharp linear, one pipeline', () => readModelInput(file, pre({ resize: 'center-crop' })))
await measure('after: shorter-side 256, bilinear', () => readModelInput(file, pre({ resize: 'shorter-side', resizeSize: 256 })))
await measure('after: shorter-side 256, bicubic', () => readModelInput(file, pre({ resize: 'shorter-side', resizeSize: 256, interpolation: 'bicubic' })))
