/**
 * Writing a trained demo network as a model folder the workbench opens: model.json + shards (our fs
 * IOHandler), convscope.json (the preprocessing it was trained with), labels.txt, training.json (settings
 * and per-epoch history) and curves.svg.
 */
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Preprocessing } from '../../shared/api'
import { fsIOHandler } from '../engine/models/fsIOHandler'
import { SIDECAR } from '../engine/models/sidecar'
import type { DemoNet } from './architectures'
import { trainingCurvesSvg } from './curves'
import type { EpochRecord, Evaluation } from './train'

export const TRAINING_JSON = 'training.json'
export const CURVES_SVG = 'curves.svg'
export const LABELS_TXT = 'labels.txt'

/** What training.json records, beside the history: enough to regenerate the data and check the result. */
export interface TrainingRecord {
  network: string
  spec: DemoNet['spec']
  layers: { name: string; type: string; outputShape: (number | null)[]; params: number }[]
  params: number
  preprocessing: Preprocessing
  dataset: {
    generator: string
    version: number
    seed: number
    /** Side of the generated images (they are resized to the input size by the sidecar's policy). */
    imageSize: number
    trainPerClass: number
    valPerClass: number
    classes: number
  }
  training: {
    epochs: number
    batchSize: number
    optimizer: string
    learningRate: number
    warmupEpochs: number
    schedule: string
    augmentation: { flip: boolean; shift: number }
    seed: number
    /** The network whose layers below conv_last this one started from, or null (from scratch). */
    initializedFrom: string | null
  }
  environment: { backend: string; tfjs: string; node: string; platform: string; cpu: string }
  /** Wall time of all epochs (training steps and evaluations), and training images per second. */
  seconds: number
  trainImagesPerSecond: number
  final: { valTop1: number; valTop5: number; valLoss: number; valImages: number }
  /** Bytes of model.json plus weight shards. */
  modelBytes: number
  history: EpochRecord[]
  createdAt: string
}

export interface SaveDemoNetOptions {
  preprocessing: Preprocessing
  labels: string[]
  record: Omit<TrainingRecord, 'layers' | 'params' | 'modelBytes' | 'preprocessing' | 'final' | 'createdAt'>
  final: Evaluation
}

/** Save into `dir`, replacing an older model there (stale shards removed). Returns the record written. */
export async function saveDemoNet(net: DemoNet, dir: string, options: SaveDemoNetOptions): Promise<TrainingRecord> {
  await mkdir(dir, { recursive: true })
  for (const name of await readdir(dir)) if (/^group\d+-shard\d+of\d+\.bin$/.test(name)) await rm(join(dir, name))
  // One shard: the networks are small, and one file per network keeps the committed tree simple.
  await net.model.save(fsIOHandler(dir, { shardBytes: 64 * 1024 * 1024 }))
  const sidecar: Partial<Preprocessing> = {
    inputSize: options.preprocessing.inputSize,
    channelOrder: options.preprocessing.channelOrder,
    range: options.preprocessing.range,
    mean: options.preprocessing.mean,
    std: options.preprocessing.std,
    resize: options.preprocessing.resize,
    labels: LABELS_TXT,
  }
  await writeFile(join(dir, SIDECAR), `${JSON.stringify(sidecar, null, 2)}\n`)
  await writeFile(join(dir, LABELS_TXT), `${options.labels.join('\n')}\n`)

  let modelBytes = 0
  for (const name of await readdir(dir)) if (name === 'model.json' || name.endsWith('.bin')) modelBytes += (await stat(join(dir, name))).size
  const layers = net.model.layers.map((l) => {
    const shape = l.outputShape as (number | null)[]
    return { name: l.name, type: l.getClassName(), outputShape: shape.slice(1), params: l.countParams() }
  })
  const record: TrainingRecord = {
    ...options.record,
    layers,
    params: net.model.countParams(),
    preprocessing: { ...options.preprocessing, labels: LABELS_TXT },
    final: { valTop1: options.final.top1, valTop5: options.final.top5, valLoss: options.final.loss, valImages: options.final.images },
    modelBytes,
    createdAt: new Date().toISOString(),
  }
  await writeFile(join(dir, TRAINING_JSON), `${JSON.stringify(record, null, 2)}\n`)
  await writeFile(join(dir, CURVES_SVG), trainingCurvesSvg([{ name: options.record.network, history: options.record.history }], `${options.record.network} network`))
  return record
}
