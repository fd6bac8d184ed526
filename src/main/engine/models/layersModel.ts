/**
 * A TF.js layers model (Sequential or functional) as a LoadedModel. Outputs of inner layers come from cached
 * sub-models over the same weights; a replaced layer's value is fed by walking the layer graph by hand.
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type ModelInfo } from '../../../shared/api'
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

export async function loadLayersModel(folder: ModelFolder): Promise<LoadedModel> {
  const file = folder.modelJsonPath
  const loaded = await buildModel(() => tf.loadLayersModel({ load: async () => folder.artifacts }), file)
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

    const probe = () => tf.model({ inputs: model.inputs, outputs: inner.map(symbolicOutput) }).apply(tf.zeros([1, ...inputShape]), { training: false }) as tf.Tensor | tf.Tensor[]
    const shapes = new Map<string, Shape>([
      ...[...inputLayers].map((name): [string, Shape] => [name, [...inputShape]]),
      ...probeShapes(inner.map((l) => l.name), probe, file, inputShape),
    ])
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
  readonly graph: LayerGraph

  constructor(
    private readonly model: tf.LayersModel,
    /** What tfjs loaded (the Sequential itself, or the same as `model`): it owns the weights. */
    private readonly owner: tf.LayersModel,
    readonly info: ModelInfo,
  ) {
    this.inputName = model.inputLayers[0]!.name
    this.outputName = model.outputs[0]!.sourceLayer.name
    this.graph = new LayerGraph(info)
  }

  private resolve(n: string): string {
    return this.graph.get(n === OUTPUT ? this.outputName : n).name
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
    const info = this.graph.get(layer)
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
