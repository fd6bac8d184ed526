/**
 * Open a model folder (TF.js layers model or graph model) as a LoadedModel.
 *
 * Loading runs the model once on a blank image of the real input size: that gives every layer's output
 * shape (also for models that accept any size) and proves at open time, not in the middle of a scan, that
 * the active backend can run every op. Every failure is a ConvscopeError that names the file and the problem.
 */
import * as path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, ModelInfo, type Preprocessing } from '../../../shared/api'
import { type ForwardOptions, type LinearWeights, type LoadedModel, OUTPUT } from '../model'
import { type Architecture, finishArchitecture, type GraphSketch, type Shape, sketchGraphModel, sketchLayersModel } from './architecture'
import { readModelFolder, type ModelFolder } from './fsIOHandler'
import { checkGraph, dataInputs, type NodeDefJSON, nodeNameOf } from './graphDef'
import { readSidecar, type SidecarResult } from './sidecar'

/** Open the model in `dir` (a folder with model.json, or the model.json itself). */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const folder = await readModelFolder(dir)
  return folder.format === 'layers' ? loadLayersModel(folder) : loadGraphModel(folder)
}

// ---------------------------------------------------------------------------------------------------
// Shared
// ---------------------------------------------------------------------------------------------------

/** Turn a tfjs model-building error into a user message. */
function explainBuildError(e: unknown, file: string): ConvscopeError {
  if (e instanceof ConvscopeError) return e
  const message = e instanceof Error ? e.message : String(e)
  const unknown = /Unknown (layer|activation|initializer|regularizer|constraint): ([^\s.]+)/.exec(message)
  if (unknown) {
    return new ConvscopeError('UNSUPPORTED_OP', `${file}: ${unknown[1]} "${unknown[2]}" is not available in TensorFlow.js, so this model cannot be run`)
  }
  return new ConvscopeError('BAD_MODEL', `${file}: TensorFlow.js could not build the model: ${message}`)
}

/** Turn an error of the test run into a user message: missing kernels and unknown ops are UNSUPPORTED_OP. */
function explainRunError(e: unknown, file: string, inputShape: number[]): ConvscopeError {
  if (e instanceof ConvscopeError) return e
  const message = e instanceof Error ? e.message : String(e)
  const kernel = /Kernel '([^']+)' not registered for backend '([^']+)'/.exec(message)
  if (kernel) return new ConvscopeError('UNSUPPORTED_OP', `${file}: the model uses op "${kernel[1]}", which the ${kernel[2]} backend cannot run`)
  const op = /Unknown op '([^']+)'/.exec(message) ?? /Custom op (\S+) is not registered/.exec(message)
  if (op) return new ConvscopeError('UNSUPPORTED_OP', `${file}: the model uses op "${op[1]}", which TensorFlow.js cannot run`)
  const dynamic = /dynamic op '([^']+)'/.exec(message)
  if (dynamic) {
    return new ConvscopeError('UNSUPPORTED_OP', `${file}: the model uses control-flow op "${dynamic[1]}", which needs asynchronous execution; convscope runs models synchronously`)
  }
  return new ConvscopeError('BAD_MODEL', `${file}: running the model on a blank ${inputShape.join('×')} input failed: ${message}`)
}

/** The model's input must be one batch of images: [batch, height, width, channels]. */
function checkImageInput(shape: (number | null)[] | undefined, count: number, file: string): [number | null, number | null, number] {
  if (count !== 1) throw new ConvscopeError('BAD_MODEL', `${file}: the model has ${count} inputs; convscope needs exactly one image input`)
  if (shape === undefined) return [null, null, 3]
  if (shape.length !== 4) {
    throw new ConvscopeError(
      'BAD_MODEL',
      `${file}: the model's input has shape [${shape.map((d) => d ?? 'any').join(', ')}] (rank ${shape.length}); ` +
        'convscope needs an image input of rank 4: [batch, height, width, channels]',
    )
  }
  const channels = shape[3]
  if (channels === null || channels === undefined) throw new ConvscopeError('BAD_MODEL', `${file}: the model's input has an unknown number of channels`)
  return [shape[1] ?? null, shape[2] ?? null, channels]
}

function makeInfo(folder: ModelFolder, format: 'layers' | 'graph', inputShape: [number, number, number], side: SidecarResult, arch: Architecture, warnings: string[]): ModelInfo {
  const totalParams = arch.layers.reduce((a, l) => a + l.params, 0)
  const out = arch.layers[arch.layers.length - 1]?.outputShape
  const classes = out && out.length === 1 ? out[0] : null
  const all = [...warnings, ...folder.warnings, ...side.warnings, ...arch.warnings]
  if (side.labels && classes != null && side.labels.length !== classes) {
    all.push(`The label file has ${side.labels.length} labels but the model's output has ${classes} classes`)
  }
  return ModelInfo.parse({
    id: folder.id,
    dir: folder.dir,
    name: path.basename(folder.dir),
    format,
    inputShape,
    preprocessing: side.preprocessing satisfies Preprocessing,
    preprocessingDefaulted: side.defaulted,
    labels: side.labels,
    layers: arch.layers,
    totalParams,
    warnings: all,
  })
}

const dropBatch = (shape: readonly number[]): Shape => shape.slice(1)

/** Map requested names onto distinct targets, so duplicates become clones and the caller can dispose each result. */
function gather(names: string[], resolve: (name: string) => string): { unique: string[]; index: number[] } {
  const unique: string[] = []
  const index = names.map((n) => {
    const key = resolve(n)
    let i = unique.indexOf(key)
    if (i < 0) i = unique.push(key) - 1
    return i
  })
  return { unique, index }
}

function scatter(results: tf.Tensor[], index: number[]): tf.Tensor[] {
  const used = new Set<number>()
  return index.map((i) => {
    if (!used.has(i)) {
      used.add(i)
      return results[i]!
    }
    return results[i]!.clone()
  })
}

/** A replacement must have the replaced layer's shape (where the model fixes it) and the input's batch size. */
function checkReplacement(model: string, layer: string, expected: readonly (number | null | undefined)[], got: readonly number[], batch: number): void {
  const fits =
    got.length === expected.length && got[0] === batch && expected.every((d, i) => i === 0 || d === null || d === undefined || d < 0 || d === got[i])
  if (!fits) {
    const want = ['n', ...expected.slice(1).map((d) => (d === null || d === undefined || d < 0 ? 'any' : d))].join(', ')
    throw new ConvscopeError('BAD_REQUEST', `Model ${model}: the replacement for layer "${layer}" has shape [${got.join(', ')}]; it needs [${want}] with n = ${batch}, the input's batch`)
  }
}

// ---------------------------------------------------------------------------------------------------
// Layers models
// ---------------------------------------------------------------------------------------------------

/** A layer's output tensor in the outer model (for a nested model: its last call). */
function symbolicOutput(layer: tf.layers.Layer): tf.SymbolicTensor {
  const out = layer.inboundNodes.length > 1 ? layer.getOutputAt(layer.inboundNodes.length - 1) : layer.output
  return Array.isArray(out) ? out[0]! : out
}

/** tfjs-layers' DepthwiseConv2D drops dilationRate (a TODO in its call()), so such a model would run silently wrong. */
function refuseIgnoredDilation(model: tf.LayersModel, file: string): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'DepthwiseConv2D') continue
    const d = (layer.getConfig() as { dilationRate?: number | number[] }).dilationRate
    const rates = Array.isArray(d) ? d : [d ?? 1]
    if (rates.some((r) => r !== 1)) {
      throw new ConvscopeError(
        'UNSUPPORTED_OP',
        `${file}: layer "${layer.name}" is a DepthwiseConv2D with dilation_rate [${rates.join(', ')}]; TensorFlow.js ignores the dilation of depthwise layers, so its outputs would be wrong`,
      )
    }
  }
}

async function loadLayersModel(folder: ModelFolder): Promise<LoadedModel> {
  const file = folder.modelJsonPath
  let loaded: tf.LayersModel
  try {
    loaded = await tf.loadLayersModel({ load: async () => folder.artifacts })
  } catch (e) {
    throw explainBuildError(e, file)
  }
  try {
    // A Sequential hides its input layer; a functional view over the same layers shows the whole graph.
    const model = loaded instanceof tf.Sequential ? tf.model({ inputs: loaded.inputs, outputs: loaded.outputs }) : loaded
    refuseIgnoredDilation(model, file)
    const [h, w, c] = checkImageInput(model.inputs[0]?.shape, model.inputs.length, file)
    const side = await readSidecar(folder.dir, [h, w])
    const inputShape: [number, number, number] = [side.preprocessing.inputSize[0], side.preprocessing.inputSize[1], c]
    const { sketches, warnings } = sketchLayersModel(model)
    const inputLayers = new Set(model.inputLayers.map((l) => l.name))
    const inner = model.layers.filter((l) => !inputLayers.has(l.name))

    // One run to every layer: real shapes, and every op exercised on this backend.
    const shapes = new Map<string, Shape>()
    for (const name of inputLayers) shapes.set(name, [...inputShape])
    try {
      const probe = tf.model({ inputs: model.inputs, outputs: inner.map(symbolicOutput) })
      const outs = tf.tidy(() => {
        const r = probe.apply(tf.zeros([1, ...inputShape]), { training: false }) as tf.Tensor | tf.Tensor[]
        return Array.isArray(r) ? r : [r]
      }) as tf.Tensor[]
      inner.forEach((l, i) => shapes.set(l.name, dropBatch(outs[i]!.shape)))
      tf.dispose(outs)
    } catch (e) {
      throw explainRunError(e, file, inputShape)
    }
    const arch = finishArchitecture(sketches, shapes)
    const info = makeInfo(folder, 'layers', inputShape, side, arch, warnings)
    return new LayersLoadedModel(model, loaded, info)
  } catch (e) {
    loaded.dispose()
    throw e
  }
}

class LayersLoadedModel implements LoadedModel {
  /** Sub-models with the requested layers as outputs, per set of names (they share the base model's weights). */
  private readonly heads = new Map<string, tf.LayersModel>()
  private readonly inputName: string
  private readonly outputName: string

  constructor(
    private readonly model: tf.LayersModel,
    /** What tfjs loaded (the Sequential itself, or the same as `model`): it owns the weights. */
    private readonly owner: tf.LayersModel,
    readonly info: ModelInfo,
  ) {
    this.inputName = model.inputLayers[0]!.name
    this.outputName = model.outputs[0]!.sourceLayer.name
  }

  private resolve(n: string): string {
    const name = n === OUTPUT ? this.outputName : n
    if (!this.info.layers.some((l) => l.name === name)) throw new ConvscopeError('BAD_REQUEST', `Model ${this.info.name} has no layer "${n}"`)
    return name
  }

  private symbolic(name: string): tf.SymbolicTensor {
    return name === this.inputName ? this.model.inputs[0]! : symbolicOutput(this.model.getLayer(name))
  }

  forward(input: tf.Tensor4D, layers: string[], options: ForwardOptions = {}): tf.Tensor[] {
    const { unique, index } = gather(layers, (n) => this.resolve(n))
    if (options.replace) return scatter(this.forwardReplacing(input, unique, options.replace), index)
    const inner = unique.filter((n) => n !== this.inputName)
    let computed: tf.Tensor[] = []
    if (inner.length) {
      const head = this.head(inner)
      const r = head.apply(input, { training: false }) as tf.Tensor | tf.Tensor[]
      computed = Array.isArray(r) ? r : [r]
    }
    const results = unique.map((n) => (n === this.inputName ? input.clone() : computed[inner.indexOf(n)]!))
    return scatter(results, index)
  }

  /**
   * Walk the layer graph from the requested outputs back to the input or the replaced tensor, applying each
   * needed layer to real tensors (tfjs cannot build a sub-model whose input is an inner tensor).
   */
  private forwardReplacing(input: tf.Tensor4D, names: string[], replace: NonNullable<ForwardOptions['replace']>): tf.Tensor[] {
    const layer = this.resolve(replace.layer)
    const target = this.symbolic(layer)
    checkReplacement(this.info.name, layer, target.shape, replace.value.shape, input.shape[0])
    const given = new Map<number, tf.Tensor>([
      [this.model.inputs[0]!.id, input],
      [target.id, replace.value],
    ])
    return tf.tidy(() => {
      const values = new Map(given)
      const visit = (t: tf.SymbolicTensor): tf.Tensor => {
        const known = values.get(t.id)
        if (known) return known
        const node = t.sourceLayer.inboundNodes[t.nodeIndex]
        if (!node) throw new ConvscopeError('BAD_MODEL', `Model ${this.info.name}: no node computes the output of layer "${t.sourceLayer.name}"`)
        const inputs = node.inputTensors.map(visit)
        const out = t.sourceLayer.apply(inputs.length === 1 ? inputs[0]! : inputs, { ...node.callArgs, training: false }) as tf.Tensor | tf.Tensor[]
        const outs = Array.isArray(out) ? out : [out]
        node.outputTensors.forEach((s, i) => values.set(s.id, outs[i]!))
        return values.get(t.id)!
      }
      // A requested output that was given (the input, the replacement) is cloned: the caller keeps the original.
      return names.map((n) => {
        const t = visit(this.symbolic(n))
        return [...given.values()].includes(t) ? t.clone() : t
      })
    })
  }

  linearWeights(layer: string): LinearWeights | null {
    const name = this.resolve(layer)
    if (name === this.inputName) return null
    const l = this.model.getLayer(name)
    if (l.getClassName() !== 'Dense' && l.getClassName() !== 'Conv2D') return null
    const find = (suffix: string) => l.weights.find((v) => v.originalName.endsWith(`/${suffix}`) || v.originalName === suffix)?.read()
    const kernel = find('kernel')
    if (!kernel) return null
    const useBias = (l.getConfig() as { useBias?: boolean }).useBias !== false
    const bias = useBias ? find('bias') : undefined
    return { kernel, bias: bias && bias.rank === 1 ? (bias as tf.Tensor1D) : null }
  }

  private head(names: string[]): tf.LayersModel {
    const key = names.join('\u0000')
    let head = this.heads.get(key)
    if (!head) {
      head = tf.model({ inputs: this.model.inputs, outputs: names.map((n) => symbolicOutput(this.model.getLayer(n))) })
      if (this.heads.size >= 64) this.heads.delete(this.heads.keys().next().value!)
      this.heads.set(key, head)
    }
    return head
  }

  kernel(layer: string): tf.Tensor4D | null {
    const info = this.info.layers.find((l) => l.name === layer)
    if (!info) throw new ConvscopeError('BAD_REQUEST', `Model ${this.info.name} has no layer "${layer}"`)
    if (!info.hasFilters) return null
    const suffix = info.kind === 'depthwise' ? 'depthwise_kernel' : 'kernel'
    const weight = this.model.getLayer(layer).weights.find((v) => v.originalName.endsWith(`/${suffix}`) || v.originalName === suffix)
    return weight && weight.shape.length === 4 ? (weight.read() as tf.Tensor4D) : null
  }

  dispose(): void {
    this.heads.clear()
    this.owner.dispose()
  }
}

// ---------------------------------------------------------------------------------------------------
// Graph models
// ---------------------------------------------------------------------------------------------------

async function loadGraphModel(folder: ModelFolder): Promise<LoadedModel> {
  const file = folder.modelJsonPath
  const graph = checkGraph(folder.json.modelTopology, file)
  let model: tf.GraphModel
  try {
    model = await tf.loadGraphModel({ load: async () => folder.artifacts })
  } catch (e) {
    throw explainBuildError(e, file)
  }
  try {
    const input = model.inputs[0]
    const [h, w, c] = checkImageInput(input?.shape?.map((d) => (d < 0 ? null : d)), model.inputs.length, file)
    const warnings: string[] = []
    if (input?.shape === undefined) warnings.push(`${file}: the input placeholder has no shape; assumed 3 channels`)
    const side = await readSidecar(folder.dir, [h, w])
    const inputShape: [number, number, number] = [side.preprocessing.inputSize[0], side.preprocessing.inputSize[1], c]

    const constValue = (name: string): number[] | null => {
      const t = model.weights[name]?.[0]
      return t && t.size <= 64 ? Array.from(t.dataSync()) : null
    }
    const sketch = sketchGraphModel(graph, tf.io.getWeightSpecs(folder.json.weightsManifest), constValue)
    warnings.push(...sketch.warnings)
    const inputRow = sketch.sketches.find((s) => s.kind === 'input')
    const rows = sketch.sketches.filter((s) => s.kind !== 'input')

    const shapes = new Map<string, Shape>()
    if (inputRow) shapes.set(inputRow.name, [...inputShape])
    try {
      const outs = tf.tidy(() => {
        const zeros = tf.zeros([1, ...inputShape], input?.dtype ?? 'float32')
        const r = rows.length ? model.execute(zeros, rows.map((s) => s.node)) : []
        return Array.isArray(r) ? r : [r]
      }) as tf.Tensor[]
      rows.forEach((s, i) => shapes.set(s.name, dropBatch(outs[i]!.shape)))
      tf.dispose(outs)
    } catch (e) {
      throw explainRunError(e, file, inputShape)
    }
    const arch = finishArchitecture(sketch.sketches, shapes)
    const info = makeInfo(folder, 'graph', inputShape, side, arch, warnings)
    const nodes = new Map(graph.node.map((n) => [n.name, n]))
    const batch = input?.shape?.[0]
    const fixedBatch = batch !== undefined && batch > 0 ? batch : null
    return new GraphLoadedModel(model, info, sketch.sketches, nodes, inputRow?.name ?? input?.name ?? '', fixedBatch)
  } catch (e) {
    model.dispose()
    throw e
  }
}

class GraphLoadedModel implements LoadedModel {
  private readonly rows: Map<string, GraphSketch>

  constructor(
    private readonly model: tf.GraphModel,
    readonly info: ModelInfo,
    sketches: GraphSketch[],
    private readonly nodes: Map<string, NodeDefJSON>,
    private readonly inputName: string,
    /** Batch size the placeholder insists on (converted graphs sometimes fix it to 1), or null. */
    private readonly fixedBatch: number | null,
  ) {
    this.rows = new Map(sketches.map((s) => [s.name, s]))
  }

  private execute(input: tf.Tensor4D, names: string[]): tf.Tensor[] {
    const run = (x: tf.Tensor4D) => {
      const r = this.model.execute(x, names)
      return Array.isArray(r) ? r : [r]
    }
    const n = input.shape[0]
    if (this.fixedBatch === null || n === this.fixedBatch) return run(input)
    if (this.fixedBatch !== 1) {
      throw new ConvscopeError('BAD_REQUEST', `Model ${this.info.name} takes batches of exactly ${this.fixedBatch} images, got ${n}`)
    }
    // A graph fixed to batch 1: run the images one by one and stack the results.
    return tf.tidy(() => {
      const parts = tf.unstack(input).map((x) => run(x.expandDims(0) as tf.Tensor4D))
      return names.map((_, i) => tf.concat(parts.map((p) => p[i]!)))
    })
  }

  private resolve(n: string): string {
    if (n === OUTPUT) return this.model.outputNodes[0]!
    const row = this.rows.get(n)
    if (row) return row.node
    // Any node of the graph may be asked for by name ("name" or "name:k"), not only the rows we list.
    if (this.nodes.has(nodeNameOf(n))) return n
    throw new ConvscopeError('BAD_REQUEST', `Model ${this.info.name} has no layer or node "${n}"`)
  }

  forward(input: tf.Tensor4D, layers: string[], options: ForwardOptions = {}): tf.Tensor[] {
    const { unique, index } = gather(layers, (n) => this.resolve(n))
    if (options.replace) return scatter(this.forwardReplacing(input, unique, options.replace), index)
    const inner = unique.filter((n) => nodeNameOf(n) !== this.inputName)
    let computed: tf.Tensor[] = []
    if (inner.length) computed = this.execute(input, inner)
    const results = unique.map((n) => (nodeNameOf(n) === this.inputName ? input.clone() : computed[inner.indexOf(n)]!))
    return scatter(results, index)
  }

  /** Feed the replaced node's value beside the input: the executor stops at fed nodes and computes only what the outputs need. */
  private forwardReplacing(input: tf.Tensor4D, names: string[], replace: NonNullable<ForwardOptions['replace']>): tf.Tensor[] {
    const node = this.resolve(replace.layer)
    if (nodeNameOf(node) === this.inputName) return this.forward(replace.value as tf.Tensor4D, names)
    const n = input.shape[0]
    if (this.fixedBatch !== null && n !== this.fixedBatch && this.fixedBatch !== 1) {
      throw new ConvscopeError('BAD_REQUEST', `Model ${this.info.name} takes batches of exactly ${this.fixedBatch} images, got ${n}`)
    }
    const row = this.rows.get(replace.layer)
    const expected = row ? [null, ...(this.info.layers.find((l) => l.name === row.name)?.outputShape ?? [])] : replace.value.shape.map(() => null)
    checkReplacement(this.info.name, replace.layer, expected, replace.value.shape, n)
    const run = (x: tf.Tensor, value: tf.Tensor): tf.Tensor[] => {
      const r = this.model.execute({ [this.model.inputNodes[0]!]: x, [node]: value }, names)
      return Array.isArray(r) ? r : [r]
    }
    return tf.tidy(() => {
      // A graph fixed to batch 1: run row by row and stack (unstack and concat are differentiable).
      const outs =
        this.fixedBatch === 1 && n > 1
          ? ((rows) => names.map((_, i) => tf.concat(rows.map((r) => r[i]!))))(
              tf.unstack(input).map((x, i) => run(x.expandDims(0), tf.slice(replace.value, i, 1))),
            )
          : run(input, replace.value)
      // A requested output that was fed (the input, the replacement) is cloned: the caller keeps the original.
      return outs.map((t) => (t === input || t === replace.value ? t.clone() : t))
    })
  }

  linearWeights(layer: string): LinearWeights | null {
    const row = this.rows.get(layer)
    if (!row) throw new ConvscopeError('BAD_REQUEST', `Model ${this.info.name} has no layer "${layer}"`)
    if (row.kind !== 'dense' && row.kind !== 'conv') return null
    // The row is a chain op → (BiasAdd) → (activation) named after its last node: walk back to the op.
    let node = this.nodes.get(row.node)
    let biasConst: string | null = null
    while (node && node.op !== row.type) {
      const inputs = dataInputs(node)
      if (node.op === 'BiasAdd' || node.op === 'Add' || node.op === 'AddV2') biasConst = inputs[1] ?? null
      node = this.nodes.get(inputs[0] ?? '')
    }
    if (!node || node.attr?.transpose_a?.b || node.attr?.transpose_b?.b) return null
    if (!['MatMul', '_FusedMatMul', 'Conv2D', '_FusedConv2D'].includes(node.op)) return null
    const inputs = dataInputs(node)
    if (node.op.startsWith('_Fused')) biasConst = inputs[2] ?? null
    const constant = (name: string | null): tf.Tensor | null => {
      let n = name ? this.nodes.get(name) : undefined
      while (n && (n.op === 'Identity' || n.op === 'StopGradient') && dataInputs(n).length) n = this.nodes.get(dataInputs(n)[0]!)
      return n ? (this.model.weights[n.name]?.[0] ?? null) : null
    }
    const kernel = constant(inputs[1] ?? null)
    if (!kernel || kernel.rank !== (node.op.endsWith('MatMul') ? 2 : 4)) return null
    const bias = constant(biasConst)
    return { kernel, bias: bias && bias.rank === 1 ? (bias as tf.Tensor1D) : null }
  }

  kernel(layer: string): tf.Tensor4D | null {
    const row = this.rows.get(layer)
    if (!row) throw new ConvscopeError('BAD_REQUEST', `Model ${this.info.name} has no layer "${layer}"`)
    if (!row.kernelConst) return null
    const t = this.model.weights[row.kernelConst]?.[0]
    return t && t.rank === 4 ? (t as tf.Tensor4D) : null
  }

  dispose(): void {
    this.model.dispose()
  }
}
