/**
 * t-SNE's optimisation as scikit-learn 1.2 runs it (sklearn.manifold._t_sne._gradient_descent): two stages, early
 * exaggeration (P·α, momentum 0.5, the first 250 iterations) then the rest (P, momentum 0.8), each starting with
 * zero updates and unit gains; per coordinate the gain grows by 0.2 when the gradient flips the update's sign and
 * shrinks ×0.8 otherwise (floor 0.01, Jacobs 1988); update = momentum·update − η·gain·gradient.
 * The gradient of KL(P‖Q) for the Student-t kernel (van der Maaten 2014, eq. 5):
 *   ∂C/∂yᵢ = 4 (Σⱼ pᵢⱼ qᵢⱼZ (yᵢ − yⱼ) − Σⱼ qᵢⱼ²Z² (yᵢ − yⱼ) / Z),
 * the attraction exact over P's sparse entries, the repulsion from Barnes-Hut (barnesHut.ts) or exact (θ = 0).
 */
import type { SparseAffinities } from './affinities'

/**
 * The two sums of the gradient at y: attraction [count, 2] (P scaled by the exaggeration), repulsion [count, 2] and
 * zPart [count] (barnesHut.ts). Implementations: this thread (treeForces.ts) or worker threads (forceWorkers.ts).
 */
export interface GradientTerms {
  compute(y: Float64Array, exaggeration: number, attract: Float64Array, repel: Float64Array, zPart: Float64Array): Promise<void>
  /** Ends any threads (also after an error or a cancel). */
  close(): Promise<void>
}

export interface GradientDescentOptions {
  iterations: number
  explorationIterations: number
  earlyExaggeration: number
  learningRate: number
  /** Called after every iteration (1-based count); may throw to stop (cancel). */
  onIteration(done: number): Promise<void> | void
}

const MIN_GAIN = 0.01

/** Attraction Σⱼ pᵢⱼ·α·qᵢⱼZ (yᵢ − yⱼ) of every point into `out` ([count, 2]). */
export function attraction(y: Float64Array, p: SparseAffinities, exaggeration: number, out: Float64Array): void {
  attractionRange(p.rowStart, p.columns, p.values, y, exaggeration, 0, p.rowStart.length - 1, out)
}

/** Attraction of points [from, to). Self-contained: forceWorkers.ts runs its source text in worker threads. */
export function attractionRange(
  rowStart: Int32Array,
  columns: Int32Array,
  values: Float64Array,
  y: Float64Array,
  exaggeration: number,
  from: number,
  to: number,
  out: Float64Array,
): void {
  for (let i = from; i < to; i++) {
    const yx = y[2 * i]!
    const yy = y[2 * i + 1]!
    let fx = 0
    let fy = 0
    for (let e = rowStart[i]!, end = rowStart[i + 1]!; e < end; e++) {
      const j = columns[e]!
      const dx = yx - y[2 * j]!
      const dy = yy - y[2 * j + 1]!
      const w = (values[e]! * exaggeration) / (1 + dx * dx + dy * dy)
      fx += w * dx
      fy += w * dy
    }
    out[2 * i] = fx
    out[2 * i + 1] = fy
  }
}

/** Runs the two stages on y ([count, 2], changed in place). */
export async function gradientDescent(y: Float64Array, terms: GradientTerms, options: GradientDescentOptions): Promise<void> {
  const n = y.length
  const count = n / 2
  const attract = new Float64Array(n)
  const repel = new Float64Array(n)
  const zPart = new Float64Array(count)
  const update = new Float64Array(n)
  const gains = new Float64Array(n)
  const stages = [
    { from: 0, to: Math.min(options.explorationIterations, options.iterations), exaggeration: options.earlyExaggeration, momentum: 0.5 },
    { from: options.explorationIterations, to: options.iterations, exaggeration: 1, momentum: 0.8 },
  ]
  for (const stage of stages) {
    update.fill(0)
    gains.fill(1)
    for (let it = stage.from; it < stage.to; it++) {
      await terms.compute(y, stage.exaggeration, attract, repel, zPart)
      let z = 0
      for (let i = 0; i < count; i++) z += zPart[i]! // in point order: the same sum however the points were split
      const invZ = 1 / Math.max(z, Number.MIN_VALUE)
      const eta = options.learningRate
      const momentum = stage.momentum
      for (let d = 0; d < n; d++) {
        const grad = 4 * (attract[d]! - repel[d]! * invZ)
        const u = update[d]!
        let g = u * grad < 0 ? gains[d]! + 0.2 : gains[d]! * 0.8
        if (g < MIN_GAIN) g = MIN_GAIN
        gains[d] = g
        const next = momentum * u - eta * g * grad
        update[d] = next
        y[d]! += next
      }
      await options.onIteration(it + 1)
    }
  }
}
