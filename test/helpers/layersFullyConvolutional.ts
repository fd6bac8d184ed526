/**
 * Fully-convolutional class maps (issue 5, item 3): rewrite a layers model's flatten → dense head as
 * convolutions, so the network runs on inputs larger than it was trained on and gives one classification per
 * position (Long, Shelhamer & Darrell's "convolutionalization"; the seed's 451×451 AlexNet example).
 * Since issue 10 the Classes view and `convscope fcn` use the format-neutral form (src/main/engine/models/
 * convolutionalHead.ts: layers, graph and ONNX models); this rewrite of a layers model into a standalone
 * tf.LayersModel is kept here, in the tests, as the independent implementation the neutral form is checked against.
 *
 * The rewrite, layer by layer along the graph:
 * - The first Dense after a Flatten of an h×w×c map becomes an h×w 'valid' Conv2D with c inputs. TF.js flattens
 *   NHWC row-major (index (i·w + j)·c + k), so the dense kernel [h·w·c, units] reshaped to [h, w, c, units]
 *   is exactly the conv kernel.
 * - Dense layers after it become 1×1 convs; elementwise layers after it (activations, batch norm, softmax)
 *   act on the channel axis, which holds what was the vector: softmax is over classes at every position.
 * - Dropout (and the other training-only noise layers) is dropped: the rewrite is for inference.
 * - A network that is already fully convolutional up to a global pooling head (GAP / GMP → dense) gets its
 *   per-position map by removing the global pooling: the dense layer becomes a 1×1 conv on the last conv map
 *   (for GAP, that is the class activation map of Zhou et al. 2016), then softmax per position. For GAP the
 *   spatial mean of that logit map is the original network's logits; for GMP no such identity holds.
 * - Every other layer before the head is copied (same config, the same weight values, open input size).
 * Anything else on a vector (a Dense after a Reshape, a Flatten of a map of unknown size, Concatenate of
 * vectors along another axis, a layer called twice) is refused with a message naming the layer.
 *
 * With a flatten → dense head, one position of the output corresponds to one window of the training input
 * size, `stride` pixels apart. The output at that position equals the original network applied to that
 * window only when the layers before the head do not pad ('valid' convolutions and pools): 'same' padding
 * lets the window's surroundings in (see docs/localization.md for what we measured on the demo network).
 * `cells` gives both the window and the receptive field (everything the position can see) in input pixels.
 * With a global-pooling head a position is one unit of the last conv map; it has no window of its own, so
 * its window is its receptive field.
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../src/shared/api'
import { layersArchitecture, type Shape } from '../../src/main/engine/models/architecture'
import type { ClassGridNetwork, FcnHead } from '../../src/main/engine/models/classGrid'
import { type ModelFolder, readModelFolder } from '../../src/main/engine/models/fsIOHandler'

// The grid runner is shared with the format-neutral path (convolutionalHead.ts); re-exported for existing callers.
export { classMapGrid, type FcnCell, type FcnGrid, type FcnHead } from '../../src/main/engine/models/classGrid'

/** The layers rewrite: a standalone network, input [n, any, any, c] → [n, H', W', classes]. */
export interface FullyConvolutional extends ClassGridNetwork {
  /** Owns its weights (copies of the original's values). */
  model: tf.LayersModel
}

// ---------------------------------------------------------------------------------------------------
// The rewrite
// ---------------------------------------------------------------------------------------------------

/** Layers that are the identity at inference. */
const INFERENCE_IDENTITY = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout'])
/** Layers that act on each element (or each channel along the last axis) and so work on a map as on a vector. */
const PER_UNIT = new Set(['Activation', 'ReLU', 'LeakyReLU', 'ELU', 'ThresholdedReLU', 'Softmax', 'BatchNormalization'])
/** Elementwise layers that commute with Flatten (no per-feature parameters). */
const ELEMENTWISE = new Set(['Activation', 'ReLU', 'LeakyReLU', 'ELU', 'ThresholdedReLU'])
const MERGES = new Set(['Add', 'Multiply', 'Average', 'Maximum', 'Minimum', 'Subtract', 'Concatenate'])
const GLOBAL_POOLS = new Set(['GlobalAveragePooling2D', 'GlobalMaxPooling2D'])
/** Spatial layers whose config fixes a size that the open input would break. */
const FIXED_SIZE = new Set(['Reshape', 'Permute', 'RepeatVector'])

/**
 * What a layer's output is in the rewritten graph:
 * - map: a spatial map, as in the original;
 * - flat: the original flattened this map (h×w×c); the Dense that reads it becomes an h×w conv;
 * - vector: the original had a vector here; the rewrite has a map whose channels are that vector at each position.
 */
type Value =
  | { kind: 'map'; t: tf.SymbolicTensor }
  | { kind: 'flat'; t: tf.SymbolicTensor; h: number; w: number; c: number; flatten: string }
  | { kind: 'vector'; t: tf.SymbolicTensor }

type Config = Record<string, unknown>

const refuse = (why: string): never => {
  throw new ConvscopeError('UNSUPPORTED_OP', `No fully-convolutional rewrite: ${why}`)
}

/** A new layer of the same class and config, without its fixed input shape; the caller copies the weights. */
function cloneLayer(layer: tf.layers.Layer, changes: Config = {}): tf.layers.Layer {
  const config = { ...(layer.getConfig() as Config), ...changes }
  delete config.batchInputShape
  delete config.inputShape
  delete config.inputDim
  const cls = layer.constructor as unknown as tf.serialization.SerializableConstructor<tf.layers.Layer>
  return cls.fromConfig(cls, config as tf.serialization.ConfigDict)
}

/** Apply `layer` and copy `values` into its weights (the values are shared storage, not re-read later). */
function applyWith(layer: tf.layers.Layer, input: tf.SymbolicTensor | tf.SymbolicTensor[], values: tf.Tensor[]): tf.SymbolicTensor {
  const out = layer.apply(input) as tf.SymbolicTensor
  if (values.length) layer.setWeights(values)
  return out
}

function inboundLayers(layer: tf.layers.Layer): tf.layers.Layer[] {
  if (layer.inboundNodes.length !== 1) refuse(`layer "${layer.name}" is called ${layer.inboundNodes.length} times; shared layers are not supported`)
  return layer.inboundNodes[0]!.inboundLayers
}

/** The single [h, w, c] shape a layer outputs (without batch). */
function outputShapeOf(layer: tf.layers.Layer): Shape {
  const s = layer.outputShape
  return ((Array.isArray(s[0]) ? s[0] : s) as Shape).slice(1)
}

/** The vector axis of a per-unit layer applied to a rank-2 tensor is its last; on the map it must be -1 too. */
function lastAxisConfig(layer: tf.layers.Layer): Config {
  const config = layer.getConfig() as Config
  if (!('axis' in config)) return {}
  const axis = config.axis
  const a = Array.isArray(axis) ? axis : [axis]
  if (a.length !== 1 || (a[0] !== -1 && a[0] !== 1)) refuse(`layer "${layer.name}" (${layer.getClassName()}) works along axis ${JSON.stringify(axis)} of a vector, not along its units`)
  return { axis: -1 }
}

/** The Dense layer as a conv: kernel [kh, kw, c, units] from the dense kernel [kh·kw·c, units]. */
function denseAsConv(dense: tf.layers.Layer, input: tf.SymbolicTensor, kh: number, kw: number, c: number, track: (l: tf.layers.Layer) => void): tf.SymbolicTensor {
  const config = dense.getConfig() as Config
  const [kernel, bias] = dense.getWeights()
  if (!kernel || kernel.shape.length !== 2) refuse(`layer "${dense.name}" (Dense) has no 2-D kernel`)
  const units = kernel!.shape[1]!
  if (kernel!.shape[0] !== kh * kw * c) refuse(`layer "${dense.name}" (Dense) has ${kernel!.shape[0]} inputs, but its input map is ${kh}×${kw}×${c} = ${kh * kw * c}`)
  const conv = tf.layers.conv2d({
    name: dense.name,
    filters: units,
    kernelSize: [kh, kw],
    padding: 'valid',
    activation: config.activation as Parameters<typeof tf.layers.conv2d>[0]['activation'],
    useBias: config.useBias as boolean,
  })
  track(conv)
  const values = tf.tidy(() => [kernel!.reshape([kh, kw, c, units]), ...(bias ? [bias.clone()] : [])])
  try {
    return applyWith(conv, input, values)
  } finally {
    tf.dispose(values)
  }
}

/** The input [height, width, channels] the model was built for. */
function trainingInput(model: tf.LayersModel): [number, number, number] {
  const shape = model.inputs[0]?.shape
  if (model.inputs.length !== 1 || !shape || shape.length !== 4) refuse('the model needs exactly one image input [batch, height, width, channels]')
  const [, h, w, c] = shape!
  if (c == null) refuse("the model's input has an unknown number of channels")
  if (h == null || w == null) refuse('the model already accepts any input size, so it has no flatten → dense head to rewrite; read its output directly')
  return [h!, w!, c!]
}

/** Rewrite `model` (a layers model; Sequential or functional) as a fully-convolutional network. */
export function toFullyConvolutional(model: tf.LayersModel): FullyConvolutional {
  const functional = model instanceof tf.Sequential ? tf.model({ inputs: model.inputs, outputs: model.outputs }) : model
  if (functional.outputs.length !== 1) refuse(`the model has ${functional.outputs.length} outputs; one (the class scores) is needed`)
  const [h0, w0, c0] = trainingInput(functional)
  const steps: string[] = []
  let head: FcnHead | null = null
  const created: tf.layers.Layer[] = []
  const values = new Map<string, Value>()
  const input = tf.input({ shape: [null, null, c0], name: functional.inputLayers[0]!.name })

  try {
    for (const layer of functional.layers) {
      const type = layer.getClassName()
      if (type === 'InputLayer') {
        values.set(layer.name, { kind: 'map', t: input })
        continue
      }
      const ins = inboundLayers(layer).map((l) => values.get(l.name) ?? refuse(`layer "${layer.name}" reads "${l.name}", which comes before it in no order we can follow`))
      const one = ins[0]!
      const kinds = new Set(ins.map((v) => v.kind))
      const weights = () => layer.getWeights()
      const add = (copy: tf.layers.Layer) => (created.push(copy), copy)

      if (INFERENCE_IDENTITY.has(type)) {
        values.set(layer.name, one)
        steps.push(`${layer.name} (${type}) dropped: it is the identity at inference`)
      } else if (type === 'Flatten') {
        if (one.kind !== 'map') refuse(`layer "${layer.name}" (Flatten) flattens something that is not a spatial map`)
        const shape = outputShapeOf(inboundLayers(layer)[0]!)
        if (shape.length !== 3 || shape.some((d) => d == null)) {
          refuse(`layer "${layer.name}" (Flatten) flattens a map of shape [${shape.map((d) => d ?? '?').join(', ')}]; an h×w×c map of known size is needed`)
        }
        const [h, w, c] = shape as [number, number, number]
        values.set(layer.name, { kind: 'flat', t: one.t, h, w, c, flatten: layer.name })
      } else if (type === 'Dense') {
        if (one.kind === 'flat') {
          values.set(layer.name, { kind: 'vector', t: denseAsConv(layer, one.t, one.h, one.w, one.c, add) })
          steps.push(`${one.flatten} (Flatten of ${one.h}×${one.w}×${one.c}) → ${layer.name} (Dense) became a ${one.h}×${one.w} convolution with ${one.c} inputs`)
          head = 'flatten-dense'
        } else {
          // On a vector-valued map the Dense is a 1×1 conv; on a spatial map, tfjs' Dense already acts on the channels alone.
          values.set(layer.name, { kind: one.kind, t: denseAsConv(layer, one.t, 1, 1, outputShapeOf(inboundLayers(layer)[0]!).at(-1)!, add) })
          steps.push(`${layer.name} (Dense) became a 1×1 convolution`)
        }
      } else if (GLOBAL_POOLS.has(type)) {
        if (one.kind !== 'map') refuse(`layer "${layer.name}" (${type}) pools something that is not a spatial map`)
        values.set(layer.name, { kind: 'vector', t: one.t })
        head ??= 'global-pooling'
        steps.push(
          `${layer.name} (${type}) removed: the layers after it run at every position of its input map` +
            (type === 'GlobalAveragePooling2D' ? ' (the spatial mean of the resulting logit map is the original logits)' : ' (the spatial max of that map is not the original logits: max does not commute with the dense layer)'),
        )
      } else if (one.kind === 'flat') {
        // Between Flatten and the first Dense only elementwise layers can be moved before the flatten.
        if (!ELEMENTWISE.has(type) || ins.length !== 1) refuse(`layer "${layer.name}" (${type}) sits between Flatten "${one.flatten}" and the first Dense; only elementwise activations and dropout can`)
        const copy = add(cloneLayer(layer))
        values.set(layer.name, { ...one, t: applyWith(copy, one.t, weights()) })
      } else if (kinds.size !== 1) {
        refuse(`layer "${layer.name}" (${type}) merges a spatial map with a vector`)
      } else if (one.kind === 'vector') {
        if (PER_UNIT.has(type) && ins.length === 1) {
          if (type === 'BatchNormalization' || type === 'Softmax') lastAxisConfig(layer)
          const copy = add(cloneLayer(layer, 'axis' in (layer.getConfig() as Config) ? { axis: -1 } : {}))
          values.set(layer.name, { kind: 'vector', t: applyWith(copy, one.t, weights()) })
        } else if (MERGES.has(type)) {
          const changes = type === 'Concatenate' ? lastAxisConfig(layer) : {}
          const copy = add(cloneLayer(layer, changes))
          values.set(layer.name, { kind: 'vector', t: applyWith(copy, ins.map((v) => v.t), weights()) })
        } else {
          refuse(`layer "${layer.name}" (${type}) works on a vector that does not come from Flatten or global pooling, so it has no convolutional equivalent here`)
        }
      } else {
        const shape = outputShapeOf(layer)
        if (FIXED_SIZE.has(type) || shape.length !== 3) {
          refuse(`layer "${layer.name}" (${type}) turns the spatial map into shape [${shape.map((d) => d ?? '?').join(', ')}] other than by Flatten or global pooling`)
        }
        const copy = add(cloneLayer(layer))
        values.set(layer.name, { kind: 'map', t: applyWith(copy, ins.length === 1 ? one.t : ins.map((v) => v.t), weights()) })
      }
    }

    const outLayer = functional.outputs[0]!.sourceLayer
    const out = values.get(outLayer.name)!
    if (out.kind !== 'vector' || head === null) refuse('the output is not class scores computed from a Flatten or a global pooling of a spatial map')
    const outShape = outputShapeOf(outLayer)
    const classes = outShape[0]
    if (outShape.length !== 1 || classes == null) refuse(`the output has shape [${outShape.join(', ')}], not one score per class`)
    const fcn = tf.model({ inputs: input, outputs: out.t, name: `${functional.name}_fcn` })
    const config = outLayer.getConfig() as Config
    const outputs = outLayer.getClassName() === 'Softmax' || config.activation === 'softmax' ? 'probabilities' : 'scores'
    steps.push(outputs === 'probabilities' ? 'softmax over the classes at every position' : 'the output has no softmax: the map holds class scores')
    return {
      model: fcn,
      head: head!,
      steps,
      trainingInputSize: [h0, w0],
      classes: classes!,
      outputs,
      predict: (x) => tf.tidy(() => fcn.predict(x) as tf.Tensor4D),
      // The rewritten network's own layer table at that input size: its last layer's field is a position's.
      positionField: (shape) => layersArchitecture(fcn, shapesAt(fcn, shape)).layers.at(-1)?.receptiveField ?? null,
      dispose: () => fcn.dispose(),
    }
  } catch (e) {
    for (const l of created) {
      try {
        l.dispose()
      } catch {
        // never applied (not built): it holds no weights
      }
    }
    throw e
  }
}

// ---------------------------------------------------------------------------------------------------
// Its receptive fields
// ---------------------------------------------------------------------------------------------------

/** Each layer's output shape (no batch) for an input of `size`, from the layers' own shape rules (no compute). */
function shapesAt(model: tf.LayersModel, size: [number, number, number]): Map<string, Shape> {
  const shapes = new Map<string, Shape>()
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') {
      shapes.set(layer.name, [...size])
      continue
    }
    const ins = layer.inboundNodes[0]!.inboundLayers.map((l) => [null, ...shapes.get(l.name)!])
    const out = layer.computeOutputShape(ins.length === 1 ? ins[0]! : ins) as Shape
    shapes.set(layer.name, out.slice(1))
  }
  return shapes
}

/** Read a layers model folder and rewrite it; the original's tensors are freed (the rewrite keeps its own references). */
export async function fullyConvolutionalFromFolder(dir: string): Promise<FullyConvolutional & { folder: ModelFolder }> {
  const folder = await readModelFolder(dir)
  if (folder.format !== 'layers') refuse(`${folder.modelJsonPath} is a graph model; the rewrite needs a layers model (its layers and weights by name)`)
  const original = await tf.loadLayersModel({ load: async () => folder.artifacts })
  try {
    return { ...toFullyConvolutional(original), folder }
  } finally {
    original.dispose()
  }
}
