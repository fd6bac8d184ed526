/**
 * Float32 matrix products on onnxruntime's CPU kernels (MLAS: blocked, vectorised, on every core): the products of
 * exact kNN and PCA over 100 000 codes. One Gemm node per (transA, transB), built in memory, shapes free.
 * Why not the JS loop (knn.ts blockDots): measured here 5× slower for one query and 15-50× for a batch of queries
 * (bench/neighbours.ts).
 */
import type * as Ort from 'onnxruntime-node'
import { ModelProtoType } from '../models/onnx/proto'
import { runtimeThreads } from '../executors/onnxRuntime'

let ortModule: Promise<typeof Ort> | null = null
const sessions = new Map<string, Promise<Ort.InferenceSession>>()

const FLOAT = 1 // onnx TensorProto.FLOAT
const INT = 2 // onnx AttributeProto.INT

function gemmModel(transA: boolean, transB: boolean): Uint8Array {
  const tensor = (name: string, dims: string[]) => ({ name, type: { tensor_type: { elem_type: FLOAT, shape: { dim: dims.map((d) => ({ dim_param: d })) } } } })
  return ModelProtoType.encode(
    ModelProtoType.fromObject({
      ir_version: 8,
      opset_import: [{ domain: '', version: 13 }],
      producer_name: 'convscope gemm',
      graph: {
        name: 'gemm',
        node: [
          {
            op_type: 'Gemm',
            input: ['a', 'b'],
            output: ['y'],
            attribute: [
              { name: 'transA', type: INT, i: transA ? 1 : 0 },
              { name: 'transB', type: INT, i: transB ? 1 : 0 },
            ],
          },
        ],
        input: [tensor('a', transA ? ['k', 'm'] : ['m', 'k']), tensor('b', transB ? ['n', 'k'] : ['k', 'n'])],
        output: [tensor('y', ['m', 'n'])],
      },
    }),
  ).finish()
}

function session(transA: boolean, transB: boolean): Promise<Ort.InferenceSession> {
  const key = `${transA}${transB}`
  let s = sessions.get(key)
  if (!s) {
    s = (ortModule ??= import('onnxruntime-node')).then((ort) =>
      ort.InferenceSession.create(gemmModel(transA, transB), {
        intraOpNumThreads: runtimeThreads(),
        // As the forward executor: idle op threads block instead of spinning, so JS work between products keeps its core.
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      }),
    )
    sessions.set(key, s)
    s.catch(() => sessions.delete(key))
  }
  return s
}

/** A row-major float32 matrix. */
export interface MatrixF32 {
  data: Float32Array
  rows: number
  cols: number
}

/** op(A) · op(B), op = transpose where asked; shapes checked. */
export async function gemm(a: MatrixF32, b: MatrixF32, options: { transA?: boolean; transB?: boolean } = {}): Promise<MatrixF32> {
  const { transA = false, transB = false } = options
  const [m, ka] = transA ? [a.cols, a.rows] : [a.rows, a.cols]
  const [kb, n] = transB ? [b.cols, b.rows] : [b.rows, b.cols]
  if (ka !== kb) throw new Error(`gemm: inner dimensions ${ka} and ${kb} differ`)
  if (a.data.length !== a.rows * a.cols || b.data.length !== b.rows * b.cols) throw new Error('gemm: data length does not match the shape')
  if (m === 0 || n === 0) return { data: new Float32Array(m * n), rows: m, cols: n }
  if (ka === 0) return { data: new Float32Array(m * n), rows: m, cols: n }
  const ort = await (ortModule ??= import('onnxruntime-node'))
  const s = await session(transA, transB)
  const out = await s.run({ a: new ort.Tensor('float32', a.data, [a.rows, a.cols]), b: new ort.Tensor('float32', b.data, [b.rows, b.cols]) })
  return { data: out.y!.data as Float32Array, rows: m, cols: n }
}
