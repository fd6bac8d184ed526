/**
 * The optional `convscope.json` beside model.json: how to preprocess images for this model and where its
 * class labels are. Its keys are exactly those of api.ts `Preprocessing` (inputSize may be left out: it
 * comes from the model) plus `cropSize`; anything else is an error that names the key, so a typo never
 * goes unnoticed.
 *
 * torchvision's recipe `Resize(256, interpolation) + CenterCrop(224)` is written
 * `{"resize": "shorter-side", "resizeSize": 256, "cropSize": 224, "interpolation": "bilinear"}`: cropSize
 * (a number or [height, width]) is the crop, i.e. the input size; when inputSize is given too they must agree.
 */
import { promises as fs } from 'node:fs'
import * as path from 'node:path'
import { z } from 'zod'
import { ConvscopeError, Preprocessing } from '../../../shared/api'
import { describeJsonError } from './jsonPosition'

export const SIDECAR = 'convscope.json'

/** Input size assumed when neither the model nor the sidecar fixes it. */
export const FALLBACK_INPUT_SIZE: [number, number] = [224, 224]

export const SidecarSchema = Preprocessing.extend({
  /** torchvision's CenterCrop size: sets inputSize ([n, n] for a number). */
  cropSize: z.union([z.number().int().positive(), z.tuple([z.number().int().positive(), z.number().int().positive()])]).optional(),
})
  .partial({ inputSize: true })
  .strict()
export type Sidecar = z.infer<typeof SidecarSchema>

export interface SidecarResult {
  preprocessing: Preprocessing
  /** True when there was no convscope.json. */
  defaulted: boolean
  labels: string[] | null
  warnings: string[]
}

/** The model's own [height, width]; null entries where the model accepts any size. */
export type ModelInputSize = [number | null, number | null]

/** Read `convscope.json` (if any) and the label file it names. Throws BAD_MODEL / NOT_FOUND naming the file. */
export async function readSidecar(dir: string, modelSize: ModelInputSize): Promise<SidecarResult> {
  const file = path.join(dir, SIDECAR)
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return defaults(modelSize)
    throw new ConvscopeError('BAD_MODEL', `Cannot read ${file}: ${(e as Error).message}`)
  }
  const { cropSize, ...sidecar } = parseSidecar(text, file)
  const warnings: string[] = []
  const inputSize = resolveInputSize(declaredInputSize(sidecar.inputSize, cropSize, file), modelSize, file, warnings)
  const preprocessing = Preprocessing.parse({ ...sidecar, inputSize })
  const labels = preprocessing.labels === null ? null : await readLabels(path.resolve(dir, preprocessing.labels), file)
  return { preprocessing, defaulted: false, labels, warnings }
}

/** Validate sidecar text; errors name the file and the offending key. */
export function parseSidecar(text: string, file: string): Sidecar {
  let value: unknown
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''))
  } catch (e) {
    throw new ConvscopeError('BAD_MODEL', `${file} is not valid JSON: ${describeJsonError(e as Error, text)}`)
  }
  const parsed = SidecarSchema.safeParse(value)
  if (parsed.success) {
    if (parsed.data.resizeSize !== undefined && parsed.data.resize !== 'shorter-side') {
      throw new ConvscopeError('BAD_MODEL', `${file}: resizeSize is the shorter side's length for "resize": "shorter-side"; this sidecar has "resize": "${parsed.data.resize}"`)
    }
    return parsed.data
  }
  const allowed = Object.keys(SidecarSchema.shape).join(', ')
  const problems = parsed.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} (allowed: ${allowed})`
    }
    const where = issue.path.length ? issue.path.join('.') : '(top level)'
    return `${where}: ${issue.message}`
  })
  throw new ConvscopeError('BAD_MODEL', `${file}: ${problems.join('; ')}`)
}

/** inputSize, else cropSize as [height, width]; both given must agree. */
function declaredInputSize(inputSize: [number, number] | undefined, cropSize: Sidecar['cropSize'], file: string): [number, number] | undefined {
  const crop: [number, number] | undefined = typeof cropSize === 'number' ? [cropSize, cropSize] : cropSize
  if (inputSize && crop && (inputSize[0] !== crop[0] || inputSize[1] !== crop[1])) {
    throw new ConvscopeError('BAD_MODEL', `${file}: cropSize [${crop.join(', ')}] and inputSize [${inputSize.join(', ')}] disagree (the crop is the model's input)`)
  }
  return inputSize ?? crop
}

function resolveInputSize(declared: [number, number] | undefined, model: ModelInputSize, file: string, warnings: string[]): [number, number] {
  if (declared) {
    model.forEach((m, i) => {
      if (m !== null && m !== declared[i]) {
        throw new ConvscopeError('BAD_MODEL', `${file}: inputSize [${declared.join(', ')}] does not match the model's input size [${model.join(', ')}]`)
      }
    })
    return declared
  }
  if (model[0] !== null && model[1] !== null) return [model[0], model[1]]
  warnings.push(
    `The model accepts any input size and ${path.basename(file)} gives no inputSize: assumed ${FALLBACK_INPUT_SIZE.join('×')}. Declare "inputSize" in ${path.basename(file)}.`,
  )
  return [model[0] ?? FALLBACK_INPUT_SIZE[0], model[1] ?? FALLBACK_INPUT_SIZE[1]]
}

/** Defaults when there is no sidecar, and a warning that says what was assumed. */
export function defaults(modelSize: ModelInputSize): SidecarResult {
  const known = modelSize[0] !== null && modelSize[1] !== null
  const inputSize: [number, number] = [modelSize[0] ?? FALLBACK_INPUT_SIZE[0], modelSize[1] ?? FALLBACK_INPUT_SIZE[1]]
  const preprocessing = Preprocessing.parse({ inputSize })
  const warning =
    `No ${SIDECAR} beside the model, so preprocessing was assumed: input ${inputSize.join('×')} ` +
    `(${known ? "from the model's input shape" : 'the model does not fix it'}), pixel values scaled to [0, 1], RGB channel order, ` +
    `no mean/std normalization, images stretched to the input size, no class labels. ` +
    `If the model was trained otherwise, activations will be off: add a ${SIDECAR}.`
  return { preprocessing, defaulted: true, labels: null, warnings: [warning] }
}

/** Read a label file: one label per line, a JSON array, or an ImageNet-style {"0": ["n01440764", "tench"], ...} map. */
export async function readLabels(file: string, sidecarFile: string): Promise<string[]> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT'
    throw new ConvscopeError(
      missing ? 'NOT_FOUND' : 'BAD_MODEL',
      `Label file ${file} named in ${sidecarFile} ${missing ? 'is missing' : `cannot be read: ${(e as Error).message}`}`,
    )
  }
  return parseLabels(text, file)
}

export function parseLabels(text: string, file: string): string[] {
  const body = text.replace(/^\uFEFF/, '')
  const trimmed = body.trim()
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let value: unknown
    try {
      value = JSON.parse(trimmed)
    } catch (e) {
      throw new ConvscopeError('BAD_MODEL', `Label file ${file} looks like JSON but is not valid: ${describeJsonError(e as Error, trimmed)}`)
    }
    return Array.isArray(value) ? value.map((v, i) => labelOf(v, String(i), file)) : labelsFromMap(value as Record<string, unknown>, file)
  }
  const lines = body.split(/\r?\n/)
  while (lines.length && lines[lines.length - 1]!.trim() === '') lines.pop()
  return lines.map((l) => l.trim())
}

/** A label entry: a string, or [wnid, name] (the name is what people read). */
function labelOf(v: unknown, key: string, file: string): string {
  if (typeof v === 'string' || typeof v === 'number') return String(v)
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) return v[v.length - 1] as string
  throw new ConvscopeError('BAD_MODEL', `Label file ${file}: entry ${key} is neither a string nor a [id, name] pair`)
}

function labelsFromMap(map: Record<string, unknown>, file: string): string[] {
  const keys = Object.keys(map)
  const labels: string[] = new Array(keys.length)
  for (const key of keys) {
    const i = Number(key)
    if (!Number.isInteger(i) || i < 0 || i >= keys.length) {
      throw new ConvscopeError('BAD_MODEL', `Label file ${file}: keys must be the class indices 0..${keys.length - 1}, found "${key}"`)
    }
    labels[i] = labelOf(map[key], key, file)
  }
  return labels
}
