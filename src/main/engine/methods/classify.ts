/**
 * Top-1 / top-5 accuracy of a classifier over an ImageNet-style labelled folder (root/<class>/…/*.jpg),
 * overall and per class, in batched forward passes (on onnxruntime where the model has a runtime source:
 * executors/forward.ts). Files that cannot be read are skipped with the reason.
 *
 * Class folders are mapped onto the model's output indices by name, never by guessing:
 *   1. the folder is a WordNet id of the model's ImageNet-style label map ({"0": ["n01440764", "tench"]});
 *   2. the folder is a label of the model (exactly, else ignoring case and '_' vs ' ');
 *   3. the dataset's own classes.json ({"0": [folder, name]}, the layout of the demo dataset and of
 *      ImageNet's imagenet_class_index.json), in the folder or its parent, names the folder's class, and
 *      that name is a label of the model;
 *      a model without labels takes the index from classes.json.
 * `mapping: 'sorted'` instead takes the i-th folder in name order as class i (the Keras
 * flow_from_directory convention) for folders named otherwise. A folder that maps to nothing is an error.
 */
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../../shared/api'
import { datasetImages } from '../datasets/datasetImages'
import { runDatasetLoop } from '../datasets/datasetLoop'
import { imageDecoders } from '../datasets/decodePool'
import { forwardTensors, pinExecutor } from '../executors/forward'
import type { ExecutorName } from '../executors/onnxRuntime'
import { toInputValues } from '../images/preprocess'
import { OUTPUT, type LoadedModel } from '../model'

export const TOP_K = 5

export interface ClassifyOptions {
  /** Images per forward pass (default 32). */
  batchSize?: number
  /** 'names' (default): map folders by name (see above); 'sorted': the i-th folder in name order is class i. */
  mapping?: 'names' | 'sorted'
  onProgress?: (done: number, total: number) => void
  signal?: AbortSignal
}

export interface Accuracy {
  /** Fractions in [0, 1] over the images read; null when no image of it could be read. */
  top1: number | null
  top5: number | null
  images: number
}

export interface ClassAccuracy extends Accuracy {
  /** The folder name. */
  className: string
  /** The model's output index and label for it. */
  index: number
  label: string | null
  /** The wrong top-1 prediction made most often for this class, if any. */
  confusedWith: { index: number; label: string | null; images: number } | null
}

export interface ClassifyResult {
  root: string
  overall: Accuracy & { /** Mean of the per-class top-1 accuracies (classes with images). */ meanClassTop1: number | null }
  perClass: ClassAccuracy[]
  skipped: { path: string; reason: string }[]
  /** How each folder was mapped onto an output index. */
  mapping: Record<string, FolderMapping['how']>
  /** k of "top-k": 5, or the number of classes if fewer. */
  k: number
  /** What ran the forward passes: 'onnxruntime-cpu' or 'tfjs-<backend>'. */
  executor: ExecutorName
}

export interface FolderMapping {
  index: number
  how: 'wordnet id' | 'label' | 'classes.json' | 'sorted'
}

/** The number of classes the model's output scores, or a BAD_MODEL error. */
export function outputClasses(model: LoadedModel): number {
  const out = model.info.layers[model.info.layers.length - 1]?.outputShape
  if (!out || out.length !== 1 || out[0] == null) {
    throw new ConvscopeError('BAD_MODEL', `Model ${model.info.name} does not end in class scores (its output is [${(out ?? []).join(', ')}]), so it cannot classify`)
  }
  return out[0]
}

const loose = (s: string) => s.trim().toLowerCase().replace(/[\s_]+/g, ' ')

/** WordNet ids of the model's label file, when it is an ImageNet-style {"0": ["n01440764", "tench"]} map. */
async function wordnetIds(model: LoadedModel): Promise<(string | null)[] | null> {
  const file = model.info.preprocessing.labels
  if (!file) return null
  let value: unknown
  try {
    value = JSON.parse((await readFile(join(model.info.dir, file), 'utf8')).replace(/^\uFEFF/, ''))
  } catch {
    return null // a plain-text label file, or one the loader already reported
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null
  const ids: (string | null)[] = []
  for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
    const i = Number(key)
    if (Number.isInteger(i) && i >= 0 && Array.isArray(entry) && entry.length >= 2 && typeof entry[0] === 'string') ids[i] = entry[0]
  }
  return ids.some((id) => id != null) ? Array.from(ids, (id) => id ?? null) : null
}

/**
 * The dataset's classes.json (folder id → class name and index), in the folder or its parent (a split such
 * as val/ of a dataset that keeps classes.json at its root, like the demo dataset).
 */
async function datasetClassIndex(root: string): Promise<Map<string, { index: number; name: string }> | null> {
  let value: unknown
  for (const dir of [root, dirname(root)]) {
    try {
      value = JSON.parse(await readFile(join(dir, 'classes.json'), 'utf8'))
      break
    } catch {
      // not there, or not JSON: try the next place
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null
  const map = new Map<string, { index: number; name: string }>()
  for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
    const index = Number(key)
    if (!Number.isInteger(index) || !Array.isArray(entry) || typeof entry[0] !== 'string') continue
    map.set(entry[0], { index, name: String(entry[entry.length - 1]) })
  }
  return map
}

/**
 * Map class folder names onto the model's output indices (see the file comment). Throws BAD_REQUEST
 * naming the folders that map to nothing, with examples of the model's labels.
 */
export async function mapClassFolders(model: LoadedModel, root: string, folders: readonly string[], mapping: 'names' | 'sorted' = 'names'): Promise<Map<string, FolderMapping>> {
  const classes = outputClasses(model)
  const result = new Map<string, FolderMapping>()
  if (mapping === 'sorted') {
    const sorted = [...folders].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    if (sorted.length > classes) {
      throw new ConvscopeError('BAD_REQUEST', `${root} has ${sorted.length} class folders but model ${model.info.name} has only ${classes} outputs`)
    }
    sorted.forEach((f, i) => result.set(f, { index: i, how: 'sorted' }))
    return result
  }

  const labels = model.info.labels
  const wnids = await wordnetIds(model)
  const dataset = await datasetClassIndex(root)
  const byLabel = (name: string): number => {
    if (!labels) return -1
    const exact = labels.indexOf(name)
    if (exact >= 0) return exact
    return labels.findIndex((l) => loose(l) === loose(name))
  }
  for (const folder of folders) {
    const wnid = wnids?.indexOf(folder) ?? -1
    if (wnid >= 0) {
      result.set(folder, { index: wnid, how: 'wordnet id' })
      continue
    }
    const label = byLabel(folder)
    if (label >= 0) {
      result.set(folder, { index: label, how: 'label' })
      continue
    }
    const entry = dataset?.get(folder)
    if (entry) {
      const index = labels ? byLabel(entry.name) : entry.index
      if (index >= 0 && index < classes) {
        result.set(folder, { index, how: 'classes.json' })
        continue
      }
    }
  }

  const unmapped = folders.filter((f) => !result.has(f))
  if (unmapped.length) {
    const shown = unmapped.slice(0, 5).map((f) => `"${f}"`).join(', ') + (unmapped.length > 5 ? `, ... (${unmapped.length} in all)` : '')
    const examples = labels ? `its labels include ${labels.slice(0, 4).map((l) => `"${l}"`).join(', ')}${labels.length > 4 ? ', ...' : ''}` : 'it has no label file (name one in convscope.json)'
    const sortedHint = folders.length <= classes ? `; or, if the folders in name order are the classes in output order, map them by order (--sorted)` : ''
    throw new ConvscopeError(
      'BAD_REQUEST',
      `Cannot tell which of model ${model.info.name}'s ${classes} classes the folder${unmapped.length > 1 ? 's' : ''} ${shown} of ${root} hold${unmapped.length > 1 ? '' : 's'}: ` +
        `a class folder must be named after a label of the model, or its WordNet id, or be listed in the dataset's classes.json; ${examples}${sortedHint}`,
    )
  }
  const seen = new Map<number, string>()
  for (const [folder, m] of result) {
    const other = seen.get(m.index)
    if (other !== undefined) throw new ConvscopeError('BAD_REQUEST', `Folders "${other}" and "${folder}" of ${root} both map to class ${m.index} (${labels?.[m.index] ?? 'no label'})`)
    seen.set(m.index, folder)
  }
  return result
}

/** Classify every image under `root` and compare with its class folder. */
export async function classifyFolder(model: LoadedModel, root: string, options: ClassifyOptions = {}): Promise<ClassifyResult> {
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? 32))
  const classes = outputClasses(model)
  const { folder } = await datasetImages(root)
  if (folder.classes.length === 0) {
    throw new ConvscopeError('BAD_REQUEST', `${folder.root} holds images directly, not class sub-folders: put each class's images in a folder named after the class`)
  }
  const mapping = await mapClassFolders(model, folder.root, folder.classes, options.mapping)
  const k = Math.min(TOP_K, classes)
  const labels = model.info.labels

  const perFolder = new Map(folder.classes.map((c) => [c, { images: 0, top1: 0, top5: 0, wrong: new Map<number, number>() }]))
  // Chosen once, so every batch of one run goes through the same executor.
  const { executor, request } = pinExecutor(model)
  // Decoding on threads beside the forward pass for a large folder (datasets/decodePool.ts).
  const decoders = imageDecoders(folder.images.length)
  const skipped = await runDatasetLoop({
    items: folder.images,
    load: (image) => decoders.image(image.path, model.info.preprocessing),
    compute: async ({ loaded }) => {
      if (!loaded.length) return
      const { tensors } = await forwardTensors(model, toInputValues(loaded.map((d) => d.loaded.input)), [OUTPUT], request)
      let top: tf.Tensor
      try {
        top = tf.tidy(() => tf.topk(tensors[0]!.reshape([loaded.length, classes]), k).indices)
      } finally {
        tf.dispose(tensors)
      }
      const indices = (await top.data()) as Int32Array
      top.dispose()
      loaded.forEach(({ item }, i) => {
        const stats = perFolder.get(item.className!)!
        const truth = mapping.get(item.className!)!.index
        const predicted = indices.subarray(i * k, (i + 1) * k)
        stats.images++
        if (predicted[0] === truth) stats.top1++
        else stats.wrong.set(predicted[0]!, (stats.wrong.get(predicted[0]!) ?? 0) + 1)
        if (predicted.includes(truth)) stats.top5++
      })
    },
    pathOf: (image) => image.path,
    batchSize,
    signal: options.signal,
    cancelMessage: 'classification was cancelled',
    onProgress: (p) => options.onProgress?.(p.done, p.total),
  }).finally(() => decoders.release())

  const perClass: ClassAccuracy[] = folder.classes.map((className) => {
    const s = perFolder.get(className)!
    const index = mapping.get(className)!.index
    let confusedWith: ClassAccuracy['confusedWith'] = null
    for (const [i, n] of s.wrong) if (!confusedWith || n > confusedWith.images) confusedWith = { index: i, label: labels?.[i] ?? null, images: n }
    return {
      className,
      index,
      label: labels?.[index] ?? null,
      images: s.images,
      top1: s.images ? s.top1 / s.images : null,
      top5: s.images ? s.top5 / s.images : null,
      confusedWith,
    }
  })
  const images = perClass.reduce((a, c) => a + c.images, 0)
  const sum = (key: 'top1' | 'top5') => [...perFolder.values()].reduce((a, s) => a + s[key], 0)
  const withImages = perClass.filter((c) => c.images > 0)
  return {
    root: folder.root,
    overall: {
      images,
      top1: images ? sum('top1') / images : null,
      top5: images ? sum('top5') / images : null,
      meanClassTop1: withImages.length ? withImages.reduce((a, c) => a + c.top1!, 0) / withImages.length : null,
    },
    perClass,
    skipped,
    mapping: Object.fromEntries([...mapping].map(([f, m]) => [f, m.how])),
    k,
    executor,
  }
}
