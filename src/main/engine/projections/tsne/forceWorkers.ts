/**
 * The gradient's sums on several threads, in two phases of chunks of 256 points taken from shared counters until
 * none is left: the workers start on the attraction (indices [a, b)) while this thread builds the quadtree (on
 * SharedArrayBuffers); then every thread takes what is left of the attraction and the repulsion's chunks (walk-order
 * positions [a, b)). Each chunk writes only its own points' rows, so the result is the same for any number of
 * threads and any interleaving (Z is summed afterwards, in point order).
 * Why the attraction first: the build runs on this thread only (8.5 CPU ms at 50 000 points, the attraction ≈ 23),
 * so another core has work meanwhile.
 * Why chunks from a counter, not a fixed share per thread: on a shared machine a descheduled worker would hold up
 * every iteration (measured: a fixed half per thread ran 1.2× slower than one thread at load 10 on 2 cores); with a
 * counter the threads that run do the work. The counter carries the iteration (epoch) in its high bits, so a worker
 * still busy with an old message cannot take chunks of a newer iteration.
 * Why threads: the walk is most of an iteration and scikit-learn's Cython runs on every core through OpenMP.
 * The workers run the source text of the self-contained kernels (repulsionWalk, attractionRange, runChunks), so the
 * built app needs no separate worker bundle.
 */
import { Worker } from 'node:worker_threads'
import { ConvscopeError } from '../../../../shared/api'
import type { SparseAffinities } from './affinities'
import { QuadTree, repulsionWalk, spatialOrder } from './barnesHut'
import { attractionRange, type GradientTerms } from './gradientDescent'
import { ORDER_EVERY } from './treeForces'

const CHUNK = 256
const EPOCH_SHIFT = 20
const EPOCHS = 2048 // epoch << 20 stays a positive int32

/** The shared state of one phase of an iteration (0: attraction, 1: repulsion), as posted to the workers. */
interface ChunkJob {
  phase: 0 | 1
  epoch: number
  chunks: number
  chunkSize: number
  count: number
  ctrl: Int32Array
  rowStart: Int32Array
  columns: Int32Array
  values: Float64Array
  y: Float64Array
  order: Int32Array
  exaggeration: number
  theta: number
  attract: Float64Array
  repel: Float64Array
  zPart: Float64Array
  nodes: Float64Array
  skip: Int32Array
  size: number
}

/**
 * Takes chunks of phase `job.phase` of iteration `job.epoch` from its counter (ctrl[0]: attraction, ctrl[2]:
 * repulsion; epoch << EPOCH_SHIFT | next chunk; the shift is written out as 20 and 0xfffff below, as the function
 * must not refer to anything outside it) until none is left, runs them and counts each in ctrl[1].
 * Self-contained: it runs in the workers from its source text (the kernels are arguments).
 */
export function runChunks(job: ChunkJob, attraction: typeof attractionRange, walk: typeof repulsionWalk): void {
  const ctrl = job.ctrl
  const counter = job.phase === 0 ? 0 : 2
  for (;;) {
    const v = Atomics.load(ctrl, counter)
    if (v >>> 20 !== job.epoch || (v & 0xfffff) >= job.chunks) return
    if (Atomics.compareExchange(ctrl, counter, v, v + 1) !== v) continue
    const from = (v & 0xfffff) * job.chunkSize
    const to = Math.min(job.count, from + job.chunkSize)
    if (job.phase === 0) attraction(job.rowStart, job.columns, job.values, job.y, job.exaggeration, from, to, job.attract)
    else walk(job.nodes, job.skip, job.size, job.y, job.order, from, to, job.theta, job.repel, job.zPart)
    Atomics.add(ctrl, 1, 1)
    Atomics.notify(ctrl, 1)
  }
}

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const repulsionWalk = ${repulsionWalk.toString()}
const attractionRange = ${attractionRange.toString()}
const runChunks = ${runChunks.toString()}
parentPort.on('message', (job) => runChunks(job, attractionRange, repulsionWalk))
`

const sharedFloat64 = (n: number) => new Float64Array(new SharedArrayBuffer(8 * n))

function sharedCopy<T extends Int32Array | Float64Array>(a: T): T {
  const b = (a instanceof Int32Array ? new Int32Array(new SharedArrayBuffer(4 * a.length)) : sharedFloat64(a.length)) as T
  b.set(a)
  return b
}

/** `threads` ≥ 2 in all: this one and threads − 1 workers. */
export function forceWorkers(p: SparseAffinities, count: number, theta: number, threads: number): GradientTerms {
  const rowStart = sharedCopy(p.rowStart)
  const columns = sharedCopy(p.columns)
  const values = sharedCopy(p.values)
  const y = sharedFloat64(2 * count)
  const attract = sharedFloat64(2 * count)
  const repel = sharedFloat64(2 * count)
  const zPart = sharedFloat64(count)
  const order = new Int32Array(new SharedArrayBuffer(4 * count))
  const ctrl = new Int32Array(new SharedArrayBuffer(12))
  const tree = new QuadTree(4 * count + 16, true)
  const chunks = Math.ceil(count / CHUNK)
  if (chunks >= 1 << EPOCH_SHIFT) throw new ConvscopeError('BAD_REQUEST', `t-SNE handles up to ${(1 << EPOCH_SHIFT) * CHUNK} points, not ${count}`)
  let failure: Error | null = null
  const workers = Array.from({ length: threads - 1 }, () => {
    const worker = new Worker(WORKER_SOURCE, { eval: true })
    worker.on('error', (e) => {
      failure = e
    })
    return worker
  })
  let calls = 0
  return {
    async compute(yIn, exaggeration, attractOut, repelOut, zOut) {
      if (failure) throw failure
      y.set(yIn)
      const epoch = calls % EPOCHS
      Atomics.store(ctrl, 1, 0)
      Atomics.store(ctrl, 2, epoch << EPOCH_SHIFT)
      Atomics.store(ctrl, 0, epoch << EPOCH_SHIFT)
      const common = { epoch, chunks, chunkSize: CHUNK, count, ctrl, rowStart, columns, values, y, order, exaggeration, theta, attract, repel, zPart }
      const attractJob: ChunkJob = { ...common, phase: 0, nodes: tree.nodes, skip: tree.skip, size: 0 }
      for (const worker of workers) worker.postMessage(attractJob)
      if (calls++ % ORDER_EVERY === 0) spatialOrder(y, count, order)
      tree.build(y, count, order)
      const walkJob: ChunkJob = { ...common, phase: 1, nodes: tree.nodes, skip: tree.skip, size: tree.size }
      for (const worker of workers) worker.postMessage(walkJob)
      runChunks(attractJob, attractionRange, repulsionWalk)
      runChunks(walkJob, attractionRange, repulsionWalk)
      // Chunks other threads took: wait for them (a worker that dies mid-chunk is reported, not waited for forever).
      const started = Date.now()
      for (let done = Atomics.load(ctrl, 1); done < 2 * chunks; done = Atomics.load(ctrl, 1)) {
        Atomics.wait(ctrl, 1, done, 50)
        if (Date.now() - started > 60_000) throw new ConvscopeError('INTERNAL', 't-SNE: a gradient worker stopped answering')
      }
      attractOut.set(attract)
      repelOut.set(repel)
      zOut.set(zPart)
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()))
    },
  }
}
