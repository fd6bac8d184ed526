/**
 * Gemm (Y = alpha · A' · B' + beta · C, A' / B' optionally transposed, C broadcast to [M, N]) and MatMul
 * (numpy matmul: 1-D operands promoted and their axis dropped again, batch axes broadcast).
 */
import * as tf from '@tensorflow/tfjs'
import { floatAttr, input, intAttr } from './attributes'
import { UnsupportedOpError, type OpKernel } from './types'

export const gemm: OpKernel = (inputs, node) => {
  const a = input(inputs, 0, 'A')
  const b = input(inputs, 1, 'B')
  const c = inputs[2] ?? null
  if (a.rank !== 2 || b.rank !== 2) throw new UnsupportedOpError(`Gemm of ranks ${a.rank} and ${b.rank}`)
  const alpha = floatAttr(node, 'alpha', 1)
  const beta = floatAttr(node, 'beta', 1)
  let y = tf.matMul(a, b, intAttr(node, 'transA', 0) === 1, intAttr(node, 'transB', 0) === 1)
  if (alpha !== 1) y = tf.mul(y, alpha)
  if (c != null && beta !== 0) y = tf.add(y, beta === 1 ? c : tf.mul(c, beta))
  return [y]
}

/** `t` with leading axes of size 1 up to `rank`. */
function withRank(t: tf.Tensor, rank: number): tf.Tensor {
  return t.rank >= rank ? t : tf.reshape(t, [...Array(rank - t.rank).fill(1), ...t.shape])
}

export const matMul: OpKernel = (inputs) => {
  let a = input(inputs, 0, 'A')
  let b = input(inputs, 1, 'B')
  if (a.rank > 2 && b.rank === 2) {
    // a Linear layer on [..., K] (convnext, transformers): one 2-D product; wasm's batched product with a
    // broadcast batch is ~1000x slower
    const [k, n] = b.shape as [number, number]
    return [tf.reshape(tf.matMul(tf.reshape(a, [-1, k]), b), [...a.shape.slice(0, -1), n])]
  }
  const vectorA = a.rank === 1
  const vectorB = b.rank === 1
  if (vectorA) a = tf.reshape(a, [1, a.size])
  if (vectorB) b = tf.reshape(b, [b.size, 1])
  const rank = Math.max(a.rank, b.rank)
  a = withRank(a, rank)
  b = withRank(b, rank)
  // tfjs broadcasts a batch of 1 against any batch, but not [2, 1] against [1, 5]: expand both to the common batch
  const batch = a.shape.slice(0, -2).map((d, i) => Math.max(d, b.shape[i]!))
  const expanded = (t: tf.Tensor): tf.Tensor => (t.shape.slice(0, -2).every((d, i) => d === batch[i]) ? t : tf.add(t, tf.zeros([...batch, ...t.shape.slice(-2)])))
  if (!a.shape.slice(0, -2).every((d, i) => d === b.shape[i])) {
    a = expanded(a)
    b = expanded(b)
  }
  let y = tf.matMul(a, b)
  if (vectorA || vectorB) {
    // drop the promoted axes: the row of a vector A (axis −2), the column of a vector B (axis −1)
    const shape = y.shape.slice(0, -2)
    if (!vectorA) shape.push(y.shape[rank - 2]!)
    if (!vectorB) shape.push(y.shape[rank - 1]!)
    y = tf.reshape(y, shape)
  }
  return [y]
}
