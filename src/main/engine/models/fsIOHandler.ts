/**
 * A model folder on disk: model.json + weight shards. Plain tfjs has no file-system loader in Node
 * (tf.io.fileSystem lives in tfjs-node), so this is ours: `fsIOHandler(dir)` loads and saves, and
 * `readModelFolder(dir)` loads with the checks that give users an actionable message (which file, what is wrong).
 */
import { createHash } from 'node:crypto'
import { promises as fs } from 'node:fs'
import * as path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../../shared/api'
import { writeFileAtomic } from '../store/writeFileAtomic'
import { describeJsonError } from './jsonPosition'

export const MODEL_JSON = 'model.json'

/** A model folder read from disk and checked: everything tfjs needs to build the model, plus its identity. */
export interface ModelFolder {
  /** Absolute folder path. */
  dir: string
  modelJsonPath: string
  format: 'layers' | 'graph'
  json: tf.io.ModelJSON
  artifacts: tf.io.ModelArtifacts
  /** Content hash of model.json and the shards (sha256, hex, first 16 characters). */
  id: string
  /** Things that do not stop loading but the user should know. */
  warnings: string[]
}

/** Bytes per stored element (tfjs-core io/types DTYPE_VALUE_SIZE_MAP, plus quantized storage types). */
const STORED_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 }

const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024

export interface SaveOptions {
  /** Split the weights into shards of at most this many bytes (the tfjs converter's default is 4 MiB). */
  shardBytes?: number
}

/** A tf.io.IOHandler over a folder: `tf.loadLayersModel(fsIOHandler(dir))`, `model.save(fsIOHandler(dir))`. */
export function fsIOHandler(dir: string, options: SaveOptions = {}): tf.io.IOHandler {
  return {
    load: async () => (await readModelFolder(dir)).artifacts,
    save: (artifacts) => saveModelFolder(dir, artifacts, options),
  }
}

/** Write model.json and shards; model.json goes last and atomically, so a reader never sees a half-written model. */
export async function saveModelFolder(dir: string, artifacts: tf.io.ModelArtifacts, options: SaveOptions = {}): Promise<tf.io.SaveResult> {
  if (artifacts.modelTopology instanceof ArrayBuffer) {
    throw new ConvscopeError('BAD_REQUEST', 'Saving a binary (protobuf) model topology is not supported; only JSON topologies')
  }
  await fs.mkdir(dir, { recursive: true })
  const data = weightBytes(artifacts.weightData)
  const shardBytes = Math.max(1, options.shardBytes ?? DEFAULT_SHARD_BYTES)
  const count = Math.max(1, Math.ceil(data.byteLength / shardBytes))
  const paths: string[] = []
  for (let i = 0; i < count; i++) {
    const name = `group1-shard${i + 1}of${count}.bin`
    await writeFileAtomic(path.join(dir, name), data.subarray(i * shardBytes, Math.min(data.byteLength, (i + 1) * shardBytes)))
    paths.push(name)
  }
  const json: Record<string, unknown> = {
    modelTopology: artifacts.modelTopology,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths, weights: artifacts.weightSpecs ?? [] }],
  }
  if (artifacts.trainingConfig) json.trainingConfig = artifacts.trainingConfig
  if (artifacts.signature) json.signature = artifacts.signature
  if (artifacts.userDefinedMetadata) json.userDefinedMetadata = artifacts.userDefinedMetadata
  if (artifacts.modelInitializer) json.modelInitializer = artifacts.modelInitializer
  await writeFileAtomic(path.join(dir, MODEL_JSON), Buffer.from(JSON.stringify(json)))
  return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) }
}

function weightBytes(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0)
  const parts = Array.isArray(data) ? data : [data]
  return Buffer.concat(parts.map((b) => new Uint8Array(b)))
}

/** Read and check a model folder (or the path of its model.json). Throws ConvscopeError naming the file and the problem. */
export async function readModelFolder(dirOrFile: string): Promise<ModelFolder> {
  const dir = await resolveFolder(dirOrFile)
  const modelJsonPath = path.join(dir, MODEL_JSON)
  const jsonBytes = await readModelJson(dir, modelJsonPath)
  const json = parseModelJson(jsonBytes, modelJsonPath)
  const format = detectFormat(json, modelJsonPath)
  const warnings: string[] = []
  const shards = await readShards(dir, json, modelJsonPath, warnings)

  const hash = createHash('sha256').update(jsonBytes)
  for (const s of shards) hash.update(s)
  const buffers = shards.map((s) => s.buffer.slice(s.byteOffset, s.byteOffset + s.byteLength) as ArrayBuffer)
  const artifacts = await tf.io.getModelArtifactsForJSON(json, async (manifest) => [tf.io.getWeightSpecs(manifest), buffers])
  return { dir, modelJsonPath, format, json, artifacts, id: hash.digest('hex').slice(0, 16), warnings }
}

async function resolveFolder(dirOrFile: string): Promise<string> {
  const abs = path.resolve(dirOrFile)
  let stat
  try {
    stat = await fs.stat(abs)
  } catch {
    throw new ConvscopeError('NOT_FOUND', `Model folder not found: ${abs}`)
  }
  if (stat.isDirectory()) return abs
  if (path.basename(abs) === MODEL_JSON) return path.dirname(abs)
  throw new ConvscopeError('BAD_MODEL', `${abs} is a file, not a model folder: choose the folder that holds model.json`)
}

async function readModelJson(dir: string, modelJsonPath: string): Promise<Buffer> {
  try {
    return await fs.readFile(modelJsonPath)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConvscopeError('BAD_MODEL', `Cannot read ${modelJsonPath}: ${(e as Error).message}`)
    }
  }
  const names = await fs.readdir(dir).catch(() => [] as string[])
  let hint = names.length ? ` (it holds: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''})` : ' (it is empty)'
  if (names.some((n) => n.endsWith('.pb') || n === 'saved_model.pb' || n.endsWith('.h5') || n.endsWith('.keras'))) {
    hint += '. This looks like a TensorFlow/Keras model: convert it with tensorflowjs_converter first'
  } else if (names.some((n) => n.endsWith('.onnx'))) {
    hint += '. ONNX models are not supported yet'
  }
  throw new ConvscopeError('NOT_FOUND', `No ${MODEL_JSON} in ${dir}${hint}`)
}

function parseModelJson(bytes: Buffer, file: string): tf.io.ModelJSON {
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    throw new ConvscopeError('BAD_MODEL', `${file} is not valid JSON: ${describeJsonError(e as Error, text)}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConvscopeError('BAD_MODEL', `${file} is JSON but not a TensorFlow.js model: expected an object with modelTopology and weightsManifest`)
  }
  const obj = value as Record<string, unknown>
  const missing = ['modelTopology', 'weightsManifest'].filter((k) => obj[k] === undefined || obj[k] === null)
  if (missing.length) {
    const keys = Object.keys(obj).slice(0, 8).join(', ') || 'nothing'
    throw new ConvscopeError('BAD_MODEL', `${file} is JSON but not a TensorFlow.js model: it has no ${missing.join(' and no ')} (it has: ${keys})`)
  }
  const manifest = obj.weightsManifest
  const groupOk = (g: unknown) => {
    const group = g as Record<string, unknown> | null
    return (
      typeof group === 'object' &&
      group !== null &&
      Array.isArray(group.paths) &&
      group.paths.every((p) => typeof p === 'string') &&
      Array.isArray(group.weights) &&
      group.weights.every((w) => typeof w === 'object' && w !== null && typeof w.name === 'string' && Array.isArray(w.shape))
    )
  }
  if (!Array.isArray(manifest) || !manifest.every(groupOk)) {
    throw new ConvscopeError('BAD_MODEL', `${file}: weightsManifest must be a list of {paths: [...], weights: [{name, shape, dtype}]} groups`)
  }
  return obj as unknown as tf.io.ModelJSON
}

function detectFormat(json: tf.io.ModelJSON, file: string): 'layers' | 'graph' {
  const topology = json.modelTopology as Record<string, unknown>
  if (json.format === 'graph-model') return 'graph'
  if (json.format === 'layers-model') return 'layers'
  if (topology instanceof Object && Array.isArray(topology.node)) return 'graph'
  if (topology instanceof Object && ('class_name' in topology || 'model_config' in topology)) return 'layers'
  throw new ConvscopeError(
    'BAD_MODEL',
    `${file}: unknown model format${json.format ? ` "${json.format}"` : ''}; modelTopology is neither a Keras layers config nor a GraphDef node list`,
  )
}

async function readShards(dir: string, json: tf.io.ModelJSON, file: string, warnings: string[]): Promise<Buffer[]> {
  const out: Buffer[] = []
  for (const group of json.weightsManifest) {
    const sizes: number[] = []
    for (const rel of group.paths) {
      const shard = path.resolve(dir, rel)
      if (path.relative(dir, shard).startsWith('..') || path.isAbsolute(path.relative(dir, shard))) {
        throw new ConvscopeError('BAD_MODEL', `${file} names a weight shard outside the model folder: ${rel}`)
      }
      let bytes: Buffer
      try {
        bytes = await fs.readFile(shard)
      } catch (e) {
        const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : `cannot be read (${(e as Error).message})`
        throw new ConvscopeError('BAD_MODEL', `Weight shard ${rel} named in ${file} ${why}`)
      }
      sizes.push(bytes.byteLength)
      out.push(bytes)
    }
    checkGroupSize(group, sizes, file, warnings)
  }
  return out
}

/** The manifest fixes how many bytes a group needs; shards are cut at arbitrary offsets, so compare totals. */
function checkGroupSize(group: tf.io.WeightsManifestConfig[number], sizes: number[], file: string, warnings: string[]): void {
  if (group.weights.some((w) => w.dtype === 'string')) return // variable-length: no fixed size to check
  let expected = 0
  for (const w of group.weights) {
    const stored = w.quantization?.dtype ?? w.dtype ?? 'float32'
    const bytes = STORED_BYTES[stored]
    if (bytes === undefined) throw new ConvscopeError('BAD_MODEL', `${file}: weight ${w.name} has an unknown dtype "${stored}"`)
    expected += w.shape.reduce((a, b) => a * b, 1) * bytes
  }
  const found = sizes.reduce((a, b) => a + b, 0)
  if (found < expected) {
    // The converter cuts shards of one size and puts the rest in the last: a smaller one before it is the short one.
    const n = sizes.length
    const shardSize = n > 1 ? Math.max(...sizes.slice(0, -1)) : expected
    let i = sizes.findIndex((s, k) => k < n - 1 && s < shardSize)
    if (i < 0) i = n - 1
    const want = i < n - 1 ? shardSize : expected - shardSize * (n - 1)
    const culprit = group.paths[i] ?? '(none)'
    const whole = n > 1 ? ` (the ${n} shards of its group need ${expected} bytes in all, found ${found})` : ''
    throw new ConvscopeError('BAD_MODEL', `Weight shard ${culprit} named in ${file} is truncated: expected ${want} bytes, found ${sizes[i]}${whole}`)
  }
  if (found > expected) warnings.push(`Weight shards ${group.paths.join(', ')} hold ${found - expected} bytes more than ${file} describes; the extra bytes are ignored`)
}
