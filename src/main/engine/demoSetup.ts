import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { ConvscopeError, type DemoSetup } from '../../shared/api'
import { demoModelDir } from '../resources'
import type { JobContext } from './context'
import { generateDemoDataset } from './demo'

/** The part of the demo network's training.json that says which data it was trained on. */
const TrainingData = z.object({
  dataset: z.object({ seed: z.number().int(), imageSize: z.number().int(), valPerClass: z.number().int() }),
})

/**
 * First start: the demo dataset's held-out split, generated into the workspace with the seed and size the
 * bundled network was trained with (so its accuracy there is the one the README records). Generation is
 * deterministic and resumable: an interrupted first start finishes the missing files next time.
 */
export async function prepareDemo(workspace: string, ctx: JobContext): Promise<DemoSetup> {
  const modelDir = demoModelDir('gap')
  const record = join(modelDir, 'training.json')
  let text: string
  try {
    text = await readFile(record, 'utf8')
  } catch {
    throw new ConvscopeError('NOT_FOUND', `The bundled demo network is missing (${record}); run \`npm run train:demo\` or reinstall`)
  }
  const parsed = TrainingData.safeParse(JSON.parse(text))
  if (!parsed.success) throw new ConvscopeError('BAD_MODEL', `${record} does not say which data the demo network was trained on`)
  const { seed, imageSize, valPerClass } = parsed.data.dataset
  const dataDir = join(workspace, 'demo-data')
  const summary = await generateDemoDataset({
    out: dataDir,
    count: { train: 0, val: valPerClass },
    size: imageSize,
    seed,
    signal: ctx.signal,
    onProgress: (done, total) => ctx.progress({ done, total, message: 'Generating the demo dataset' }),
  })
  return { modelDir, dataDir, imagesDir: join(dataDir, 'val'), generated: summary.rendered > 0 }
}
