/**
 * The fully-convolutional form of any opened model (issue 10): TF.js layers, TF.js graph and ONNX alike, from the
 * LoadedModel interface only (its layer table, forward to a layer, linearWeights), never from a format's files.
 *
 * The trunk (everything up to the map the classifier head reads) runs as the model itself does, at a larger
 * input; the head is applied at every position of the trunk's map (Long, Shelhamer & Darrell's
 * "convolutionalization"):
 * - flatten → dense: the first dense layer becomes an h0×w0 'valid' convolution over the h0×w0×c map it read at
 *   the training size. Its kernel [h0·w0·c, out] is reshaped in the order in which THAT format flattens a map:
 *   TF.js flattens NHWC tensors (index (i·w0 + j)·c + k), an ONNX model NCHW ones (index (k·h0 + i)·w0 + j).
 * - global pooling → dense: the pooling is removed and the layers after it run on the vector of every position
 *   (for average pooling the spatial mean of the logit map is the original logits: the CAM identity).
 * - The layers after that (dense layers, activations, softmax over the classes, dropout left out) run on the
 *   vector of each position: a dense layer on such a map is a 1×1 convolution.
 * The trunk's forward runs on onnxruntime where the model's runtime source takes any input size (trunkRequest).
 * Before it is used, the rewritten head is checked against the model on a random input at the training size:
 * the head applied to the model's own flattened / pooled features must give the model's output (1e-4 relative),
 * so a flatten order, an activation or a weight layout read wrongly is refused, never shown.
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, type LayerInfo, type ReceptiveField } from '../../../shared/api'
import { forwardTensors, type ForwardRequest } from '../executors/forward'
import { type LoadedModel, OUTPUT } from '../model'
import type { ClassGridNetwork, FcnHead } from './classGrid'

/** The head as found in the layer table, before any weight is read. */
export interface HeadPlan {
  head: FcnHead
  /** The spatial map the head reads: flattened (flatten-dense) or pooled (global-pooling). */
  trunk: LayerInfo
  /** Its [height, width, channels] at the training input size. */
  map: [number, number, number]
  /** The flatten (flatten-dense) or the global pooling that is removed (global-pooling). */
  boundary: LayerInfo
  /** Flatten-dense: elementwise activations between the flatten and the first dense, applied to the map. */
  beforeDense: LayerInfo[]
  /** From the first dense layer (flatten-dense) or the first layer after the pooling on, to the output. */
  tail: LayerInfo[]
}

/** Layers that are the identity at inference (ONNX and graph models drop them before they become layers). */
const INFERENCE_IDENTITY = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'Identity'])

/** Activations by the names the layer tables use, on a [positions, units] tensor (softmax: over the units). */
const ACTIVATIONS: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  linear: (x) => x,
  relu: (x) => tf.relu(x),
  relu6: (x) => tf.relu6(x),
  sigmoid: (x) => tf.sigmoid(x),
  tanh: (x) => tf.tanh(x),
  elu: (x) => tf.elu(x),
  selu: (x) => tf.selu(x),
  softplus: (x) => tf.softplus(x),
  softsign: (x) => x.div(x.abs().add(1)),
  swish: (x) => x.mul(tf.sigmoid(x)),
  softmax: (x) => tf.softmax(x),
  log_softmax: (x) => tf.logSoftmax(x),
}
const activationOf = (l: LayerInfo): string => l.activation ?? 'linear'
const knownActivation = (l: LayerInfo) => Object.hasOwn(ACTIVATIONS, activationOf(l))
const describe = (l: LayerInfo) => `"${l.name}" (${l.type})`
const isVector = (l: LayerInfo) => l.outputShape.length === 1
const isMaxPooling = (l: LayerInfo) => /max/i.test(l.type)

/** How the model's flatten orders a map's features: TF.js flattens its NHWC tensors, an ONNX model its NCHW ones. */
const flattenOrder = (model: LoadedModel): 'hwc' | 'chw' => (model.info.format === 'onnx' ? 'chw' : 'hwc')

/** The model's flatten → dense or global-pooling head, from its layer table alone; a reason for the user when it has none. */
export function planConvolutionalHead(model: LoadedModel): HeadPlan | string {
  const graph = model.graph
  const output = graph.layers.at(-1)
  if (!output || !isVector(output) || output.outputShape[0] == null) return 'its output is not one score per class'
  // Walk back from the output through the layers whose output is a vector: the head.
  const vectors: LayerInfo[] = []
  let l: LayerInfo | undefined = output
  while (l && isVector(l)) {
    vectors.unshift(l)
    const feeding: LayerInfo | undefined = graph.input(l)
    if (!feeding) return `${describe(l)} does not read exactly one layer, so the head is not one chain of layers`
    l = feeding
  }
  if (!l || l.outputShape.length !== 3) return 'it has no Flatten → Dense or global pooling → Dense head'
  let boundary = vectors[0]!
  let pooled = boundary.kind === 'global-pool'
  let trunk = l
  // A global pooling that keeps a 1×1 map (ONNX GlobalAveragePool, keep_dims) is read through a flatten: the pooling is the boundary.
  if (!pooled && l.kind === 'global-pool') {
    const before = graph.input(l)
    if (!before || before.outputShape.length !== 3) return `${describe(l)} does not read one spatial map`
    boundary = l
    pooled = true
    trunk = before
  }
  const map = trunk.outputShape
  if (map.some((d) => d == null)) return `${describe(trunk)} has an unknown size [${map.map((d) => d ?? '?').join(', ')}] at the training input`
  let rest = vectors.slice(boundary === vectors[0] ? 1 : 0)
  const beforeDense: LayerInfo[] = []
  if (!pooled) {
    if (boundary.kind !== 'reshape') return `${describe(boundary)} turns the map ${describe(trunk)} into a vector other than by a flatten or a global pooling`
    // A 1×1 map after a global pooling (convnext: pool → LayerNorm → flatten) stays 1×1 at any input size: no grid.
    for (let m: LayerInfo | undefined = trunk; m && m.outputShape[0] === 1 && m.outputShape[1] === 1; m = graph.input(m)) {
      if (m.kind === 'global-pool') {
        return `the flatten ${describe(boundary)} reads ${describe(trunk)}, which comes after the global pooling ${describe(m)}; the layers between them have no per-position form here, so every input size would give one position`
      }
    }
    const dense = rest.findIndex((x) => x.kind === 'dense')
    if (dense < 0) return `no dense layer reads the flatten ${describe(boundary)}`
    for (const x of rest.slice(0, dense)) {
      const elementwise = x.kind === 'activation' && knownActivation(x) && !activationOf(x).includes('softmax')
      if (!elementwise && !INFERENCE_IDENTITY.has(x.type)) return `${describe(x)} sits between the flatten ${describe(boundary)} and the first dense layer; only elementwise activations and dropout can`
      if (elementwise) beforeDense.push(x)
    }
    rest = rest.slice(dense)
  }
  for (const x of rest) {
    if (x.kind === 'dense' || INFERENCE_IDENTITY.has(x.type)) continue
    // A reshape of a vector into the same vector (a flatten after a 1×1 pooling) changes nothing.
    if (x.kind === 'reshape' && graph.input(x)?.outputShape.reduce((a: number, d) => a * (d ?? NaN), 1) === x.outputShape[0]) continue
    if (x.kind === 'activation' && knownActivation(x)) continue
    return `${describe(x)} works on the head's vector${x.kind === 'activation' ? ` with activation ${activationOf(x)}` : ''}, which has no convolutional equivalent here`
  }
  for (const x of rest) if (x.kind === 'dense' && !knownActivation(x)) return `the dense layer ${describe(x)} has activation ${activationOf(x)}, which has no convolutional equivalent here`
  return { head: pooled ? 'global-pooling' : 'flatten-dense', trunk, map: map as [number, number, number], boundary, beforeDense, tail: rest }
}

/** The fully-convolutional form of `model`; UNSUPPORTED_OP with the reason when it has none or the check fails. */
export function convolutionalHead(model: LoadedModel): ClassGridNetwork {
  const plan = planConvolutionalHead(model)
  const refuse = (why: string): never => {
    throw new ConvscopeError('UNSUPPORTED_OP', `${model.info.name} has no fully-convolutional form: ${why}`)
  }
  if (typeof plan === 'string') return refuse(plan)
  const weights = (l: LayerInfo) => {
    const w = model.linearWeights?.(l.name)
    if (!w || w.kernel.rank !== 2) return refuse(`the weights of the dense layer ${describe(l)} are not readable as a [inputs, units] kernel`)
    return w
  }
  const [h0, w0, c] = plan.map
  const order = flattenOrder(model)
  const output = plan.tail.at(-1) ?? plan.boundary
  const classes = output.outputShape[0]!
  const outputs = activationOf(output) === 'softmax' ? 'probabilities' : 'scores'

  /** The first dense layer as an h0×w0 conv kernel [h0, w0, c, out], read in the model's flatten order. */
  const convKernel = (dense: LayerInfo): tf.Tensor4D => {
    const { kernel } = weights(dense)
    if (kernel.shape[0] !== h0 * w0 * c) refuse(`${describe(dense)} has ${kernel.shape[0]} inputs, but the map it reads is ${h0}×${w0}×${c} = ${h0 * w0 * c}`)
    const out = kernel.shape[1]!
    return order === 'hwc' ? kernel.reshape([h0, w0, c, out]) : kernel.reshape([c, h0, w0, out]).transpose([1, 2, 0, 3])
  }
  /** Dense layers and activations on a [positions, units] tensor. */
  const runTail = (layers: LayerInfo[], x: tf.Tensor2D): tf.Tensor2D => {
    let v: tf.Tensor = x
    for (const l of layers) {
      if (l.kind === 'dense') {
        const { kernel, bias } = weights(l)
        v = tf.matMul(v as tf.Tensor2D, kernel as tf.Tensor2D)
        if (bias) v = v.add(bias)
        v = ACTIVATIONS[activationOf(l)]!(v)
      } else if (l.kind === 'activation') {
        v = ACTIVATIONS[activationOf(l)]!(v)
      }
    }
    return v as tf.Tensor2D
  }
  const beforeDense = (map: tf.Tensor4D) => plan.beforeDense.reduce((m, l) => ACTIVATIONS[activationOf(l)]!(m), map as tf.Tensor) as tf.Tensor4D
  /** The head at every position of a trunk map [1, h, w, c] → [1, h', w', classes]. */
  const headOnMap = (map: tf.Tensor4D): tf.Tensor4D => {
    if (plan.head === 'global-pooling') {
      const [, h, w] = map.shape
      return runTail(plan.tail, map.reshape([h * w, c])).reshape([1, h, w, classes])
    }
    const [dense, ...after] = plan.tail
    const { bias } = weights(dense!)
    let z: tf.Tensor4D = tf.conv2d(beforeDense(map), convKernel(dense!), 1, 'valid')
    if (bias) z = z.add(bias)
    const [, h, w, units] = z.shape
    const first = ACTIVATIONS[activationOf(dense!)]!(z.reshape([h * w, units])) as tf.Tensor2D
    return runTail(after, first).reshape([1, h, w, classes])
  }
  const request = trunkRequest(model, plan)
  /** The trunk map at any input size: the model itself, up to the layer the head reads. */
  const trunkMap = async (input: tf.Tensor4D): Promise<tf.Tensor4D> => {
    try {
      return (await forwardTensors(model, input, [plan.trunk.name], request)).tensors[0] as tf.Tensor4D
    } catch (e) {
      if (e instanceof ConvscopeError) throw e
      const [, H, W] = input.shape
      throw new ConvscopeError('UNSUPPORTED_OP', `${model.info.name} does not run up to ${describe(plan.trunk)} at ${H}×${W} (its input may be fixed to ${model.info.inputShape[0]}×${model.info.inputShape[1]}): ${(e as Error).message}`)
    }
  }

  checkHead(model, plan, headOnMap, refuse)
  const steps = describeSteps(plan, order)
  steps.push(outputs === 'probabilities' ? 'softmax over the classes at every position' : 'the output has no softmax: the map holds class scores')
  return {
    head: plan.head,
    steps,
    trainingInputSize: [model.info.inputShape[0], model.info.inputShape[1]],
    classes,
    outputs,
    predict: async (input) => {
      const map = await trunkMap(input)
      try {
        return tf.tidy(() => headOnMap(map))
      } finally {
        map.dispose()
      }
    },
    // From the layer table at the training size: TF 'same' padding at sizes that are no multiple of the stride may shift it by a pixel.
    positionField: () => positionField(plan),
    // Nothing of its own to free: the weights stay the model's.
    dispose: () => {},
  }
}

/**
 * Where the trunk runs at a larger input. onnxruntime runs the whole graph up to the model's output, so it takes
 * only a global-pooling head (any size reaches the output) of a model whose runtime input has a dynamic height and
 * width; a flatten → dense head's dense layer refuses the larger map, and a fixed input the larger image: tfjs.
 */
function trunkRequest(model: LoadedModel, plan: HeadPlan): ForwardRequest {
  const size = model.runtimeSource?.input.size
  return plan.head === 'global-pooling' && size?.[0] === null && size[1] === null ? {} : { executor: 'tfjs' }
}

/**
 * The head on the model's own features at the training size must give the model's output: flatten-dense from the
 * trunk map (a 1×1 grid), global pooling from the pooled vector (the removed pooling is the model's, not ours).
 * On tfjs, once when the rewrite is built: it checks the head's weights and layout, whichever executor runs the trunk.
 */
function checkHead(model: LoadedModel, plan: HeadPlan, headOnMap: (m: tf.Tensor4D) => tf.Tensor4D, refuse: (why: string) => never): void {
  const difference = tf.tidy(() => {
    const x = tf.randomUniform([1, ...model.info.inputShape], 0, 1, 'float32', 10) as tf.Tensor4D
    const [features, want] = model.forward(x, [plan.head === 'global-pooling' ? plan.boundary.name : plan.trunk.name, OUTPUT])
    const got = plan.head === 'global-pooling' ? headOnMap(features!.reshape([1, 1, 1, plan.map[2]])) : headOnMap(features as tf.Tensor4D)
    if (got.size !== want!.size) return NaN
    return got.reshape([-1]).sub(want!.reshape([-1])).abs().max().div(want!.abs().max().add(1e-6)).dataSync()[0]!
  })
  if (!(difference <= 1e-4)) {
    refuse(`the rewritten head does not reproduce the model's output at the training size (relative difference ${Number.isNaN(difference) ? 'in shape' : difference.toPrecision(3)})`)
  }
}

/** What was done, one sentence each (as the layers rewrite words it). */
function describeSteps(plan: HeadPlan, order: 'hwc' | 'chw'): string[] {
  const [h0, w0, c] = plan.map
  const steps: string[] = []
  const b = plan.boundary
  if (plan.head === 'global-pooling') {
    steps.push(
      `${b.name} (${b.type}) removed: the layers after it run at every position of its input map` +
        (isMaxPooling(b) ? ' (the spatial max of that map is not the original logits: max does not commute with the dense layer)' : ' (the spatial mean of the resulting logit map is the original logits)'),
    )
  }
  plan.tail.forEach((l, i) => {
    if (INFERENCE_IDENTITY.has(l.type)) steps.push(`${l.name} (${l.type}) dropped: it is the identity at inference`)
    else if (l.kind !== 'dense') return
    else if (i === 0 && plan.head === 'flatten-dense') {
      const layout = order === 'chw' ? ', its kernel read channel-major as the model flattens NCHW' : ''
      steps.push(`${b.name} (${b.type} of ${h0}×${w0}×${c}) → ${l.name} (${l.type}) became a ${h0}×${w0} convolution with ${c} inputs${layout}`)
    } else steps.push(`${l.name} (${l.type}) became a 1×1 convolution`)
  })
  return steps
}

/** One position's receptive field: the trunk's field (global pooling), or that of an h0×w0 window of the trunk's units. */
function positionField(plan: HeadPlan): ReceptiveField | null {
  const rf = plan.trunk.receptiveField
  if (!rf || plan.head === 'global-pooling') return rf
  const span = [plan.map[0] - 1, plan.map[1] - 1] as const
  return {
    size: [rf.size[0] + span[0] * rf.jump[0], rf.size[1] + span[1] * rf.jump[1]],
    jump: rf.jump,
    start: [rf.start[0] + (span[0] * rf.jump[0]) / 2, rf.start[1] + (span[1] * rf.jump[1]) / 2],
    exact: rf.exact,
  }
}
