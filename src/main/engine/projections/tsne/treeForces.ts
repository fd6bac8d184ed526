/** The gradient's sums on this thread: exact attraction over P, Barnes-Hut repulsion (one quadtree per iteration). */
import type { SparseAffinities } from './affinities'
import { QuadTree, spatialOrder } from './barnesHut'
import { attraction, type GradientTerms } from './gradientDescent'

/** Iterations between re-sorts of the walk order (points move little per iteration; the order only affects speed). */
export const ORDER_EVERY = 10

export function treeForces(p: SparseAffinities, count: number, theta: number): GradientTerms {
  const tree = new QuadTree(4 * count + 16)
  const order = new Int32Array(count)
  let calls = 0
  return {
    async compute(y, exaggeration, attract, repel, zPart) {
      attraction(y, p, exaggeration, attract)
      if (calls++ % ORDER_EVERY === 0) spatialOrder(y, count, order)
      tree.build(y, count, order)
      tree.repulsion(y, 0, count, theta, repel, zPart, order)
    },
    close: async () => {},
  }
}
