/**
 * A TF.js graph model (a converted TensorFlow graph) as a LoadedModel. Its rows are the layer-like chains the
 * architecture sketch finds; any node of the graph can still be asked for by name ("name" or "name:k").
 *
 * It runs on the format-neutral executor (issue 10: one executor for every format): graph/fromTfGraph.ts reads
 * the GraphDef, graph/ops/tf/ has TensorFlow's ops. Unsupported ops are refused at open, naming op and node.
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ModelInfo } from '../../../shared/api'
import { type WrittenSource, writtenRuntimeSource } from '../executors/toOnnx'
import { checkKernels, GraphExecutor } from '../graph/executor'
import { graphFromTfGraph, tfTensorName } from '../graph/fromTfGraph'
import { materializeWeights, tfDtypeOf } from '../graph/modelGraph'
import { kernelFor } from '../graph/ops'
import { type ForwardOptions, type LinearWeights, type LoadedModel, OUTPUT } from '../model'
import { finishArchitecture, type GraphSketch, type Shape, sketchGraphModel } from './architecture'
import { checkReplacement, gather, scatter } from './forwardOutputs'
import type { ModelFolder } from './fsIOHandler'
import { checkGraph, dataInputs, type NodeDefJSON, nodeNameOf } from './graphDef'
import { LayerGraph } from './layerGraph'
import { checkImageInput, makeInfo, probeShapes } from './modelOpening'
import { readSidecar } from './sidecar'

export async function loadGraphModel(folder: ModelFolder): Promise<LoadedModel> {
  const file = folder.modelJsonPath
  const graphDef = checkGraph(folder.json.modelTopology, file)
  const graph = graphFromTfGraph({ file, graphDef, artifacts: folder.artifacts })
  checkKernels(graph, kernelFor)
  const input = graph.inputs[0]
  const dims = input?.dims?.map((d) => (typeof d === 'number' ? d : null))
  const [h, w, c] = checkImageInput(dims, graph.inputs.length, file)
  const executor = new GraphExecutor(graph, materializeWeights(graph), kernelFor)
  try {
    const warnings: string[] = []
    if (dims === undefined) warnings.push(`${file}: the input placeholder has no shape; assumed 3 channels`)
    const side = await readSidecar(folder.dir, [h, w])
    const inputShape: [number, number, number] = [side.preprocessing.inputSize[0], side.preprocessing.inputSize[1], c]

    const constValue = (name: string): number[] | null => {
      const t = executor.constant(name)
      return t && t.size <= 64 ? Array.from(t.dataSync()) : null
    }
    const sketch = sketchGraphModel(graphDef, tf.io.getWeightSpecs(folder.json.weightsManifest), constValue)
    warnings.push(...sketch.warnings)
    const inputRow = sketch.sketches.find((s) => s.kind === 'input')
    const rows = sketch.sketches.filter((s) => s.kind !== 'input')

    const blank = () => tf.zeros([1, ...inputShape], tfDtypeOf(input!.dtype === 'undefined' ? 'float32' : input!.dtype))
    const probe = () => (rows.length ? executor.run(new Map([[input!.name, blank()]]), rows.map((s) => tfTensorName(s.node))) : [])
    const shapes = new Map<string, Shape>([
      ...(inputRow ? [[inputRow.name, [...inputShape]] as [string, Shape]] : []),
      ...probeShapes(rows.map((s) => s.name), probe, file, inputShape),
    ])
    const arch = finishArchitecture(sketch.sketches, shapes)
    const info = makeInfo(folder, 'graph', inputShape, side, arch, warnings)
    const nodes = new Map(graphDef.node.map((n) => [n.name, n]))
    const batch = dims?.[0]
    const fixedBatch = typeof batch === 'number' && batch > 0 ? batch : null
    const fixedImage = dims?.slice(1) ?? [null, null, null]
    return new GraphLoadedModel(executor, info, sketch.sketches, nodes, input!.name, fixedBatch, fixedImage)
  } catch (e) {
    executor.dispose()
    throw e
  }
}

class GraphLoadedModel implements LoadedModel {
  private readonly rows: Map<string, GraphSketch>
  readonly graph: LayerGraph
  /** The graph written as ONNX for onnxruntime (executors/toOnnx), NHWC as forward gives it. */
  readonly runtimeSource: WrittenSource

  constructor(
    private readonly executor: GraphExecutor,
    readonly info: ModelInfo,
    sketches: GraphSketch[],
    private readonly nodes: Map<string, NodeDefJSON>,
    private readonly inputName: string,
    /** Batch size the placeholder insists on (converted graphs sometimes fix it to 1), or null. */
    private readonly fixedBatch: number | null,
    /** [height, width, channels] the placeholder fixes (null where any size goes). */
    private readonly fixedImage: (number | null)[],
  ) {
    this.rows = new Map(sketches.map((s) => [s.name, s]))
    this.graph = new LayerGraph(info)
    this.runtimeSource = writtenRuntimeSource({
      graph: executor.graph,
      constant: (name) => executor.constant(name),
      input: { batch: fixedBatch, size: [fixedImage[0] ?? null, fixedImage[1] ?? null], channels: info.inputShape[2] },
      tensorOf: (name) => tfTensorName(this.resolve(name)),
    })
  }

  /** A placeholder with fixed sizes takes only those (as TensorFlow and tf.GraphModel refuse others; a plain Error, as theirs). */
  private checkInput(x: tf.Tensor): void {
    const [, ...hwc] = x.shape
    if (this.fixedImage.some((d, i) => d !== null && d !== hwc[i])) {
      const want = `[${this.fixedImage.map((d) => d ?? 'any').join(', ')}]`
      throw new Error(`the input placeholder "${this.inputName}" takes images of ${want} (height, width, channels), got [${hwc.join(', ')}]`)
    }
  }

  private execute(input: tf.Tensor4D, names: string[]): tf.Tensor[] {
    this.checkInput(input)
    const run = (x: tf.Tensor4D) => this.executor.run(new Map([[this.inputName, x]]), names.map(tfTensorName))
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
    if (n === OUTPUT) return this.executor.graph.outputs[0]!.name
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
    this.checkInput(input)
    const row = this.rows.get(replace.layer)
    const expected = row ? [null, ...(this.graph.find(row.name)?.outputShape ?? [])] : replace.value.shape.map(() => null)
    checkReplacement(this.info.name, replace.layer, expected, replace.value.shape, n)
    const run = (x: tf.Tensor, value: tf.Tensor): tf.Tensor[] =>
      this.executor.run(
        new Map([
          [this.inputName, x],
          [tfTensorName(node), value],
        ]),
        names.map(tfTensorName),
      )
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
    const row = this.rows.get(this.graph.get(layer).name)! // one row per layer of info
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
      return n ? (this.executor.constant(n.name) ?? null) : null
    }
    const kernel = constant(inputs[1] ?? null)
    if (!kernel || kernel.rank !== (node.op.endsWith('MatMul') ? 2 : 4)) return null
    const bias = constant(biasConst)
    return { kernel, bias: bias && bias.rank === 1 ? (bias as tf.Tensor1D) : null }
  }

  kernel(layer: string): tf.Tensor4D | null {
    const row = this.rows.get(this.graph.get(layer).name)! // one row per layer of info
    if (!row.kernelConst) return null
    const t = this.executor.constant(row.kernelConst)
    return t && t.rank === 4 ? (t as tf.Tensor4D) : null
  }

  dispose(): void {
    this.runtimeSource.dispose()
    this.executor.dispose()
  }
}

