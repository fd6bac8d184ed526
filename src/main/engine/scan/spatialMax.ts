/**
 * Per-unit spatial max and argmax of a batch of layer outputs, the reduction at the heart of a scan.
 *
 * Two ways, same results: on the backend (reshape to [n, h·w, units], max and argMax over axis 1: tfjs
 * transposes every map for that) or in one JS pass over the downloaded NHWC data (no transpose). The JS pass
 * is 3–4× faster on the CPU backends (wasm, cpu), where the map is in host memory anyway; on GPU backends
 * (webgl, tensorflow-gpu) and the native tensorflow backend, downloading whole maps costs more than reducing them there. Ties go to the first
 * position, as tf.argMax does; the max is the value at the argmax.
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

/** Spatial max / argmax of each tensor ([n, h, w, units] or [n, units]), in `place`; the tensors are not disposed. */
export async function spatialMaxima(outputs: readonly tf.Tensor[], place: ReductionPlace = reductionPlace()): Promise<SpatialMax[]> {
  const shapes = outputs.map((t) => {
    const n = t.shape[0]!
    const units = t.shape[t.rank - 1]!
    return { n, units, positions: t.size / (n * units) }
  })
  if (place === 'js') {
    const data = await Promise.all(outputs.map((t) => t.data()))
    return data.map((d, i) => spatialMaxOf(d, shapes[i]!.n, shapes[i]!.positions, shapes[i]!.units))
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
