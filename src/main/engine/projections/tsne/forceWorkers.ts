/**
 * The gradient's sums on several threads: this thread builds the quadtree (on SharedArrayBuffers) and walks its
 * share of the points while worker threads walk theirs, each writing only its own points' rows (attraction: a range of indices; repulsion: a range of the spatial walk order), so the result is
 * the same for any number of threads (Z is summed afterwards, in point order). Why threads: the walk is ~80 % of an
 * iteration and the machine has 2 cores (scikit-learn's Cython runs on both through OpenMP).
 * The workers run the source text of repulsionWalk and attractionRange (self-contained functions), so no separate
 * worker bundle is needed in the built app.
 */
import { Worker } from 'node:worker_threads'
import type { SparseAffinities } from './affinities'
import { QuadTree, repulsionWalk, spatialOrder } from './barnesHut'
import { attractionRange, type GradientTerms } from './gradientDescent'
import { ORDER_EVERY } from './treeForces'

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const repulsionWalk = ${repulsionWalk.toString()}
const attractionRange = ${attractionRange.toString()}
const stack = new Int32Array(512)
let p
parentPort.on('message', (m) => {
  if (m.kind === 'affinities') {
    p = m
    return
  }
  attractionRange(p.rowStart, p.columns, p.values, m.y, m.exaggeration, m.from, m.to, m.attract)
  repulsionWalk(m.comX, m.comY, m.count, m.child, m.width, m.y, m.order, m.from, m.to, m.theta, m.repel, m.zPart, stack)
  parentPort.postMessage(0)
})
`

const sharedFloat64 = (n: number) => new Float64Array(new SharedArrayBuffer(8 * n))

function sharedCopy<T extends Int32Array | Float64Array>(a: T): T {
  const b = (a instanceof Int32Array ? new Int32Array(new SharedArrayBuffer(4 * a.length)) : sharedFloat64(a.length)) as T
  b.set(a)
  return b
}

/** `threads` ≥ 2 in all: this one and threads − 1 workers. */
export function forceWorkers(p: SparseAffinities, count: number, theta: number, threads: number): GradientTerms {
  const shared = { rowStart: sharedCopy(p.rowStart), columns: sharedCopy(p.columns), values: sharedCopy(p.values) }
  const y = sharedFloat64(2 * count)
  const attract = sharedFloat64(2 * count)
  const repel = sharedFloat64(2 * count)
  const zPart = sharedFloat64(count)
  const tree = new QuadTree(4 * count + 16, true)
  const stack = new Int32Array(512)
  const order = new Int32Array(new SharedArrayBuffer(4 * count))
  let calls = 0
  const bounds = Array.from({ length: threads + 1 }, (_, t) => Math.round((t * count) / threads))
  let failure: Error | null = null
  let pending: { resolve: () => void; reject: (e: Error) => void; left: number } | null = null
  const workers = Array.from({ length: threads - 1 }, () => {
    const worker = new Worker(WORKER_SOURCE, { eval: true })
    worker.postMessage({ kind: 'affinities', ...shared })
    worker.on('message', () => {
      if (pending && --pending.left === 0) pending.resolve()
    })
    worker.on('error', (e) => {
      failure = e
      pending?.reject(e)
    })
    return worker
  })
  return {
    async compute(yIn, exaggeration, attractOut, repelOut, zOut) {
      if (failure) throw failure
      y.set(yIn)
      tree.build(y, count)
      if (calls++ % ORDER_EVERY === 0) spatialOrder(y, count, order)
      const done = new Promise<void>((resolve, reject) => {
        pending = { resolve, reject, left: workers.length }
      })
      const { comX, comY, count: sizes, child, width } = tree
      workers.forEach((worker, w) => {
        const from = bounds[w + 1]!
        const to = bounds[w + 2]!
        worker.postMessage({ kind: 'forces', y, order, exaggeration, theta, from, to, attract, repel, zPart, comX, comY, count: sizes, child, width })
      })
      attractionRange(shared.rowStart, shared.columns, shared.values, y, exaggeration, 0, bounds[1]!, attract)
      repulsionWalk(comX, comY, sizes, child, width, y, order, 0, bounds[1]!, theta, repel, zPart, stack)
      await done
      pending = null
      attractOut.set(attract)
      repelOut.set(repel)
      zOut.set(zPart)
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()))
    },
  }
}
