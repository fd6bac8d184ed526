/**
 * Forward-only work on onnxruntime-node (issue 11): the model's ONNX bytes (its runtime source,
 * executors/runtimeSource.ts: an ONNX model's own file, a TF.js model written as ONNX) in an InferenceSession,
 * the requested layers' tensors added as graph outputs (models/onnx/addOutputs.ts, no decoding of the weights),
 * results presented as forward() presents them (NCHW maps as NHWC). Scans fetch less (runOnnxRuntimeMaxima):
 * each map's per-channel spatial max and argmax, reduced by nodes added to the graph. One session per set of
 * requested tensors, cached on the model and released when the model is disposed. Gradient work stays on tfjs.
 *
 * Rows independent of batching (scans' maxima always, codes on request: RunOptions.batchInvariant). Measured here
 * (onnxruntime-node 1.30 CPU, AMD EPYC with AVX-512; the demo gap, gmp and fc networks written as ONNX, the demo gap
 * as a TF.js graph model, the PyTorch port of gap, resnet18 and mobilenet_v2 at 64², mobilenet_v2 and nsfwjs's
 * MobileNetV2 at 224²; every scan layer and the output, full maps and the graph's maxima; bench/onnxRuntimeBatching.ts,
 * results/onnxRuntimeBatching-2026-12-05-*.json): an image's values never depend on its neighbours' content or its
 * place in the batch, and depend on the batch size in one way only: ReduceMean over the spatial axes of an NHWC map
 * (TF.js GlobalAveragePooling2D and tf Mean written as ONNX: the demo gap network's `gap` and what follows it, 36-48
 * values a few 1e-7 apart, e.g. 1.535225749 in a batch of two, 1.535225511 alone) is summed in another order when the
 * batch has fewer than max(2, T) images, T the session's intra-op threads (1, 2, 4, 8 tried: with 8, batches of 1-7
 * differ from 8-32; with 1 or 2, only a batch of 1). Why (onnxruntime's reduction_ops.cc): [n, h·w, c] is a
 * keep-reduce-keep ("KRK") reduction, whose fast kernel (one single-threaded MatMul per image) runs only when
 * n >= max(2, T); smaller batches take the generic loop. The fast kernel's values depend neither on T nor on the
 * neighbours (a batch of 16: the same bits on 1, 2, 4 and 8 threads). NCHW GlobalAveragePool, Gemm / MatMul with
 * one row, convolutions (threaded ones too) and ReduceMax gave the same bits at every batch size. So a batch of fewer than max(2, T) images (invariantBatchSize) runs padded
 * with copies of its last image, whose outputs are dropped: every image then takes the fast kernel, and a scan's or
 * codes run's bytes depend neither on sharding, worker count or threads, skipped files nor where a resumed run starts
 * (test/unit/onnxRuntimeShards.test.ts). The cost: a shard's last batch (and a dropped-in image's code) runs at
 * max(2, T) images; batches at least that large (scans' default 16 on up to 16 threads) run as they are.
 */
import { availableParallelism } from 'node:os'
import * as tf from '@tensorflow/tfjs'
import type * as Ort from 'onnxruntime-node'
import { ConvscopeError, ExecutorChoice } from '../../../shared/api'
import type { LoadedModel } from '../model'
import { withGraphOutputs, withSpatialMaxima, type MapMaxima, type MaximaOutputs } from '../models/onnx/addOutputs'
import { deviceInUse, executionProviders } from './device'
import type { RuntimeSource } from './runtimeSource'

// Loaded on first use: scans of other models (and their worker processes) never load the native library.
let ortModule: Promise<typeof Ort> | null = null
const loadOrt = () => (ortModule ??= import('onnxruntime-node'))

export const ONNX_RUNTIME_CPU = 'onnxruntime-cpu'
/** 'onnxruntime-<device>' (executors/device.ts: cpu, cuda, dml, coreml) or 'tfjs-<backend>': what a scan manifest records as its executor. */
export type ExecutorName = string

/** Whether an executor name is onnxruntime's, on whichever device. */
export const isOnnxRuntime = (executor: ExecutorName | undefined): boolean => executor?.startsWith('onnxruntime-') === true

/** CONVSCOPE_EXECUTOR: 'auto' (default: onnxruntime for ONNX models), 'tfjs' (force tfjs) or 'onnxruntime' (shared/api/executors.ts). */
export type { ExecutorChoice }

export function executorChoice(text: string | undefined = process.env.CONVSCOPE_EXECUTOR, source = 'CONVSCOPE_EXECUTOR'): ExecutorChoice {
  const parsed = ExecutorChoice.safeParse(text === undefined || text === '' ? 'auto' : text)
  if (!parsed.success) throw new ConvscopeError('BAD_REQUEST', `${source} is "${text}"; use auto, tfjs or onnxruntime`)
  return parsed.data
}

/** The executor forward-only work of `model` runs on, given the choice. */
export function forwardExecutor(model: LoadedModel, choice: ExecutorChoice = executorChoice()): ExecutorName {
  const tfjs = `tfjs-${tf.getBackend()}`
  if (choice === 'tfjs') return tfjs
  const why = forwardFallbackReason(model)
  // The device (CONVSCOPE_DEVICE) is read now too: an explicit device that cannot run here is a BAD_REQUEST.
  if (why === null) return `onnxruntime-${deviceInUse().device}`
  if (choice === 'onnxruntime') throw new ConvscopeError('BAD_REQUEST', `CONVSCOPE_EXECUTOR=onnxruntime: ${why}`)
  return tfjs
}

/** Why forward work of `model` cannot run on onnxruntime (it then runs on tfjs), or null when it can. */
export function forwardFallbackReason(model: LoadedModel): string | null {
  const source = model.runtimeSource
  if (!source) return `${model.info.name} has no ONNX form for onnxruntime`
  return source.unsupported
}

/**
 * Threads inside an onnxruntime op: OMP_NUM_THREADS where set (scan workers set it to 1, scan/workers.ts: one
 * compute thread per worker process), else every core.
 */
export function runtimeThreads(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.OMP_NUM_THREADS)
  return Number.isInteger(n) && n > 0 ? n : availableParallelism()
}

/** Float values with their (presented) shape. */
export interface Values {
  data: Float32Array
  shape: number[]
}

export interface RuntimeResult {
  /** Per requested name, NHWC for maps, as LoadedModel.forward gives them. */
  layers: Values[]
  /** The model's (first) graph output. */
  output: Values
}

/** [n, c, h, w] → [n, h, w, c] (NCHW → NHWC). */
export function moveChannelAxis(data: Float32Array, shape: readonly number[]): Float32Array {
  const [n, c, h, w] = shape as [number, number, number, number]
  const out = new Float32Array(data.length)
  const plane = h * w
  for (let b = 0; b < n; b++) {
    const base = b * c * plane
    for (let k = 0; k < c; k++) for (let p = 0; p < plane; p++) out[base + p * c + k] = data[base + k * plane + p]!
  }
  return out
}

/** A batch of NHWC images [h, w, c], held as one array (runOnnxRuntime's input) or one array per image (a scan's). */
export interface ImageBatch {
  n: number
  shape: readonly [number, number, number]
  image(i: number): Float32Array
  /** The whole batch as one NHWC array, where the caller gave one. */
  packed: Float32Array | null
}

function batchOf(input: Values): ImageBatch {
  const [n, h, w, c] = input.shape as [number, number, number, number]
  const size = h * w * c
  return { n, shape: [h, w, c], image: (i) => input.data.subarray(i * size, (i + 1) * size), packed: input.data }
}

/** Images of one size ([h, w, c] each) as an NHWC batch for onnxruntime, without packing them first. */
export function imageBatch(images: readonly Float32Array[], shape: readonly [number, number, number]): ImageBatch {
  const size = shape[0] * shape[1] * shape[2]
  for (const image of images) if (image.length !== size) throw new ConvscopeError('INTERNAL', `batch images differ in size: ${image.length} values, expected ${size}`)
  return { n: images.length, shape, image: (i) => images[i]!, packed: images.length === 1 ? images[0]! : null }
}

/** How a run treats its batch. */
export interface RunOptions {
  /**
   * Each image's values exactly as in any batch (a batch of fewer than invariantBatchSize images runs padded with
   * copies of its last: see the header), for work whose rows must not depend on batching (codes). Scans' maxima always are.
   */
  batchInvariant?: boolean
}

/** The fewest images a batch runs with when rows must not depend on batching, on `threads` intra-op threads (header). */
export const invariantBatchSize = (threads: number): number => Math.max(2, threads)

/** `batch` followed by copies of its last image, `size` images in all. */
function paddedBatch(batch: ImageBatch, size: number): ImageBatch {
  return { n: size, shape: batch.shape, image: (i) => batch.image(Math.min(i, batch.n - 1)), packed: null }
}

/** What the results are read from: an output tensor's type, values and shape (a run's, or the first images' part of one). */
type Output = Pick<Ort.Tensor, 'type' | 'data' | 'dims'>

/** The first `n` images' part of each output of a run over `fed` images (views, no copy). */
function firstImages(outputs: Record<string, Output>, n: number, fed: number): Record<string, Output> {
  const kept: Record<string, Output> = {}
  for (const [name, t] of Object.entries(outputs)) {
    if (t.dims[0] !== fed || !ArrayBuffer.isView(t.data)) throw new ConvscopeError('INTERNAL', `tensor ${name} has shape [${t.dims.join(', ')}]; a padded batch's run needs the batch first`)
    const data = t.data as Float32Array | BigInt64Array
    kept[name] = { type: t.type, data: data.subarray(0, (data.length / fed) * n), dims: [n, ...t.dims.slice(1)] }
  }
  return kept
}

/** A scan layer whose per-channel spatial max and argmax onnxruntime computes: its name and grid. */
export interface MaximaLayer {
  name: string
  units: number
  height: number
  width: number
}

/** Per-channel spatial max over a batch: max [n·units] and the flat position y·width + x of its first occurrence. */
export interface Maxima {
  max: Float32Array
  arg: Int32Array
}

interface Prepared<T> {
  session: Ort.InferenceSession
  fetch: T
  /** The session's intra-op threads. */
  threads: number
}

/** What a maxima session fetches: per map its ReduceMax / ArgMax outputs, per 1 × 1 layer its tensor as it is. */
type MaximaFetch = Map<string, MaximaOutputs | string>

class RuntimeExecutor {
  private readonly sessions = new Map<string, Promise<Prepared<unknown>>>()
  private disposed = false
  // One input buffer kept between batches (a scan's batches are the same size); a concurrent run allocates its own.
  private spare: Float32Array | null = null

  constructor(private readonly source: RuntimeSource) {
    source.onDispose(() => this.release())
  }

  get openSessions(): number {
    return this.sessions.size
  }

  /** The session for `key`, built on first use from the model bytes as `build` extends them. */
  private prepared<T>(key: string, build: (bytes: Uint8Array) => { bytes: Uint8Array; fetch: T }): Promise<Prepared<T>> {
    if (this.disposed) throw new ConvscopeError('INTERNAL', 'the model was disposed')
    // A session is tied to its providers: a device chosen later (the Workspace setting) gets sessions of its own.
    const providers = executionProviders()
    key = `${providers.join(',')}\n${key}`
    let prepared = this.sessions.get(key) as Promise<Prepared<T>> | undefined
    if (!prepared) {
      prepared = Promise.all([this.source.bytes(), loadOrt()]).then(async ([bytes, ort]) => {
        const built = build(bytes)
        const threads = runtimeThreads()
        const session = await ort.InferenceSession.create(built.bytes, {
          executionProviders: providers,
          intraOpNumThreads: threads,
          // Requested tensors are graph outputs (or feed added nodes), so no fusion removes them.
          graphOptimizationLevel: 'all',
          // Idle op threads block instead of spinning: spinning took the cores from the JS work after a run (decoding,
          // boxes: the demo CAM top-5 took 40 ms instead of 19 on 2 cores) and gained no throughput (classify, P8).
          extra: { session: { intra_op: { allow_spinning: '0' } } },
        })
        return { session, fetch: built.fetch, threads }
      })
      this.sessions.set(key, prepared)
      prepared.catch(() => this.sessions.delete(key))
    }
    return prepared
  }

  private lease(size: number): Float32Array {
    const spare = this.spare
    if (spare && spare.length >= size) {
      this.spare = null
      return spare.subarray(0, size)
    }
    return new Float32Array(size)
  }

  private giveBack(buffer: Float32Array): void {
    if (!this.spare || buffer.buffer.byteLength > this.spare.length * 4) this.spare = new Float32Array(buffer.buffer)
  }

  /**
   * Runs the batch, fetching `fetched`: one run, or image by image for a model with a fixed batch of 1. The input
   * is fed as it is where it can be (NHWC sources, one array), else written once into a reused buffer (NCHW
   * sources: transposed on the way).
   */
  private async runRows(session: Ort.InferenceSession, batch: ImageBatch, fetched: readonly string[], minimum = 0): Promise<Record<string, Output>[]> {
    const { input: image } = this.source
    // A model with a fixed batch runs every image alike already; a dynamic one pads a small batch (header).
    if (batch.n < minimum && image.batch === null) {
      const parts = await this.runRows(session, paddedBatch(batch, minimum), fetched)
      return parts.map((p) => firstImages(p, batch.n, minimum))
    }
    const ort = await loadOrt()
    const { n } = batch
    const [h, w, c] = batch.shape
    const rows = image.batch === null || image.batch === n ? 1 : n
    if (rows > 1 && image.batch !== 1) throw new ConvscopeError('BAD_REQUEST', `the model takes batches of exactly ${image.batch} images, got ${n}`)
    const per = n / rows
    const nchw = image.layout === 'nchw'
    const dims = nchw ? [per, c, h, w] : [per, h, w, c]
    const direct = (r: number) => (nchw ? null : rows === 1 ? batch.packed : batch.image(r))
    const buffer = direct(0) ? null : this.lease(per * h * w * c)
    try {
      const parts: Record<string, Output>[] = []
      for (let r = 0; r < rows; r++) {
        let data = direct(r)
        if (!data) {
          data = buffer!
          for (let i = 0; i < per; i++) packImage(batch.image(r * per + i), data, i, h * w, c, nchw)
        }
        parts.push(await session.run({ [image.name]: new ort.Tensor('float32', data, dims) }, fetched))
      }
      return parts
    } finally {
      if (buffer) this.giveBack(buffer)
    }
  }

  async run(input: Values, names: readonly string[], options: RunOptions): Promise<RuntimeResult> {
    const { input: image, output } = this.source
    const requested = names.map((n) => this.source.tensorOf(n))
    const fetched = [...new Set([...requested, output])].filter((t) => t !== image.name).sort()
    const extra = fetched.filter((t) => t !== output)
    const { session, threads } = await this.prepared(fetched.join('\n'), (bytes) => ({ bytes: extra.length ? withGraphOutputs(bytes, extra) : bytes, fetch: null }))
    const parts = await this.runRows(session, batchOf(input), fetched, options.batchInvariant ? invariantBatchSize(threads) : 0)
    const n = input.shape[0]!
    const present = (tensor: string): Values => {
      if (tensor === image.name) return input
      const data = floatData(parts, tensor)
      const shape = [n, ...parts[0]![tensor]!.dims.slice(1)]
      if (this.source.isNchw(tensor, shape.length)) return { data: moveChannelAxis(data, shape), shape: [shape[0]!, shape[2]!, shape[3]!, shape[1]!] }
      return { data, shape }
    }
    const cache = new Map<string, Values>()
    const get = (t: string) => cache.get(t) ?? cache.set(t, present(t)).get(t)!
    return { layers: requested.map(get), output: get(output) }
  }

  /**
   * Per-channel spatial max and first argmax of each layer, reduced inside the graph (models/onnx/addOutputs.ts:
   * Reshape + ReduceMax + ArgMax), so only n × units values per layer come back; 1 × 1 layers come back as they are.
   */
  async runMaxima(batch: ImageBatch, layers: readonly MaximaLayer[]): Promise<Maxima[]> {
    const planned = layers.map((l) => {
      const tensor = this.source.tensorOf(l.name)
      const positions = l.height * l.width
      const layout = positions === 1 ? null : this.source.isNchw(tensor, 4) ? ('nchw' as const) : ('nhwc' as const)
      return { layer: l, tensor, map: layout && { tensor, layout, units: l.units, positions } }
    })
    const maps = [...new Map(planned.flatMap((p) => (p.map ? [[mapKey(p.map), p.map] as const] : []))).values()]
    const flat = [...new Set(planned.filter((p) => !p.map).map((p) => p.tensor))]
    const key = ['maxima', ...maps.map(mapKey), ...flat].join('\n')
    const { session, fetch, threads } = await this.prepared<MaximaFetch>(key, (bytes) => {
      const added = withSpatialMaxima(bytes, maps, flat)
      return { bytes: added.bytes, fetch: new Map<string, MaximaOutputs | string>([...maps.map((m, i) => [mapKey(m), added.maxima[i]!] as const), ...flat.map((t) => [t, t] as const)]) }
    })
    const fetched = [...fetch.values()].flatMap((f) => (typeof f === 'string' ? [f] : [f.max, f.arg]))
    let parts: Record<string, Output>[]
    try {
      parts = await this.runRows(session, batch, fetched, invariantBatchSize(threads))
    } catch (e) {
      if (e instanceof ConvscopeError) throw e
      throw new ConvscopeError('INTERNAL', `onnxruntime could not reduce the maps of ${layers.map((l) => l.name).join(', ')}: ${(e as Error).message}`)
    }
    return planned.map(({ layer, tensor, map }) => {
      const f = fetch.get(map ? mapKey(map) : tensor)!
      const max = floatData(parts, typeof f === 'string' ? f : f.max)
      if (max.length !== batch.n * layer.units) throw new ConvscopeError('INTERNAL', `layer ${layer.name} gave ${max.length / batch.n} values per image, expected ${layer.units} units`)
      const arg = typeof f === 'string' ? new Int32Array(max.length) : int64AsInt32(parts.map((p) => p[f.arg]!))
      return { max, arg }
    })
  }

  release(): void {
    this.disposed = true
    const open = [...this.sessions.values()]
    this.sessions.clear()
    for (const s of open) void s.then(({ session }) => session.release()).catch(() => undefined)
  }
}

const mapKey = (m: MapMaxima) => `${m.tensor}\t${m.layout}\t${m.units}\t${m.positions}`

/** Image `i` of a batch, NHWC [plane, c], written at its place in `out` as NHWC or (transposed) NCHW. */
function packImage(image: Float32Array, out: Float32Array, i: number, plane: number, c: number, nchw: boolean): void {
  const base = i * plane * c
  if (!nchw) return out.set(image, base)
  for (let k = 0; k < c; k++) {
    const o = base + k * plane
    for (let p = 0; p < plane; p++) out[o + p] = image[p * c + k]!
  }
}

/** A float32 output of each run, as one array (the runs' in order). */
function floatData(parts: readonly Record<string, Output>[], tensor: string): Float32Array {
  const first = parts[0]![tensor]!
  if (first.type !== 'float32') throw new ConvscopeError('BAD_REQUEST', `tensor ${tensor} is ${first.type}; onnxruntime results are read as float32`)
  return parts.length === 1 ? (first.data as Float32Array) : concat(parts.map((p) => p[tensor]!.data as Float32Array))
}

/** ArgMax's int64 outputs as int32 (positions are < 2^31): the low word of each little-endian value. */
function int64AsInt32(tensors: readonly Output[]): Int32Array {
  const total = tensors.reduce((s, t) => s + (t.data as BigInt64Array).length, 0)
  const out = new Int32Array(total)
  let at = 0
  for (const t of tensors) {
    const big = t.data as BigInt64Array
    const words = new Int32Array(big.buffer, big.byteOffset, big.length * 2)
    for (let i = 0; i < big.length; i++) out[at++] = words[2 * i]!
  }
  return out
}

/** The arrays one after another in one new array (batch outputs of several runs). */
function concat(arrays: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.reduce((s, a) => s + a.length, 0))
  let off = 0
  for (const a of arrays) {
    out.set(a, off)
    off += a.length
  }
  return out
}

const executors = new WeakMap<RuntimeSource, RuntimeExecutor>()

function executorOf(model: LoadedModel): RuntimeExecutor {
  const source = model.runtimeSource
  const why = forwardFallbackReason(model)
  if (!source || why !== null) throw new ConvscopeError('BAD_REQUEST', `onnxruntime cannot run this model: ${why}`)
  let executor = executors.get(source)
  if (!executor) executors.set(source, (executor = new RuntimeExecutor(source)))
  return executor
}

/**
 * Forward `input` (NHWC [n, h, w, c] float32) on onnxruntime to the named layers (any name forward accepts);
 * values as LoadedModel.forward presents them, plus the model's output.
 */
export function runOnnxRuntime(model: LoadedModel, input: Values, names: readonly string[], options: RunOptions = {}): Promise<RuntimeResult> {
  return executorOf(model).run(input, names, options)
}

/**
 * A scan's forward on onnxruntime: per layer, the per-channel spatial max [n·units] (image-major) and the flat
 * position y·width + x of its first occurrence, as scan/spatialMax.ts's spatialMaxOf gives them from the full maps.
 * `input`: an NHWC batch (runOnnxRuntime's) or imageBatch(images, [h, w, c]). Each image's values are those of any
 * batch it could have been in (a small batch runs padded: see the header).
 */
export function runOnnxRuntimeMaxima(model: LoadedModel, input: Values | ImageBatch, layers: readonly MaximaLayer[]): Promise<Maxima[]> {
  return executorOf(model).runMaxima('data' in input ? batchOf(input) : input, layers)
}

/** Sessions this model holds open (0 after dispose). */
export function openSessions(model: LoadedModel): number {
  const source = model.runtimeSource
  return source ? (executors.get(source)?.openSessions ?? 0) : 0
}
