/** The gradient's sums on this thread: exact attraction over P, Barnes-Hut repulsion (one quadtree per iteration). */
import type { SparseAffinities } from './affinities'
import { QuadTree } from './barnesHut'
import { attraction, type GradientTerms } from './gradientDescent'

export function treeForces(p: SparseAffinities, count: number, theta: number): GradientTerms {
  const tree = new QuadTree(4 * count + 16)
  const stack = new Int32Array(512)
  return {
    async compute(y, exaggeration, attract, repel, zPart) {
      attraction(y, p, exaggeration, attract)
      tree.build(y, count)
      tree.repulsion(y, 0, count, theta, repel, zPart, stack)
    },
    close: async () => {},
  }
}
