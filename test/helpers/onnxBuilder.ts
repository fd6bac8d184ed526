/**
 * Builds ONNX ModelProto bytes in JS (for tests): a model of one or a few nodes with given inputs, outputs,
 * initializers, attributes and opset, encoded with the same committed protobuf descriptor the reader uses.
 * The bytes open in onnxruntime-node (`InferenceSession.create(bytes)`) and in readOnnxModel (write them to a file).
 *
 *   const bytes = buildOnnxModel({
 *     opset: 13,
 *     inputs: [{ name: 'x', dims: ['batch', 3, 8, 8] }],
 *     outputs: [{ name: 'y' }],
 *     initializers: [{ name: 'w', dims: [4, 3, 3, 3], values: weights }],
 *     nodes: [{ opType: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attributes: { pads: [1, 1, 1, 1], alpha: float(1) } }],
 *   })
 *
 * Attribute values: an integer number (array) is INT(S), another number (array) FLOAT(S), a string STRING;
 * `float(1)` / `floats([1, 2])` force floats, `tensor({...})` is a TENSOR attribute.
 */
import fs from 'node:fs'
import { ModelProtoType } from '../../src/main/engine/models/onnx/proto'

/** Element types the builder writes (TensorProto.DataType). */
export type OnnxDtype = 'float32' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool'

const DTYPE_NUMBER: Record<OnnxDtype, number> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float64: 11 }

export interface TensorSpec {
  name?: string
  /** float32 unless said. */
  dtype?: OnnxDtype
  dims: readonly number[]
  values: ArrayLike<number> | readonly boolean[]
}

export interface ValueSpec {
  name: string
  /** float32 unless said. */
  dtype?: OnnxDtype
  /** Numbers, symbolic names (dynamic dims), null (unknown dim); omitted: no shape in the model. */
  dims?: readonly (number | string | null)[]
}

export type AttributeSpec =
  | number
  | string
  | readonly number[]
  | readonly string[]
  | { kind: 'float'; value: number }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'tensor'; value: TensorSpec }

export interface NodeSpec {
  opType: string
  inputs: readonly string[]
  outputs: readonly string[]
  /** Defaults to `<opType>_<index>`. */
  name?: string
  domain?: string
  attributes?: Readonly<Record<string, AttributeSpec | undefined>>
}

export interface ModelSpec {
  nodes: readonly NodeSpec[]
  inputs: readonly ValueSpec[]
  outputs: readonly ValueSpec[]
  initializers?: readonly TensorSpec[]
  /** Shapes of inner values (ValueInfoProto), as exporters write them. */
  valueInfo?: readonly ValueSpec[]
  /** Opset of the default domain; 13 unless said. */
  opset?: number
  /** Further domains → opset (e.g. { 'com.microsoft': 1 }). */
  opsets?: Readonly<Record<string, number>>
  /** 8 unless said (what onnx 1.12 writes; onnxruntime 1.30 reads IR 3–10). */
  irVersion?: number
  producer?: string
  graphName?: string
}

export const float = (value: number): AttributeSpec => ({ kind: 'float', value })
export const floats = (value: readonly number[]): AttributeSpec => ({ kind: 'floats', value })
export const tensor = (value: TensorSpec): AttributeSpec => ({ kind: 'tensor', value })

/** A number as int64; ±2^63 (what a double makes of INT64_MAX / INT64_MIN, e.g. Slice's "to the end") saturate. */
function int64(v: number): bigint {
  if (v >= 2 ** 63) return 2n ** 63n - 1n
  if (v <= -(2 ** 63)) return -(2n ** 63n)
  return BigInt(Math.trunc(v))
}

/** Little-endian bytes of `values` as `dtype` (TensorProto.raw_data). */
function rawBytes(dtype: OnnxDtype, values: ArrayLike<number> | readonly boolean[]): Uint8Array {
  const numbers = Array.from(values as ArrayLike<number | boolean>, Number)
  const typed =
    dtype === 'float32' ? Float32Array.from(numbers)
    : dtype === 'float64' ? Float64Array.from(numbers)
    : dtype === 'int64' ? BigInt64Array.from(numbers, int64)
    : dtype === 'int32' ? Int32Array.from(numbers)
    : dtype === 'int8' ? Int8Array.from(numbers)
    : Uint8Array.from(numbers) // uint8, bool
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength)
}

function tensorProto(t: TensorSpec, name = t.name ?? ''): object {
  const dtype = t.dtype ?? 'float32'
  const size = t.dims.reduce((a, b) => a * b, 1)
  if (t.values.length !== size) throw new Error(`tensor "${name}": ${t.values.length} values for dims [${t.dims.join(', ')}]`)
  return { name, dims: [...t.dims], data_type: DTYPE_NUMBER[dtype], raw_data: rawBytes(dtype, t.values) }
}

function valueInfoProto(v: ValueSpec): object {
  const shape = v.dims == null ? undefined : { dim: v.dims.map((d) => (typeof d === 'number' ? { dim_value: d } : typeof d === 'string' ? { dim_param: d } : {})) }
  return { name: v.name, type: { tensor_type: { elem_type: DTYPE_NUMBER[v.dtype ?? 'float32'], shape } } }
}

/** AttributeProto for one attribute value (AttributeType numbers: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7, STRINGS 8). */
function attributeProto(name: string, v: AttributeSpec): object {
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: 2, i: v } : { name, type: 1, f: v }
  if (typeof v === 'string') return { name, type: 3, s: new TextEncoder().encode(v) }
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return { name, type: 8, strings: (v as string[]).map((s) => new TextEncoder().encode(s)) }
    const nums = v as number[]
    return nums.every(Number.isInteger) ? { name, type: 7, ints: nums } : { name, type: 6, floats: nums }
  }
  const tagged = v as Exclude<AttributeSpec, number | string | readonly unknown[]>
  switch (tagged.kind) {
    case 'float':
      return { name, type: 1, f: tagged.value }
    case 'floats':
      return { name, type: 6, floats: [...tagged.value] }
    case 'tensor':
      return { name, type: 4, t: tensorProto(tagged.value) }
  }
}

/** The ModelProto bytes of `spec`. */
export function buildOnnxModel(spec: ModelSpec): Uint8Array {
  const opsets = { '': spec.opset ?? 13, ...spec.opsets }
  const model = {
    ir_version: spec.irVersion ?? 8,
    producer_name: spec.producer ?? 'convscope-test',
    opset_import: Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
    graph: {
      name: spec.graphName ?? 'test-graph',
      node: spec.nodes.map((n, i) => ({
        name: n.name ?? `${n.opType}_${i}`,
        op_type: n.opType,
        domain: n.domain ?? '',
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attributes ?? {})
          .filter((e): e is [string, AttributeSpec] => e[1] !== undefined)
          .map(([name, v]) => attributeProto(name, v)),
      })),
      initializer: (spec.initializers ?? []).map((t) => tensorProto(t)),
      input: spec.inputs.map(valueInfoProto),
      output: spec.outputs.map(valueInfoProto),
      value_info: (spec.valueInfo ?? []).map(valueInfoProto),
    },
  }
  const message = ModelProtoType.fromObject(model)
  const err = ModelProtoType.verify(message)
  if (err) throw new Error(`buildOnnxModel: ${err}`)
  return ModelProtoType.encode(message).finish()
}

/** Writes `spec` as an .onnx file (for readOnnxModel / openModel tests) and returns the path. */
export function writeOnnxModel(file: string, spec: ModelSpec): string {
  fs.writeFileSync(file, buildOnnxModel(spec))
  return file
}
