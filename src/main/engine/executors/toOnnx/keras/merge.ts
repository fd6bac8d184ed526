/** Merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate), folded left as graph/ops/keras/merge.ts. */
import { int } from '../builder'
import { type TranslatorFamily, withParams, type WriteContext } from '../translator'
import { dataInputs, num, opNode } from './config'

const inputs = (node: Parameters<typeof dataInputs>[0], ctx: WriteContext) => dataInputs(node).map((t) => ctx.input(t))

const fold = (op: string, finish?: (ctx: WriteContext, y: string, n: number) => string) =>
  withParams(
    () => null,
    (node, ctx) => {
      const xs = inputs(node, ctx)
      let y = xs[0]!
      for (const x of xs.slice(1)) y = ctx.b.op(op, [y, x])
      return [finish ? finish(ctx, y, xs.length) : y]
    },
  )

export const KERAS_MERGE: TranslatorFamily = {
  Add: fold('Add'),
  Subtract: fold('Sub'),
  Multiply: fold('Mul'),
  Average: fold('Add', (ctx, y, n) => ctx.b.op('Mul', [ctx.b.scalar(1 / n), y])),
  Maximum: fold('Max'),
  Minimum: fold('Min'),
  // ONNX takes a negative axis as counted from the end, as the kernel does.
  Concatenate: withParams(
    (node) => num(opNode(node), 'axis', -1),
    (node, ctx, axis) => [ctx.b.op('Concat', inputs(node, ctx), { axis: int(axis) })],
  ),
}
