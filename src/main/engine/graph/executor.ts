/**
 * The one tfjs executor of a model graph (issue 10). Built once when a model opens: it holds the weights as tf
 * tensors and folds, once, every node whose inputs are all constants (Constant, the Shape-free parts of the
 * shape bookkeeping chains exports make: anything that does not depend on the image). A run then computes only
 * what the requested outputs need, walking back from them and stopping at fed tensors: feeding an inner tensor
 * replaces it ("start from an inner node"), while paths around it still read the real input.
 *
 * Intermediates are disposed as soon as their last reader ran, except under a gradient tape (tf.grad needs
 * them; its own scope frees them). `override` lets a method run its own function for a node (e.g. guided
 * backprop's gradient of Relu).
 */
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../../shared/api/errors'
import { type OpKernel, type OpNode, UnsupportedOpError } from './ops/types'
import { holdPreparedWeights, releasePreparedWeights } from './ops/weightCache'
import type { GraphNode, ModelGraph } from './modelGraph'

/** The kernel of an op, or undefined where none is implemented (graph/ops/index.ts's kernelFor). */
export type KernelLookup = (opType: string, domain: string) => OpKernel | undefined

/** Run a node another way: return its outputs, or undefined to run its kernel as usual (`node` is also the kernel's OpNode). */
export type KernelOverride = (node: GraphNode & OpNode, inputs: readonly (tf.Tensor | null)[], kernel: OpKernel) => tf.Tensor[] | undefined

export interface RunOptions {
  override?: KernelOverride
  /** Called with each node's outputs as it runs (e.g. to record shapes without keeping every tensor). */
  observe?: (node: GraphNode, outputs: readonly tf.Tensor[]) => void
}

/** Random ops: constant inputs, yet a new value every run, so never folded. */
const NOT_FOLDABLE = new Set(['RandomNormal', 'RandomNormalLike', 'RandomUniform', 'RandomUniformLike', 'Multinomial', 'Bernoulli'])

/** "Conv (node "/layer1/Conv", opset 13)": how messages name a node. */
export function describeNode(node: GraphNode): string {
  const op = node.domain ? `${node.domain}.${node.opType}` : node.opType
  // A format without opsets (TF graph and Keras layers models) reads 0: no opset is named for it.
  return `op ${op} (node "${node.name}"${node.opset > 0 ? `, opset ${node.opset}` : ''})`
}

export class GraphExecutor {
  /** Weights and folded values, by tensor name; kept until dispose. */
  private readonly constants = new Map<string, tf.Tensor>()
  private readonly opNodes = new Map<GraphNode, GraphNode & OpNode>()

  constructor(
    readonly graph: ModelGraph,
    weights: Map<string, tf.Tensor>,
    private readonly kernels: KernelLookup,
  ) {
    for (const [name, t] of weights) this.constants.set(name, t)
    for (const node of graph.nodes) {
      this.opNodes.set(node, { ...node, outputCount: node.outputs.length })
    }
    try {
      checkKernels(graph, kernels)
      this.fold()
      // Kernels may keep prepared forms of constants (a Conv filter in tfjs's layout) instead of remaking them each run.
      holdPreparedWeights(this.constants.values())
    } catch (e) {
      this.dispose()
      throw e
    }
  }

  /** A constant tensor (a weight or a folded value) by name, or undefined. Not to be disposed by the caller. */
  constant(name: string): tf.Tensor | undefined {
    return this.constants.get(name)
  }

  /** Whether a tensor is computed from the graph's inputs (not a weight or a folded constant). */
  isDynamic(name: string): boolean {
    return !this.constants.has(name)
  }

  private fold(): void {
    for (const node of this.graph.nodes) {
      if (NOT_FOLDABLE.has(node.opType)) continue
      const inputs = node.inputs.filter((i) => i !== '')
      if (!inputs.every((i) => this.constants.has(i))) continue
      const outs = tf.tidy(() => this.runNode(node, node.inputs.map((i) => (i === '' ? null : this.constants.get(i)!)), undefined))
      node.outputs.forEach((name, k) => {
        const t = outs[k]
        if (name !== '' && t) this.constants.set(name, tf.keep(t))
        else if (t) t.dispose()
      })
    }
  }

  /**
   * The tensors named `outputs`, computed from `feeds` (tensor name → value; the graph input and any inner
   * tensor to replace). Fed and constant outputs come back as clones: the caller owns (and disposes) every result.
   */
  run(feeds: ReadonlyMap<string, tf.Tensor>, outputs: readonly string[], options: RunOptions = {}): tf.Tensor[] {
    const plan = this.plan(feeds, outputs)
    const taped = tf.engine().isTapeOn()
    const held = new Set<tf.Tensor>([...feeds.values(), ...this.constants.values()])
    const requested = new Set(outputs)
    const remaining = new Map(plan.uses)
    /** Computed tensors still wanted, by name. */
    const values = new Map<string, tf.Tensor>()
    const value = (name: string): tf.Tensor | null => {
      if (name === '') return null
      const v = values.get(name) ?? feeds.get(name) ?? this.constants.get(name)
      if (!v) throw new ConvscopeError('BAD_REQUEST', `${this.graph.file}: tensor "${name}" is neither fed nor computed`)
      return v
    }
    // A kernel may return an input unchanged (Identity): a tensor is only disposed when no live name holds it.
    const drop = (t: tf.Tensor) => {
      if (!taped && !held.has(t) && ![...values.values()].includes(t)) t.dispose()
    }
    try {
      for (const node of plan.nodes) {
        const outs = this.runNode(node, node.inputs.map(value), options.override)
        options.observe?.(node, outs)
        node.outputs.forEach((name, k) => {
          const t = outs[k]
          if (t && name !== '' && (remaining.has(name) || requested.has(name))) values.set(name, t)
        })
        for (const t of outs) drop(t)
        for (const i of new Set(node.inputs)) {
          const left = (remaining.get(i) ?? 0) - 1
          remaining.set(i, left)
          const t = values.get(i)
          if (left === 0 && t && !requested.has(i)) {
            values.delete(i)
            drop(t)
          }
        }
      }
      const seen = new Set<tf.Tensor>()
      return outputs.map((name) => {
        const t = value(name)!
        // Give the caller tensors it may dispose: fed / constant values and repeats are cloned.
        if (seen.has(t) || held.has(t)) return t.clone()
        seen.add(t)
        return t
      })
    } catch (e) {
      const live = [...values.values()]
      values.clear()
      for (const t of new Set(live)) drop(t)
      throw e
    }
  }

  /** The nodes `outputs` need, in order, and how many of them read each tensor. */
  private plan(feeds: ReadonlyMap<string, tf.Tensor>, outputs: readonly string[]): { nodes: GraphNode[]; uses: Map<string, number> } {
    const needed = new Set<GraphNode>()
    const stack = [...outputs]
    while (stack.length) {
      const name = stack.pop()!
      if (name === '' || feeds.has(name) || this.constants.has(name)) continue
      const node = this.graph.producer.get(name)
      if (!node) {
        const input = this.graph.inputs.some((i) => i.name === name)
        throw new ConvscopeError(
          'BAD_REQUEST',
          input ? `${this.graph.file}: the input "${name}" was not given` : `${this.graph.file}: the model has no tensor "${name}"`,
        )
      }
      if (needed.has(node)) continue
      needed.add(node)
      stack.push(...node.inputs)
    }
    const nodes = this.graph.nodes.filter((n) => needed.has(n))
    const uses = new Map<string, number>()
    for (const n of nodes) for (const i of new Set(n.inputs)) if (i !== '') uses.set(i, (uses.get(i) ?? 0) + 1)
    return { nodes, uses }
  }

  private runNode(node: GraphNode, inputs: (tf.Tensor | null)[], override: KernelOverride | undefined): tf.Tensor[] {
    const kernel = this.kernels(node.opType, node.domain)
    if (!kernel) throw unsupported(this.graph.file, node, 'no kernel implements it')
    try {
      // tidy: what a kernel makes on the way (layout transposes, reshaped weights) goes when it returns.
      const op = this.opNodes.get(node)!
      return tf.tidy(() => override?.(op, inputs, kernel) ?? kernel(inputs, op))
    } catch (e) {
      if (e instanceof ConvscopeError) throw e
      if (e instanceof UnsupportedOpError) throw unsupported(this.graph.file, node, e.what)
      throw new ConvscopeError('BAD_MODEL', `${this.graph.file}: ${describeNode(node)} failed: ${e instanceof Error ? e.message : String(e)}`)
    }
  }

  dispose(): void {
    releasePreparedWeights(this.constants.values())
    tf.dispose([...this.constants.values()])
    this.constants.clear()
  }
}

function unsupported(file: string, node: GraphNode, why: string): ConvscopeError {
  return new ConvscopeError('UNSUPPORTED_OP', `${file}: ${describeNode(node)} is not supported: ${why}`)
}

/** Every op of the graph must have a kernel: checked when the model opens, before any run. */
export function checkKernels(graph: ModelGraph, kernels: KernelLookup): void {
  const missing = graph.nodes.filter((n) => !kernels(n.opType, n.domain))
  if (missing.length === 0) return
  const first = missing[0]!
  const others = [...new Set(missing.slice(1).map((n) => (n.domain ? `${n.domain}.${n.opType}` : n.opType)))]
  const more = others.length ? `; also unsupported: ${others.join(', ')}` : ''
  throw new ConvscopeError(
    'UNSUPPORTED_OP',
    `${graph.file}: ${describeNode(first)} is not supported by convscope (no kernel implements it)${more}`,
  )
}
