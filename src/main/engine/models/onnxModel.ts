/**
 * An ONNX model (a folder with one *.onnx, or the file itself) as a LoadedModel (issue 10). Inside it is NCHW,
 * as PyTorch exports it; outside it is the engine's NHWC like every other model: forward takes [n, h, w, c]
 * and gives 4-D layer outputs as [n, h, w, c], kernel() is [kh, kw, in, out]. So every method works unchanged.
 *
 * Opening reads the graph (readOnnxModel), checks the one image input and that every op has a kernel (before
 * any weight is read), hashes the files, materialises the weights once, folds the constant bookkeeping and
 * runs one probe on a blank image for the shapes of the layer table (graph/layerTable.ts).
 */
import { createHash } from 'node:crypto'
import { createReadStream, promises as fs } from 'node:fs'
import * as path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ModelInfo } from '../../../shared/api'
import { checkKernels, GraphExecutor, type KernelLookup } from '../graph/executor'
import { graphFromOnnx } from '../graph/fromOnnx'
import { buildLayerTable, type LayerEntry, type LayerTable } from '../graph/layerTable'
import { type GraphNode, type ModelGraph, materializeWeights } from '../graph/modelGraph'
import { kernelFor } from '../graph/ops'
import type { RuntimeSource } from '../executors/runtimeSource'
import { type ForwardOptions, type LinearWeights, type LoadedModel, OUTPUT } from '../model'
import { checkReplacement, gather, scatter } from './forwardOutputs'
import { MODEL_JSON } from './fsIOHandler'
import { LayerGraph, suggestLayers } from './layerGraph'
import { makeInfo, probeShapes } from './modelOpening'
import { type OnnxModel, readOnnxModel } from './onnx/reader'
import { readSidecar } from './sidecar'

export interface OnnxLoadOptions {
  /** The kernels (graph/ops' registry unless a test gives its own). */
  kernels?: KernelLookup
}

/** The image input of an ONNX model: name, fixed sizes (null = dynamic) and channels. */
export interface OnnxImageInput {
  name: string
  batch: number | null
  height: number | null
  width: number | null
  channels: number
  warnings: string[]
}

const FLOAT_TYPES = new Set(['float32', 'float16', 'float64', 'bfloat16'])

/** The model must take exactly one batch of NCHW float images with 1 or 3 channels; anything else is BAD_MODEL. */
export function checkOnnxImageInput(graph: ModelGraph): OnnxImageInput {
  const file = graph.file
  const bad = (m: string) => new ConvscopeError('BAD_MODEL', `${file}: ${m}`)
  if (graph.inputs.length !== 1) {
    const names = graph.inputs.map((i) => `"${i.name}"`).join(', ')
    throw bad(`the model has ${graph.inputs.length} inputs${names ? ` (${names})` : ''}; convscope needs exactly one image input`)
  }
  const input = graph.inputs[0]!
  const nchw = 'convscope needs one float image input [batch, channels, height, width] (NCHW, as PyTorch exports it)'
  if (input.dtype !== 'undefined' && !FLOAT_TYPES.has(input.dtype)) throw bad(`the input "${input.name}" is ${input.dtype}; ${nchw}`)
  const dims = input.dims
  if (dims === null) {
    return { name: input.name, batch: null, height: null, width: null, channels: 3, warnings: [`${file}: the input "${input.name}" has no shape; assumed 3 channels`] }
  }
  const shown = `[${dims.map((d) => d ?? '?').join(', ')}]`
  if (dims.length !== 4) throw bad(`the input "${input.name}" has shape ${shown} (rank ${dims.length}); ${nchw}`)
  const fixed = (d: (typeof dims)[number]) => (typeof d === 'number' && d > 0 ? d : null)
  const channels = fixed(dims[1]!)
  if (channels === null) throw bad(`the input "${input.name}" has shape ${shown}: its number of channels is not fixed; ${nchw}`)
  if (channels !== 1 && channels !== 3) throw bad(`the input "${input.name}" has shape ${shown}: ${channels} channels; convscope shows images with 1 or 3 channels`)
  return { name: input.name, batch: fixed(dims[0]!), height: fixed(dims[2]!), width: fixed(dims[3]!), channels, warnings: [] }
}

/** sha256 of the .onnx file and its external-data files (streamed), first 16 hex characters: the model's identity. */
export async function hashOnnxFiles(model: OnnxModel): Promise<string> {
  const files = [model.file, ...new Set([...model.initializers.values()].filter((i) => i.external).map((i) => i.file))]
  const hash = createHash('sha256')
  for (const f of files) {
    for await (const chunk of createReadStream(f)) hash.update(chunk as Buffer)
  }
  return hash.digest('hex').slice(0, 16)
}

/** A path that names an ONNX model: an .onnx file, or a folder holding an .onnx and no model.json. */
export async function isOnnxPath(pathOrDir: string): Promise<boolean> {
  if (pathOrDir.toLowerCase().endsWith('.onnx')) return true
  try {
    const names = await fs.readdir(pathOrDir)
    return !names.includes(MODEL_JSON) && names.some((n) => n.toLowerCase().endsWith('.onnx'))
  } catch {
    return false
  }
}

export async function loadOnnxModel(pathOrDir: string, options: OnnxLoadOptions = {}): Promise<LoadedModel> {
  const opened = path.resolve(pathOrDir)
  const onnx = readOnnxModel(opened)
  const graph = graphFromOnnx(onnx)
  const file = graph.file
  const image = checkOnnxImageInput(graph)
  const kernels = options.kernels ?? kernelFor
  checkKernels(graph, kernels)
  const id = await hashOnnxFiles(onnx)
  const side = await readSidecar(path.dirname(file), [image.height, image.width])
  const inputShape: [number, number, number] = [side.preprocessing.inputSize[0], side.preprocessing.inputSize[1], image.channels]

  const executor = new GraphExecutor(graph, materializeWeights(graph), kernels)
  try {
    // One probe on a blank image records every activation's shape as it goes (the table's rows and layouts need
    // them); only the sinks are kept, so memory stays that of one forward pass.
    const probe = [image.batch ?? 1, image.channels, inputShape[0], inputShape[1]] // a fixed batch is probed at its size
    const shapes = new Map<string, number[]>([[image.name, probe]])
    const observe = (node: GraphNode, outs: readonly tf.Tensor[]) => outs.forEach((t, k) => node.outputs[k] && shapes.set(node.outputs[k]!, t.shape))
    const sinks = graph.nodes.map((n) => n.outputs[0] ?? '').filter((o) => o !== '' && executor.isDynamic(o) && !graph.consumers.has(o))
    const blank = () => executor.run(new Map([[image.name, tf.zeros(probe)]]), sinks, { observe })
    probeShapes(sinks, blank, file, inputShape)
    const table = buildLayerTable({
      graph,
      input: image.name,
      shapes,
      constDims: (t) => executor.constant(t)?.shape ?? null,
      constValues: (t) => {
        const c = executor.constant(t)
        return c && c.size <= 64 ? Array.from(c.dataSync()) : null
      },
    })
    const name = modelName(file, opened)
    const info = makeInfo({ id, dir: opened, name, warnings: image.warnings }, 'onnx', inputShape, side, table.architecture, [])
    const externalData = [...onnx.initializers.values()].some((i) => i.external)
    return new OnnxLoadedModel(info, executor, table, image, externalData)
  } catch (e) {
    executor.dispose()
    throw e
  }
}

const TO_NCHW = [0, 3, 1, 2]
const TO_NHWC = [0, 2, 3, 1]

class OnnxLoadedModel implements LoadedModel {
  readonly graph: LayerGraph
  private readonly kernels = new Map<string, tf.Tensor4D | null>()
  private readonly linear = new Map<string, LinearWeights | null>()
  private readonly releases: (() => void)[] = []
  readonly runtimeSource: RuntimeSource

  constructor(
    readonly info: ModelInfo,
    private readonly executor: GraphExecutor,
    private readonly table: LayerTable,
    private readonly image: OnnxImageInput,
    externalData: boolean,
  ) {
    this.graph = new LayerGraph(info)
    const file = executor.graph.file
    this.runtimeSource = {
      // onnxruntime reads the bytes from memory (with graph outputs added), where external data cannot be found.
      unsupported: externalData ? `${info.name} keeps weights in external-data files` : null,
      bytes: async () => new Uint8Array(await fs.readFile(file)),
      input: { name: image.name, batch: image.batch, channels: image.channels, layout: 'nchw', size: [image.height, image.width] },
      output: executor.graph.outputs[0]!.name,
      tensorOf: (name) => this.resolve(name),
      isNchw: (tensor, rank) => this.isNchw(tensor, rank),
      onDispose: (release) => void this.releases.push(release),
    }
  }

  /** The tensor a requested name stands for: a layer, OUTPUT, an ONNX node name (its first output) or a tensor name. */
  private resolve(name: string): string {
    const g = this.executor.graph
    if (name === OUTPUT) return g.outputs[0]!.name
    const layer = this.table.byName.get(name)
    if (layer) return layer.tensor
    const node = g.byName.get(name)
    if (node) return node.outputs[0]!
    if (g.producer.has(name) || name === this.image.name) return name
    throw new ConvscopeError('BAD_REQUEST', `Model ${this.info.name} has no layer, node or tensor "${name}"; ${suggestLayers(name, this.info.layers)}`)
  }

  /** Whether a tensor is a 4-D NCHW map (presented as NHWC). */
  private isNchw(tensor: string, rank: number): boolean {
    return rank === 4 && this.table.layouts.get(tensor) === 'nchw'
  }

  forward(input: tf.Tensor4D, layers: string[], options: ForwardOptions = {}): tf.Tensor[] {
    const { unique, index } = gather(layers, (n) => this.resolve(n))
    const replace = options.replace
    let fed: [string, tf.Tensor] | null = null
    if (replace) {
      const tensor = this.resolve(replace.layer)
      if (tensor === this.image.name) return this.forward(replace.value as tf.Tensor4D, layers)
      const entry = this.table.byName.get(replace.layer)
      const shape = entry ? this.info.layers.find((l) => l.name === entry.name)?.outputShape : undefined
      checkReplacement(this.info.name, replace.layer, shape ? [null, ...shape] : replace.value.shape.map(() => null), replace.value.shape, input.shape[0])
      fed = [tensor, replace.value]
    }
    const outs = tf.tidy(() => this.byRows(input, fed, (x, value) => {
      const feeds = new Map<string, tf.Tensor>([[this.image.name, tf.transpose(x, TO_NCHW)]])
      if (value && fed) feeds.set(fed[0], this.isNchw(fed[0], value.rank) ? tf.transpose(value, TO_NCHW) : value)
      return this.executor.run(feeds, unique).map((t, i) => (this.isNchw(unique[i]!, t.rank) ? tf.transpose(t, TO_NHWC) : t))
    }))
    return scatter(outs, index)
  }

  /** Run `run` on the whole batch, or image by image where the model fixes its batch to 1 (results stacked). */
  private byRows(input: tf.Tensor4D, fed: [string, tf.Tensor] | null, run: (x: tf.Tensor4D, value: tf.Tensor | null) => tf.Tensor[]): tf.Tensor[] {
    const n = input.shape[0]
    const batch = this.image.batch
    if (batch === null || batch === n) return run(input, fed?.[1] ?? null)
    if (batch !== 1) throw new ConvscopeError('BAD_REQUEST', `Model ${this.info.name} takes batches of exactly ${batch} images, got ${n}`)
    const rows = Array.from({ length: n }, (_, i) => run(tf.slice(input, i, 1), fed ? tf.slice(fed[1], i, 1) : null))
    return rows[0]!.map((_, k) => tf.concat(rows.map((r) => r[k]!)))
  }

  private layerNode(layer: string): { entry: LayerEntry; node: GraphNode } | null {
    const entry = this.table.byName.get(this.graph.get(layer).name)!
    return entry.node ? { entry, node: entry.node } : null
  }

  kernel(layer: string): tf.Tensor4D | null {
    const name = this.graph.get(layer).name
    if (!this.kernels.has(name)) this.kernels.set(name, this.computeKernel(name))
    return this.kernels.get(name)!
  }

  private computeKernel(layer: string): tf.Tensor4D | null {
    const found = this.layerNode(layer)
    if (!found || found.node.opType !== 'Conv' || !this.graph.get(layer).hasFilters) return null
    const w = this.executor.constant(found.node.inputs[1] ?? '')
    if (!w || w.rank !== 4) return null
    const [out, perGroup, kh, kw] = w.shape as [number, number, number, number]
    const group = (found.node.attributes.group as number | undefined) ?? 1
    return tf.tidy(() => {
      // Depthwise [C·k, 1, kh, kw] (output channel c·k + m) → [kh, kw, C, k]; otherwise [out, in, kh, kw] → [kh, kw, in, out].
      if (group > 1 && perGroup === 1) return tf.keep(tf.transpose(tf.reshape(w, [group, out / group, kh, kw]), [2, 3, 0, 1]) as tf.Tensor4D)
      return tf.keep(tf.transpose(w, [2, 3, 1, 0]) as tf.Tensor4D)
    })
  }

  linearWeights(layer: string): LinearWeights | null {
    const name = this.graph.get(layer).name
    if (!this.linear.has(name)) this.linear.set(name, this.computeLinear(name))
    return this.linear.get(name)!
  }

  private computeLinear(layer: string): LinearWeights | null {
    const found = this.layerNode(layer)
    if (!found) return null
    const { node, entry } = found
    const constant = (name: string | undefined) => this.executor.constant(name ?? '') ?? null
    // A Linear on more than two axes is MatMul then Add of the bias, in one leaf module.
    const matMul = entry.members.find((n) => n.opType === 'MatMul')
    if (node.opType === 'Add' && matMul && entry.members.length === 2) {
      const w = constant(matMul.inputs[1])
      const bias = constant(node.inputs.find((i) => i !== matMul.outputs[0]))
      if (!w || w.rank !== 2 || !bias || bias.size !== w.shape[1]) return null
      return { kernel: tf.keep(tf.clone(w)), bias: tf.keep(tf.reshape(bias, [w.shape[1]!])) as tf.Tensor1D }
    }
    const c = (k: number) => this.executor.constant(node.inputs[k] ?? '') ?? null
    const w = c(1)
    const keepBias = (t: tf.Tensor | null, out: number, scale = 1): tf.Tensor1D | null =>
      t && t.size === out ? tf.keep(tf.tidy(() => tf.mul(tf.reshape(t, [out]), scale) as tf.Tensor1D)) : null
    if (node.opType === 'Gemm') {
      const a = node.attributes
      if (!w || w.rank !== 2 || a.transA === 1) return null
      const alpha = typeof a.alpha === 'number' ? a.alpha : 1
      const beta = typeof a.beta === 'number' ? a.beta : 1
      // Y = alpha · X · op(B) + beta · C
      const kernel = tf.keep(tf.tidy(() => tf.mul(a.transB === 1 ? tf.transpose(w) : w, alpha)))
      return { kernel, bias: keepBias(c(2), kernel.shape[1]!, beta) }
    }
    if (node.opType === 'MatMul') return w && w.rank === 2 ? { kernel: tf.keep(tf.clone(w)), bias: null } : null
    if (node.opType === 'Conv' && this.graph.get(layer).kind === 'conv' && ((node.attributes.group as number | undefined) ?? 1) === 1) {
      const kernel = this.kernel(layer)
      return kernel ? { kernel: tf.keep(tf.clone(kernel)), bias: keepBias(c(2), kernel.shape[3]) } : null
    }
    return null
  }

  dispose(): void {
    for (const release of this.releases.splice(0)) release()
    for (const k of this.kernels.values()) k?.dispose()
    for (const l of this.linear.values()) tf.dispose([l?.kernel ?? [], l?.bias ?? []].flat())
    this.kernels.clear()
    this.linear.clear()
    this.executor.dispose()
  }
}

/** The file name without .onnx; a generic "model.onnx" (what exporters write) takes its folder's name instead. */
export function modelName(file: string, opened: string): string {
  const stem = path.basename(file).replace(/\.onnx$/i, '')
  if (opened !== file) return path.basename(opened)
  return stem.toLowerCase() === 'model' ? path.basename(path.dirname(file)) : stem
}
