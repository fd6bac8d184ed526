/** MaxPooling2D, AveragePooling2D and the global poolings over height and width (graph/ops/keras/pooling.ts). */
import type { GraphNode } from '../../../graph/modelGraph'
import { int, ints } from '../builder'
import { type TranslatorFamily, withParams } from '../translator'
import { type Pair, pool } from '../window'
import { channelsLast, nums, oneInput, opNode, padding } from './config'

function window(node: GraphNode) {
  const op = opNode(node)
  channelsLast(op)
  const size = nums(op, 'poolSize', 2, 2) as Pair
  // Keras: strides default to the pool size.
  const strides = node.attributes.strides === undefined ? size : (nums(op, 'strides', 2, 1) as Pair)
  return { size, strides, pad: padding(op) }
}

const windowed = (op: 'MaxPool' | 'AveragePool') =>
  withParams(
    (node) => window(node),
    (node, ctx, w) => [pool(ctx.b, op, oneInput(node, ctx), w.size, w.strides, w.pad)],
  )

const global = (op: 'ReduceMean' | 'ReduceMax') =>
  withParams(
    (node) => channelsLast(opNode(node)),
    (node, ctx) => [ctx.b.op(op, [oneInput(node, ctx)], { axes: ints([1, 2]), keepdims: int(0) })],
  )

export const KERAS_POOLING: TranslatorFamily = {
  MaxPooling2D: windowed('MaxPool'),
  AveragePooling2D: windowed('AveragePool'),
  GlobalAveragePooling2D: global('ReduceMean'),
  GlobalMaxPooling2D: global('ReduceMax'),
}
