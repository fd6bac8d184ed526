/**
 * The ReLU backward rules of the pixel maps (issue 12; the lecture's "deconvnet vs backprop vs guided backprop").
 * With R the gradient arriving from above and f the ReLU's forward input:
 *
 *   backprop   (f>0)·R          ReLU6: (0<f<6)·R          leaky(α): (f>0 ? 1 : α)·R   (= plain autograd)
 *   deconvnet  (R>0)·R          ReLU6: (R>0)·R            leaky:    (R>0)·R           (the forward is ignored)
 *   guided     (f>0)·(R>0)·R    ReLU6: (0<f<6)·(R>0)·R    leaky:    (f>0 ? 1 : α)·(R>0)·R
 *
 * Every ReLU-family kernel of the graph executor (ONNX Relu / LeakyRelu / Clip(0, 6), TF Relu / Relu6 / LeakyRelu /
 * ClipByValue(0, 6) and the fused ops' activations, Keras relu / relu6 activations and ReLU / LeakyReLU layers)
 * calls `reluFamily`. With no rule in force (everyone but the pixel maps) it is the kernel's own plain op; inside
 * `withReluRule` it is a tf.customGrad with the rule's backward, and fused kernels unfuse (`reluRuleActive`).
 */
import * as tf from '@tensorflow/tfjs'

export type ReluRule = 'backprop' | 'deconvnet' | 'guided'
export const RELU_RULES: readonly ReluRule[] = ['backprop', 'deconvnet', 'guided']

/** A member of the ReLU family: max(α·x, x) clipped at `max` (ReLU: α 0, max ∞; ReLU6: α 0, max 6; leaky: α, ∞). */
export interface ReluShape {
  alpha: number
  max: number
}
export const RELU: ReluShape = { alpha: 0, max: Infinity }
export const RELU6: ReluShape = { alpha: 0, max: 6 }
export const leaky = (alpha: number): ReluShape => ({ alpha, max: Infinity })

/**
 * Activation maximization's rule (Lucid's redirected ReLU, Olah et al. 2017), not a pixel-map rule: the backprop
 * rule, except for an image whose backprop gradient at this ReLU is zero everywhere (a unit dead on the starting
 * image), which gets R wherever it would raise the input — (f>0 or R>0)·R, and 0 where it would push f past ReLU6's
 * 6 — so the optimisation can leave the dead start.
 */
export type OptimizationReluRule = 'redirected'

let current: ReluRule | OptimizationReluRule | null = null

/**
 * Run `fn` (synchronous: tf.grad is) with `rule` at every ReLU-family point of the graph executor; the rule
 * before is restored after, also on a throw.
 */
export function withReluRule<T>(rule: ReluRule | OptimizationReluRule, fn: () => T): T {
  const before = current
  current = rule
  try {
    return fn()
  } finally {
    current = before
  }
}

/** The rule in force, null outside withReluRule. */
export const activeReluRule = (): ReluRule | OptimizationReluRule | null => current

/** Whether fused kernels must unfuse their activation (a rule is in force). */
export const reluRuleActive = (): boolean => current !== null

/** The plain forward of a shape, for kernels without an op of their own. */
function plainForward(x: tf.Tensor, shape: ReluShape): tf.Tensor {
  if (shape.alpha !== 0) return tf.leakyRelu(x, shape.alpha)
  if (shape.max === 6) return tf.relu6(x)
  return shape.max === Infinity ? tf.relu(x) : tf.clipByValue(x, 0, shape.max)
}

/**
 * The ReLU-family activation of `x`. `plain` is the kernel's own op (its exact forward, and its gradient when no
 * rule is in force); under a rule the forward values are the same and the backward is the rule's.
 */
export function reluFamily(x: tf.Tensor, shape: ReluShape, plain: (x: tf.Tensor) => tf.Tensor = (t) => plainForward(t, shape)): tf.Tensor {
  const rule = current
  if (rule === null) return plain(x)
  return ruled(x, shape, plain, rule)
}

function ruled(x: tf.Tensor, shape: ReluShape, plain: (x: tf.Tensor) => tf.Tensor, rule: ReluRule | OptimizationReluRule): tf.Tensor {
  const op = tf.customGrad((input, save) => {
    const f = input as tf.Tensor
    ;(save as tf.GradSaveFunc)([f])
    return { value: plain(f), gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => backward(rule, shape, saved!, dy) }
  })
  return op(x)
}

/** The rule's R' from R (`dy`) and the forward input f. */
function backward(rule: ReluRule | OptimizationReluRule, shape: ReluShape, f: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    if (rule === 'deconvnet') return tf.relu(dy)
    // (f>0 ? 1 : α), and 0 from max on: the local derivative the backprop and guided rules use.
    let slope: tf.Tensor = shape.alpha === 0 ? tf.cast(tf.greater(f, 0), 'float32') : tf.where(tf.greater(f, 0), tf.onesLike(f), tf.fill(f.shape, shape.alpha))
    if (shape.max !== Infinity) slope = tf.mul(slope, tf.cast(tf.less(f, shape.max), 'float32'))
    const plainR = tf.mul(slope, rule === 'guided' ? tf.relu(dy) : dy)
    return rule === 'redirected' ? redirect(shape, f, dy, plainR) : plainR
  })
}

/** The redirected rule's R′ from the backprop rule's, per image (axis 0). */
function redirect(shape: ReluShape, f: tf.Tensor, dy: tf.Tensor, plainR: tf.Tensor): tf.Tensor {
  let blocked = tf.logicalAnd(tf.lessEqual(f, 0), tf.less(dy, 0))
  if (shape.max !== Infinity) blocked = tf.logicalOr(blocked, tf.logicalAnd(tf.greaterEqual(f, shape.max), tf.greater(dy, 0)))
  const redirected = tf.where(blocked, tf.zerosLike(dy), dy)
  const n = f.shape[0] ?? 1
  const alive = tf.greater(tf.max(tf.abs(plainR.reshape([n, -1])), 1), 0).reshape([n, ...Array<number>(f.rank - 1).fill(1)])
  return tf.where(tf.broadcastTo(alive, f.shape), plainR, redirected)
}
