/**
 * Per-unit spatial max and argmax of a batch of layer outputs, the reduction at the heart of a scan.
 *
 * Two ways, same results: on the backend (reshape to [n, h·w, units], max and argMax over axis 1: tfjs
 * transposes every map for that) or in one JS pass over the NHWC data (no transpose; on wasm read in place
 * from the wasm heap, elsewhere downloaded). The JS pass is faster on the CPU backends (wasm, cpu), where
 * the map is in host memory anyway; on GPU backends (webgl, tensorflow-gpu) downloading whole maps costs
 * more than reducing them there, and the native tensorflow backend reduces without help. Ties go to the
 * first position, as tf.argMax does; the max is the value at the argmax. Scans on onnxruntime reduce inside its
 * graph instead (ReduceMax + ArgMax, executors/onnxRuntime.ts runOnnxRuntimeMaxima), with the same tie rule.
 */
import * as tf from '@tensorflow/tfjs'

export interface SpatialMax {
  /** [n, units]: the max over space of each unit. */
  max: Float32Array
  /** [n, units]: flat position y·width + x of that max (the first one on ties). */
  arg: Int32Array
}

export type ReductionPlace = 'js' | 'backend'

/**
 * Backends whose tensors live in host memory and whose reduction transposes in JS or wasm: reducing the
 * downloaded map in JS beats them. Not 'tensorflow': tfjs-node and tfjs-node-gpu both register under that
 * name, and TensorFlow's native reduction needs no help.
 */
const HOST_BACKENDS = new Set(['cpu', 'wasm'])

/** Where to reduce on the current backend. */
export function reductionPlace(backend: string = tf.getBackend()): ReductionPlace {
  return HOST_BACKENDS.has(backend) ? 'js' : 'backend'
}

/** Max and first argmax over `positions` of NHWC data [n, positions, units]. */
export function spatialMaxOf(data: Float32Array | Int32Array | Uint8Array, n: number, positions: number, units: number): SpatialMax {
  if (data.length !== n * positions * units) throw new Error(`spatialMaxOf: ${data.length} values, expected ${n} × ${positions} × ${units}`)
  const max = new Float32Array(n * units)
  const arg = new Int32Array(n * units)
  for (let b = 0; b < n; b++) {
    const out = b * units
    let base = b * positions * units
    for (let u = 0; u < units; u++) max[out + u] = data[base + u]!
    for (let p = 1; p < positions; p++) {
      base += units
      for (let u = 0; u < units; u++) {
        const v = data[base + u]!
        if (v > max[out + u]!) {
          max[out + u] = v
          arg[out + u] = p
        }
      }
    }
  }
  return { max, arg }
}

/** The fields of tfjs-backend-wasm's BackendWasm (public in its typings) that a view of a tensor needs. */
interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array }
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined }
}

/**
 * A float32 tensor's values as a view of the wasm heap, without the copy t.data() makes; null off wasm.
 * Valid until the next tf operation (the heap may grow and move): read it synchronously, at once.
 */
export function wasmHeapView(t: tf.Tensor): Float32Array | null {
  if (tf.getBackend() !== 'wasm' || t.dtype !== 'float32') return null
  const backend = tf.backend() as unknown as Partial<WasmBackendLike>
  const info = backend.dataIdMap?.get(t.dataId)
  const heap = backend.wasm?.HEAPU8
  if (!info || !heap || typeof info.memoryOffset !== 'number') return null
  return new Float32Array(heap.buffer, heap.byteOffset + info.memoryOffset, t.size)
}

/** Spatial max / argmax of each tensor ([n, h, w, units] or [n, units]), in `place`; the tensors are not disposed. */
export async function spatialMaxima(outputs: readonly tf.Tensor[], place: ReductionPlace = reductionPlace()): Promise<SpatialMax[]> {
  const shapes = outputs.map((t) => {
    const n = t.shape[0]!
    const units = t.shape[t.rank - 1]!
    return { n, units, positions: t.size / (n * units) }
  })
  if (place === 'js') {
    // One map at a time: at most one copy is alive, not all of them (MobileNet's: 300 MB a batch).
    const out: SpatialMax[] = []
    for (const [i, t] of outputs.entries()) {
      const { n, positions, units } = shapes[i]!
      const view = wasmHeapView(t)
      out.push(spatialMaxOf(view ?? (await t.data()), n, positions, units))
    }
    return out
  }
  const reduced = tf.tidy(() =>
    outputs.map((t, i) => {
      const flat = t.reshape([shapes[i]!.n, shapes[i]!.positions, shapes[i]!.units])
      return [flat.max(1), flat.argMax(1)] as const
    }),
  )
  try {
    return await Promise.all(reduced.map(async ([m, a]) => ({ max: Float32Array.from(await m.data()), arg: Int32Array.from(await a.data()) })))
  } finally {
    tf.dispose(reduced.flat())
  }
}
