/**
 * Runs one ONNX op two ways on the same seeded inputs — through onnxruntime-node (the reference) and through
 * convscope's tfjs kernel (src/main/engine/graph/ops) with the node as readOnnxModel decodes it — and compares
 * them: same shape, max |a − b| ≤ 1e-5 · max(1, max |reference|). Used by test/unit/onnxOps*.test.ts.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import ort from 'onnxruntime-node'
import { initBackend } from '../../src/main/engine/backend'
import { int32Values, kernelFor } from '../../src/main/engine/graph/ops'
import type { OpNode } from '../../src/main/engine/graph/ops/types'
import { readOnnxModel } from '../../src/main/engine/models/onnx'
import { buildOnnxModel, type AttributeSpec, type ModelSpec, type OnnxDtype } from './onnxBuilder'
import { seededRandom } from '../fixtures/models'

export const TOLERANCE = 1e-5
const SEED = Number(process.env.CONVSCOPE_TEST_SEED ?? 20261205)

/** Seeded test data (the fixtures' mulberry32 stream) with the draws the op cases need. */
export class Random {
  readonly uniform: () => number
  constructor(seed: number) {
    this.uniform = seededRandom(seed)
  }
  /** `n` values in [lo, hi). */
  values(n: number, lo = -1, hi = 1): Float32Array {
    return Float32Array.from({ length: n }, () => lo + (hi - lo) * this.uniform())
  }
}

/** One input of the op: given values, or seeded random ones in [lo, hi) (default [−1, 1)). */
export interface Feed {
  name: string
  dims: number[]
  dtype?: OnnxDtype
  values?: ArrayLike<number>
  range?: [number, number]
}

export interface OpCase {
  /** What the case checks (shown in failures). */
  name: string
  op: string
  opset?: number
  feeds: Feed[]
  /** The node's input names ('' for an omitted optional input); default: the feeds' names. */
  inputs?: string[]
  attributes?: Record<string, AttributeSpec | undefined>
  /** Output element types (float32 unless said); their count is the node's output count. */
  outputs?: OnnxDtype[]
}

let backendReady: Promise<unknown> | undefined
/** The backend the engine picks in node (wasm here, cpu as its fallback; CONVSCOPE_BACKEND forces one), once per test file. */
export function useEngineBackend(): Promise<unknown> {
  backendReady ??= initBackend({ forced: process.env.CONVSCOPE_BACKEND })
  return backendReady
}

function valuesOf(feed: Feed, random: Random): number[] {
  if (feed.values != null) return Array.from(feed.values)
  const n = feed.dims.reduce((a, b) => a * b, 1)
  const [lo, hi] = feed.range ?? [-1, 1]
  return Array.from(random.values(n, lo, hi))
}

function ortTensor(dtype: OnnxDtype, values: number[], dims: number[]): ort.Tensor {
  switch (dtype) {
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from(values), dims)
    case 'int64':
      return new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims)
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from(values), dims)
    case 'bool':
      return new ort.Tensor('bool', Uint8Array.from(values), dims)
    default:
      throw new Error(`harness: feed dtype ${dtype}`)
  }
}

function tfTensor(dtype: OnnxDtype, values: number[], dims: number[]): tf.Tensor {
  if (dtype === 'float32' || dtype === 'float64') return tf.tensor(values, dims, 'float32')
  if (dtype === 'bool') return tf.tensor(values.map(Boolean), dims, 'bool')
  return tf.tensor(int32Values(values), dims, 'int32') // as the executor holds int64: clamped to int32
}

export interface Result {
  dims: number[]
  values: number[]
}

/** The model of one node `c` and the node's description as the reader decodes it (with its opset and output count). */
export function opModel(c: OpCase): { bytes: Uint8Array; node: OpNode } {
  const outputs = (c.outputs ?? ['float32']).map((dtype, i) => ({ name: `y${i}`, dtype }))
  const spec: ModelSpec = {
    opset: c.opset ?? 13,
    inputs: c.feeds.map((f) => ({ name: f.name, dtype: f.dtype, dims: f.dims })),
    outputs,
    nodes: [{ opType: c.op, name: c.name, inputs: c.inputs ?? c.feeds.map((f) => f.name), outputs: outputs.map((o) => o.name), attributes: c.attributes }],
  }
  const bytes = buildOnnxModel(spec)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convscope-op-'))
  try {
    const file = path.join(dir, 'op.onnx')
    fs.writeFileSync(file, bytes)
    const model = readOnnxModel(file)
    const n = model.nodes[0]!
    return { bytes, node: { name: n.name, opType: n.opType, domain: n.domain, attributes: n.attributes, opset: model.opset, outputCount: n.outputs.length } }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** The op run by onnxruntime and by the tfjs kernel on the same inputs. */
export async function runBoth(c: OpCase, seed = SEED): Promise<{ reference: Result[]; ours: Result[] }> {
  await useEngineBackend()
  const random = new Random(seed)
  const feeds = c.feeds.map((f) => ({ ...f, dtype: f.dtype ?? 'float32', data: valuesOf(f, random) }))
  const { bytes, node } = opModel(c)

  const session = await ort.InferenceSession.create(bytes)
  const out = await session.run(Object.fromEntries(feeds.map((f) => [f.name, ortTensor(f.dtype, f.data, f.dims)])))
  const reference = session.outputNames.map((name) => ({ dims: [...out[name]!.dims], values: Array.from(out[name]!.data as ArrayLike<number | bigint | boolean>, Number) }))
  await session.release()

  const kernel = kernelFor(node.opType, node.domain)
  assert.ok(kernel, `${c.name}: no kernel for ${c.op}`)
  const inputs = feeds.map((f) => tfTensor(f.dtype, f.data, f.dims))
  const byName = new Map(feeds.map((f, i) => [f.name, inputs[i]!]))
  const before = tf.memory().numTensors
  const ours = tf.tidy(() => {
    const ys = kernel((c.inputs ?? c.feeds.map((f) => f.name)).map((n) => (n === '' ? null : byName.get(n)!)), node)
    return ys.map((y) => ({ dims: [...y.shape], values: Array.from(y.dataSync() as ArrayLike<number | boolean>, Number) }))
  })
  assert.equal(tf.memory().numTensors, before, `${c.name}: the kernel leaked tensors`)
  tf.dispose(inputs)
  return { reference, ours }
}

/** max |a − b| / max(1, max |reference|) of one output. */
export function relativeError(ours: Result, reference: Result): number {
  let diff = 0
  let scale = 1
  reference.values.forEach((r, i) => {
    const o = ours.values[i]!
    // ±∞ (e.g. a max over nothing but −∞ padding) must match exactly
    const d = r === o ? 0 : Math.abs(o - r)
    diff = Math.max(diff, Number.isNaN(d) ? Infinity : d)
    if (Number.isFinite(r)) scale = Math.max(scale, Math.abs(r))
  })
  return diff / scale
}

/** Runs `c` both ways and asserts shapes and values agree. */
export async function checkOp(c: OpCase): Promise<void> {
  const { reference, ours } = await runBoth(c)
  assert.equal(ours.length, reference.length, `${c.name}: ${ours.length} outputs, onnxruntime gives ${reference.length}`)
  reference.forEach((ref, i) => {
    assert.deepEqual(ours[i]!.dims, ref.dims, `${c.name}: output ${i} has shape [${ours[i]!.dims}], onnxruntime [${ref.dims}]`)
    const err = relativeError(ours[i]!, ref)
    assert.ok(err <= TOLERANCE, `${c.name}: output ${i} differs from onnxruntime by ${err.toExponential(2)} (relative)`)
  })
}
