/**
 * Forward-only work on onnxruntime-node (issue 11): the model's ONNX bytes (its runtime source,
 * executors/runtimeSource.ts: an ONNX model's own file, a TF.js model written as ONNX) in an InferenceSession,
 * the requested layers' tensors added as graph outputs (models/onnx/addOutputs.ts, no decoding of the weights),
 * results presented as forward() presents them (NCHW maps as NHWC). One session per set of requested tensors,
 * cached on the model and released when the model is disposed. Gradient work stays on tfjs.
 */
import { availableParallelism } from 'node:os'
import * as tf from '@tensorflow/tfjs'
import type * as Ort from 'onnxruntime-node'
import { z } from 'zod'
import { ConvscopeError } from '../../../shared/api'
import type { LoadedModel } from '../model'
import { withGraphOutputs } from '../models/onnx/addOutputs'
import { executionProviders } from './device'
import type { RuntimeSource } from './runtimeSource'

// Loaded on first use: scans of other models (and their worker processes) never load the native library.
let ortModule: Promise<typeof Ort> | null = null
const loadOrt = () => (ortModule ??= import('onnxruntime-node'))

export const ONNX_RUNTIME_CPU = 'onnxruntime-cpu'
/** 'onnxruntime-cpu' or 'tfjs-<backend>': what a scan manifest records as its executor. */
export type ExecutorName = string

/** CONVSCOPE_EXECUTOR: 'auto' (default: onnxruntime for ONNX models), 'tfjs' (force tfjs) or 'onnxruntime'. */
const ExecutorChoice = z.enum(['auto', 'tfjs', 'onnxruntime'])
export type ExecutorChoice = z.infer<typeof ExecutorChoice>

export function executorChoice(text: string | undefined = process.env.CONVSCOPE_EXECUTOR): ExecutorChoice {
  const parsed = ExecutorChoice.safeParse(text === undefined || text === '' ? 'auto' : text)
  if (!parsed.success) throw new ConvscopeError('BAD_REQUEST', `CONVSCOPE_EXECUTOR is "${text}"; use auto, tfjs or onnxruntime`)
  return parsed.data
}

/** The executor forward-only work of `model` runs on, given the choice. */
export function forwardExecutor(model: LoadedModel, choice: ExecutorChoice = executorChoice()): ExecutorName {
  const tfjs = `tfjs-${tf.getBackend()}`
  if (choice === 'tfjs') return tfjs
  const why = forwardFallbackReason(model)
  if (why === null) return ONNX_RUNTIME_CPU
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

/** [n, a, b, c] → [n, b, c, a] (NCHW → NHWC) or, with `toFirst`, [n, b, c, a] → [n, a, b, c] (NHWC → NCHW). */
export function moveChannelAxis(data: Float32Array, shape: readonly number[], toFirst = false): Float32Array {
  const [n, c, h, w] = (toFirst ? [shape[0], shape[3], shape[1], shape[2]] : shape) as [number, number, number, number]
  const out = new Float32Array(data.length)
  const plane = h * w
  for (let b = 0; b < n; b++) {
    const base = b * c * plane
    for (let k = 0; k < c; k++)
      for (let p = 0; p < plane; p++) {
        if (toFirst) out[base + k * plane + p] = data[base + p * c + k]!
        else out[base + p * c + k] = data[base + k * plane + p]!
      }
  }
  return out
}

class RuntimeExecutor {
  private readonly sessions = new Map<string, Promise<Ort.InferenceSession>>()
  private disposed = false

  constructor(private readonly source: RuntimeSource) {
    source.onDispose(() => this.release())
  }

  get openSessions(): number {
    return this.sessions.size
  }

  private session(tensors: readonly string[]): Promise<Ort.InferenceSession> {
    if (this.disposed) throw new ConvscopeError('INTERNAL', 'the model was disposed')
    const key = tensors.join('\n')
    let session = this.sessions.get(key)
    if (!session) {
      const extra = tensors.filter((t) => t !== this.source.output)
      session = Promise.all([this.source.bytes(), loadOrt()]).then(([bytes, ort]) =>
        ort.InferenceSession.create(extra.length ? withGraphOutputs(bytes, extra) : bytes, {
          executionProviders: executionProviders(),
          intraOpNumThreads: runtimeThreads(),
          // Requested tensors are graph outputs, so no fusion removes them.
          graphOptimizationLevel: 'all',
        }),
      )
      this.sessions.set(key, session)
      session.catch(() => this.sessions.delete(key))
    }
    return session
  }

  async run(input: Values, names: readonly string[]): Promise<RuntimeResult> {
    const { input: image, output } = this.source
    const requested = names.map((n) => this.source.tensorOf(n))
    const fetched = [...new Set([...requested, output])].filter((t) => t !== image.name).sort()
    const session = await this.session(fetched)
    const ort = await loadOrt()
    const [n, h, w, c] = input.shape as [number, number, number, number]
    const fed = image.layout === 'nchw' ? moveChannelAxis(input.data, input.shape, true) : input.data
    // A model exported with a fixed batch of 1 runs image by image.
    const rows = image.batch === null || image.batch === n ? 1 : n
    if (rows > 1 && image.batch !== 1) throw new ConvscopeError('BAD_REQUEST', `the model takes batches of exactly ${image.batch} images, got ${n}`)
    const perRow = (n / rows) * c * h * w
    const parts: Record<string, Ort.Tensor>[] = []
    for (let r = 0; r < rows; r++) {
      const dims = image.layout === 'nchw' ? [n / rows, c, h, w] : [n / rows, h, w, c]
      const feed = new ort.Tensor('float32', fed.subarray(r * perRow, (r + 1) * perRow), dims)
      parts.push(await session.run({ [image.name]: feed }, fetched))
    }
    const present = (tensor: string): Values => {
      if (tensor === image.name) return input
      const first = parts[0]![tensor]!
      if (first.type !== 'float32') throw new ConvscopeError('BAD_REQUEST', `tensor ${tensor} is ${first.type}; onnxruntime results are read as float32`)
      const shape = [n, ...first.dims.slice(1)]
      const data = rows === 1 ? (first.data as Float32Array) : concat(parts.map((p) => p[tensor]!.data as Float32Array))
      if (this.source.isNchw(tensor, shape.length)) return { data: moveChannelAxis(data, shape), shape: [shape[0]!, shape[2]!, shape[3]!, shape[1]!] }
      return { data, shape }
    }
    const cache = new Map<string, Values>()
    const get = (t: string) => cache.get(t) ?? cache.set(t, present(t)).get(t)!
    return { layers: requested.map(get), output: get(output) }
  }

  release(): void {
    this.disposed = true
    const open = [...this.sessions.values()]
    this.sessions.clear()
    for (const s of open) void s.then((session) => session.release()).catch(() => undefined)
  }
}

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
export function runOnnxRuntime(model: LoadedModel, input: Values, names: readonly string[]): Promise<RuntimeResult> {
  return executorOf(model).run(input, names)
}

/** Sessions this model holds open (0 after dispose). */
export function openSessions(model: LoadedModel): number {
  const source = model.runtimeSource
  return source ? (executors.get(source)?.openSessions ?? 0) : 0
}
