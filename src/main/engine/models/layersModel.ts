/**
 * A TF.js layers model (Sequential or functional) as a LoadedModel. tfjs-layers reads the folder (layer
 * configs, weights, the architecture table); the model then runs on the format-neutral executor
 * (graph/fromKerasLayers.ts, issue 10), like ONNX and graph models: inner layers' outputs, a replaced layer's
 * value fed in while paths around it still read the real input, gradients through it all.
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ModelInfo } from '../../../shared/api'
import { sizeFreeLayers, type WrittenSource, writtenRuntimeSource } from '../executors/toOnnx'
import { GraphExecutor } from '../graph/executor'
import { graphFromKerasLayers } from '../graph/fromKerasLayers'
import { materializeWeights } from '../graph/modelGraph'
import { kernelFor } from '../graph/ops'
import { type ForwardOptions, type LinearWeights, type LoadedModel, OUTPUT } from '../model'
import { finishArchitecture, type Shape, sketchLayersModel } from './architecture'
import { checkReplacement, gather, scatter } from './forwardOutputs'
import type { ModelFolder } from './fsIOHandler'
import { LayerGraph } from './layerGraph'
import { buildModel, checkImageInput, makeInfo, probeShapes } from './modelOpening'
import { readSidecar } from './sidecar'

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

/** What the model keeps of each layer once tfjs-layers' model is gone. */
interface LayerFacts {
  /** The graph tensor that is the layer's output. */
  tensor: string
  className: string
  /** The output shape tfjs-layers declares (null where the model leaves a size open), batch first. */
  shape: (number | null)[]
}

export async function loadLayersModel(folder: ModelFolder): Promise<LoadedModel> {
  const file = folder.modelJsonPath
  const loaded = await buildModel(() => tf.loadLayersModel({ load: async () => folder.artifacts }), file)
  let executor: GraphExecutor | undefined
  try {
    // A Sequential hides its input layer; a functional view over the same layers shows the whole graph.
    const model = loaded instanceof tf.Sequential ? tf.model({ inputs: loaded.inputs, outputs: loaded.outputs }) : loaded
    refuseIgnoredDilation(model, file)
    const [h, w, c] = checkImageInput(model.inputs[0]?.shape, model.inputs.length, file)
    const side = await readSidecar(folder.dir, [h, w])
    const inputShape: [number, number, number] = [side.preprocessing.inputSize[0], side.preprocessing.inputSize[1], c]
    const { sketches, warnings } = sketchLayersModel(model)
    const inputName = model.inputLayers[0]!.name
    const { graph, layerOutputs } = graphFromKerasLayers(model, file)
    // The executor holds copies of the weights: tfjs-layers' model is disposed below.
    executor = new GraphExecutor(graph, materializeWeights(graph), kernelFor)
    const layers = new Map<string, LayerFacts>(
      model.layers.map((l) => [
        l.name,
        { tensor: layerOutputs.get(l.name)!, className: l.getClassName(), shape: l.name === inputName ? model.inputs[0]!.shape : symbolicOutput(l).shape },
      ]),
    )
    const inner = model.layers.filter((l) => l.name !== inputName).map((l) => l.name)
    const run = executor
    const probe = () => run.run(new Map([[inputName, tf.zeros([1, ...inputShape])]]), inner.map((n) => layers.get(n)!.tensor))
    const shapes = new Map<string, Shape>([[inputName, [...inputShape]], ...probeShapes(inner, probe, file, inputShape)])
    const arch = finishArchitecture(sketches, shapes)
    const info = makeInfo(folder, 'layers', inputShape, side, arch, warnings)
    const output = model.outputs[0]!.sourceLayer.name
    const [, height, width] = model.inputs[0]!.shape
    loaded.dispose()
    return new LayersLoadedModel(executor, info, layers, inputName, output, [height ?? null, width ?? null])
  } catch (e) {
    executor?.dispose()
    loaded.dispose()
    throw e
  }
}

class LayersLoadedModel implements LoadedModel {
  readonly graph: LayerGraph
  /** The layers written as ONNX for onnxruntime (executors/toOnnx), NHWC as forward gives them. */
  readonly runtimeSource: WrittenSource

  constructor(
    private readonly executor: GraphExecutor,
    readonly info: ModelInfo,
    private readonly layers: ReadonlyMap<string, LayerFacts>,
    private readonly inputName: string,
    private readonly outputName: string,
    /** [height, width] the model fixes (null where it leaves a size open). */
    inputSize: [number | null, number | null],
  ) {
    this.graph = new LayerGraph(info)
    const ranks = new Map([...layers.values()].map((f) => [f.tensor, f.shape.length]))
    this.runtimeSource = writtenRuntimeSource({
      graph: executor.graph,
      constant: (name) => executor.constant(name),
      rank: (tensor) => ranks.get(tensor) ?? null,
      // Height and width stay free where no layer fixes them, as the executor runs such models at any size.
      input: { batch: null, size: sizeFreeLayers(executor.graph) ? [null, null] : inputSize, channels: info.inputShape[2] },
      tensorOf: (name) => this.facts(this.resolve(name)).tensor,
    })
  }

  private resolve(n: string): string {
    return this.graph.get(n === OUTPUT ? this.outputName : n).name
  }

  private facts(name: string): LayerFacts {
    return this.layers.get(name)!
  }

  forward(input: tf.Tensor4D, layers: string[], options: ForwardOptions = {}): tf.Tensor[] {
    const { unique, index } = gather(layers, (n) => this.resolve(n))
    const feeds = new Map<string, tf.Tensor>([[this.inputName, input]])
    const replace = options.replace
    if (replace) {
      const layer = this.resolve(replace.layer)
      checkReplacement(this.info.name, layer, this.facts(layer).shape, replace.value.shape, input.shape[0])
      // The executor stops at a fed tensor: layers after it read the value, paths around it the real input.
      feeds.set(this.facts(layer).tensor, replace.value)
    }
    return scatter(this.executor.run(feeds, unique.map((n) => this.facts(n).tensor)), index)
  }

  /** A weight of the layer ("kernel", "bias", ...), held by the executor; undefined if it has none. */
  private weight(layer: string, name: string): tf.Tensor | undefined {
    return this.executor.constant(`${layer}/${name}`)
  }

  linearWeights(layer: string): LinearWeights | null {
    const name = this.resolve(layer)
    const cls = this.facts(name).className
    if (name === this.inputName || (cls !== 'Dense' && cls !== 'Conv2D')) return null
    const kernel = this.weight(name, 'kernel')
    if (!kernel) return null
    const bias = this.weight(name, 'bias')
    return { kernel, bias: bias && bias.rank === 1 ? (bias as tf.Tensor1D) : null }
  }

  kernel(layer: string): tf.Tensor4D | null {
    const info = this.graph.get(layer)
    if (!info.hasFilters) return null
    const weight = this.weight(info.name, info.kind === 'depthwise' ? 'depthwise_kernel' : 'kernel')
    return weight && weight.rank === 4 ? (weight as tf.Tensor4D) : null
  }

  dispose(): void {
    this.runtimeSource.dispose()
    this.executor.dispose()
  }
}
