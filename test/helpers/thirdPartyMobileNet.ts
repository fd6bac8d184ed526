/**
 * A third-party TF.js MobileNetV2 with trained weights, for issue 12's "works on a third-party TF.js MobileNetV2":
 * the MobileNetV2 of the npm package nsfwjs 4.4.0 (MIT; a devDependency), a Keras layers model (224² RGB input in
 * [0, 1], ReLU6, depthwise convs, batch norm, inverted residual adds; head: average pooling → flatten → three dense
 * layers → 5 classes). The package ships model.json and its weight shard as UMD scripts (model.min.js exports the
 * JSON object, group1-shard1of1.min.js the weights as base64); this writes them back as the TF.js folder a researcher
 * would have, with a convscope.json of nsfwjs's own preprocessing (pixels / 255, stretched to 224²) and its labels.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..')
/** nsfwjs's class names, in its output order. */
export const THIRD_PARTY_LABELS = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']
export const THIRD_PARTY_SIZE = 224

interface ModelJson {
  modelTopology: unknown
  weightsManifest: { paths: string[]; weights: unknown[] }[]
}

/** Write the model folder into `dir` (model.json, its one weight file, labels.txt, convscope.json); returns `dir`. */
export async function thirdPartyMobileNetV2(dir: string): Promise<string> {
  // The package's exports map hides its files from require.resolve; the project's node_modules holds it (devDependency).
  const models = join(ROOT, 'node_modules/nsfwjs/dist/models/mobilenet_v2')
  const modelJson = require(join(models, 'model.min.js')) as ModelJson
  const shard = require(join(models, 'group1-shard1of1.min.js')) as string
  const [group] = modelJson.weightsManifest
  if (!group || group.paths.length !== 1 || typeof shard !== 'string') throw new Error('nsfwjs mobilenet_v2: not the one-shard layout this helper reads')
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'model.json'), JSON.stringify(modelJson))
  await writeFile(join(dir, group.paths[0]!), Buffer.from(shard, 'base64'))
  await writeFile(join(dir, 'labels.txt'), THIRD_PARTY_LABELS.join('\n') + '\n')
  const sidecar = { inputSize: [THIRD_PARTY_SIZE, THIRD_PARTY_SIZE], channelOrder: 'RGB', range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1], resize: 'stretch', labels: 'labels.txt' }
  await writeFile(join(dir, 'convscope.json'), JSON.stringify(sidecar, null, 2) + '\n')
  return dir
}
