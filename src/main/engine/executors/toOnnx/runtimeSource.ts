/**
 * The RuntimeSource (executors/runtimeSource.ts) of a TF.js model: its graph written as ONNX (writeGraph.ts),
 * NHWC throughout (isNchw is false: layer outputs come back as forward gives them). Whether it can be written is
 * decided when the model opens, without writing; the bytes are written on first use, once.
 */
import type { ModelGraph } from '../../graph/modelGraph'
import type { RuntimeSource } from '../runtimeSource'
import { type GraphWriteOptions, unwritableReason, writeGraph } from './writeGraph'

export interface WrittenSourceOptions extends Omit<GraphWriteOptions, 'inputDims'> {
  graph: ModelGraph
  /** The image input: fixed batch (null: any), [height, width] (null: any), channels. */
  input: { batch: number | null; size: readonly [number | null, number | null]; channels: number }
  /** The graph tensor a requested name (layer, OUTPUT, node) stands for, as the model's forward resolves it. */
  tensorOf(name: string): string
}

/** A RuntimeSource plus `dispose`, which the model calls when it is disposed (releasing the sessions). */
export interface WrittenSource extends RuntimeSource {
  dispose(): void
}

/** Keras layers whose written form depends on the input's height and width (a fixed target shape). */
const SIZE_BOUND_LAYERS = new Set(['Flatten', 'Reshape'])

/**
 * Whether a layers model's graph runs at any height and width (no Flatten or Reshape: convolutions, pools, global
 * pooling, dense on the last axis): its written input then leaves them free, so work at other sizes than the
 * model's (the fully-convolutional class grid of a global-pooling head) runs on onnxruntime too.
 */
export function sizeFreeLayers(graph: ModelGraph): boolean {
  return !graph.nodes.some((n) => SIZE_BOUND_LAYERS.has(n.opType))
}

/** The check's answer; a check that fails (a bug) is a reason too, never a model that does not open. */
function checked(reason: () => string | null): string | null {
  try {
    return reason()
  } catch (e) {
    return `its graph could not be checked for an ONNX form: ${e instanceof Error ? e.message : String(e)}`
  }
}

export function writtenRuntimeSource(o: WrittenSourceOptions): WrittenSource {
  const { graph, input } = o
  const [height, width] = input.size
  const writeOptions: GraphWriteOptions = {
    constant: o.constant,
    rank: o.rank,
    inputDims: [input.batch ?? 'batch', height ?? 'height', width ?? 'width', input.channels],
  }
  const releases: (() => void)[] = []
  let bytes: Promise<Uint8Array> | null = null
  return {
    unsupported: checked(() => unwritableReason(graph, writeOptions)),
    // Written on first use (a session), then kept: the sessions of other sets of layers reuse it.
    bytes: () => (bytes ??= Promise.resolve().then(() => writeGraph(graph, writeOptions))),
    input: { name: graph.inputs[0]!.name, batch: input.batch, channels: input.channels, layout: 'nhwc', size: input.size },
    output: graph.outputs[0]!.name,
    tensorOf: o.tensorOf,
    isNchw: () => false,
    onDispose: (release) => void releases.push(release),
    dispose() {
      bytes = null
      for (const release of releases.splice(0)) release()
    },
  }
}
