/**
 * The one interface of an op written as ONNX (issue 11): a translator turns one node of the format-neutral
 * ModelGraph (graph/modelGraph.ts, domain 'keras' or 'tf') into ONNX nodes with the same numbers as its tfjs
 * kernel (graph/ops/keras, graph/ops/tf: the tested truth), tensors kept NHWC.
 *
 * - `check` (optional) says, from the node's attributes and small constants only, why it cannot be written,
 *   or null; it runs when the model opens, so it must be cheap. `write` may assume it passed.
 * - `write` adds the nodes and returns one ONNX tensor per node output, in order; the writer renames each to the
 *   graph tensor's name. Weights and folded constants are read through the context (executor.constant).
 */
import type * as tf from '@tensorflow/tfjs'
import type { GraphNode } from '../../graph/modelGraph'
import { type OpNode, UnsupportedOpError } from '../../graph/ops/types'
import type { OnnxBuilder } from './builder'

export interface CheckContext {
  /** A weight or folded constant by graph tensor name, or undefined for computed tensors. */
  constant(name: string): tf.Tensor | undefined
  /** The rank of a graph tensor where the model knows it (layers models: every layer output), else null. */
  rank(name: string): number | null
}

export interface WriteContext extends CheckContext {
  readonly b: OnnxBuilder
  /** The ONNX tensor of a graph tensor; a constant becomes an initializer (float32, or int64 for integers) on first use. */
  input(name: string): string
}

export interface Translator {
  check?(node: GraphNode, ctx: CheckContext): string | null
  write(node: GraphNode, ctx: WriteContext): string[]
}

/** Translators of one op family, by op type. */
export type TranslatorFamily = Readonly<Record<string, Translator>>

/**
 * A translator from a reader of its parameters: `params` reads and validates the node's attributes and
 * constants, throwing UnsupportedOpError (graph/ops/types.ts) for what is not written; the check runs it alone
 * (its message is the reason), the write hands its result on. One reading of a config for both.
 */
export function withParams<P>(params: (node: GraphNode, ctx: CheckContext) => P, write: (node: GraphNode, ctx: WriteContext, p: P) => string[]): Translator {
  return {
    check(node, ctx) {
      try {
        params(node, ctx)
        return null
      } catch (e) {
        if (e instanceof UnsupportedOpError) return e.what
        throw e
      }
    },
    write: (node, ctx) => write(node, ctx, params(node, ctx)),
  }
}

/** A translator with nothing to check. */
export const always = (write: Translator['write']): Translator => ({ write })

/** The node as the kernels' attribute readers (graph/ops) take it: both paths read attributes the same way. */
export const opNode = (node: GraphNode): OpNode => ({ ...node, outputCount: node.outputs.length })

/** The values of a small constant (axes, shapes, pads), or null when the tensor is computed. */
export function constValues(ctx: CheckContext, name: string | undefined): number[] | null {
  const t = name ? ctx.constant(name) : undefined
  return t ? Array.from(t.dataSync() as ArrayLike<number>, Number) : null
}

/** A float32 copy of a constant's values. */
export function floatValues(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as ArrayLike<number>)
}
