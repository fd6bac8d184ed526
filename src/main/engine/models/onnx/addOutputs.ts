/**
 * Inner tensors of an ONNX model as extra graph outputs, and per-channel spatial maxima of inner maps as graph
 * nodes, without decoding the model: onnxruntime returns graph outputs only, and re-encoding a model of hundreds
 * of MB to add a few outputs would cost its size twice.
 *
 * Protobuf merges a repeated embedded message field that occurs twice, so appending an encoded ModelProto that
 * holds only `graph { node, output }` appends to the graph's nodes and outputs.
 */
import protobuf from 'protobufjs'
import { ConvscopeError } from '../../../../shared/api'
import { ModelProtoType } from './proto'

const FLOAT = 1
const INT64 = 7
const ATTR_INT = 2
const ATTR_TENSOR = 4
const ATTR_INTS = 7

const floatOutput = (name: string) => ({ name, type: { tensor_type: { elem_type: FLOAT } } })

/** `model` with an encoded ModelProto fragment `{ graph }` appended (see the file comment). */
function appendGraph(model: Uint8Array, graph: object): Uint8Array {
  const extra = ModelProtoType.encode(ModelProtoType.fromObject({ graph })).finish()
  const out = new Uint8Array(model.length + extra.length)
  out.set(model)
  out.set(extra, model.length)
  return out
}

/** The model bytes with `tensors` added as float graph outputs, so onnxruntime returns inner layers. */
export function withGraphOutputs(model: Uint8Array, tensors: readonly string[]): Uint8Array {
  return appendGraph(model, { output: tensors.map(floatOutput) })
}

/**
 * The opset of the default ONNX domain, read from the top-level fields only: the graph (field 7, nearly all of
 * the bytes) is skipped by its length, and only the small opset_import entries (field 8) are decoded.
 */
export function defaultOpset(model: Uint8Array): number {
  const reader = protobuf.Reader.create(model)
  let opset: number | null = null
  while (reader.pos < reader.len) {
    const tag = reader.uint32()
    if (tag >>> 3 === 8 && (tag & 7) === 2) {
      const entry = reader.bytes()
      const sub = protobuf.Reader.create(entry)
      let domain = ''
      let version = 0
      while (sub.pos < sub.len) {
        const t = sub.uint32()
        if (t >>> 3 === 1 && (t & 7) === 2) domain = sub.string()
        else if (t >>> 3 === 2 && (t & 7) === 0) version = Number(sub.int64())
        else sub.skipType(t & 7)
      }
      if (domain === '' || domain === 'ai.onnx') opset = version
    } else {
      reader.skipType(tag & 7)
    }
  }
  if (opset === null) throw new ConvscopeError('BAD_MODEL', 'the model imports no opset of the default ONNX domain')
  return opset
}

/** A map whose per-channel max over space is wanted: its tensor, layout and grid. */
export interface MapMaxima {
  tensor: string
  layout: 'nchw' | 'nhwc'
  units: number
  /** height × width of the map. */
  positions: number
}

/** The graph outputs that hold a map's maxima: float [n, units] and int64 [n, units] (flat y·w + x). */
export interface MaximaOutputs {
  max: string
  arg: string
}

/** A name prefix that occurs nowhere in the bytes, so the added tensors and nodes cannot clash with the model's. */
function freshPrefix(model: Uint8Array): string {
  const bytes = Buffer.from(model.buffer, model.byteOffset, model.byteLength)
  for (let i = 0; ; i++) {
    const prefix = `convscope_spatial_max${i || ''}`
    if (bytes.indexOf(prefix) < 0) return prefix
  }
}

const ints = (name: string, values: number[]) => ({ name, type: ATTR_INTS, ints: values })
const int = (name: string, value: number) => ({ name, type: ATTR_INT, i: value })

/** A Constant node holding an int64 vector (Constant and its `value` attribute exist in every opset). */
function int64Constant(name: string, values: number[]): object {
  const raw = new Uint8Array(BigInt64Array.from(values, BigInt).buffer)
  return { name, op_type: 'Constant', output: [name], attribute: [{ name: 'value', type: ATTR_TENSOR, t: { name, dims: [values.length], data_type: INT64, raw_data: raw } }] }
}

/**
 * The model bytes with `outputs` added as float graph outputs and, for each map of `maxima`, nodes that reduce
 * it to per-channel max and first argmax over space, as graph outputs: Reshape to [n, units, h·w] (NCHW) or
 * [n, h·w, units] (NHWC), then ReduceMax and ArgMax over the positions (keepdims 0; ArgMax's default
 * select_last_index 0 takes the first occurrence, as spatialMaxOf does). Only n × units values per map come back.
 * ReduceMax takes its axes as an attribute before opset 18 and as an input from 18; the opset is read from the bytes.
 */
export function withSpatialMaxima(model: Uint8Array, maxima: readonly MapMaxima[], outputs: readonly string[] = []): { bytes: Uint8Array; maxima: MaximaOutputs[] } {
  if (maxima.length === 0) return { bytes: withGraphOutputs(model, outputs), maxima: [] }
  const opset = defaultOpset(model)
  if (opset < 5) throw new ConvscopeError('BAD_MODEL', `opset ${opset}: per-channel maxima need Reshape with a shape input (opset 5 or later)`)
  const prefix = freshPrefix(model)
  const node: object[] = []
  const names = maxima.map((m, i) => {
    const at = `${prefix}/${i}`
    const axis = m.layout === 'nchw' ? 2 : 1
    // 0 keeps the (possibly dynamic) batch size.
    node.push(int64Constant(`${at}/shape`, m.layout === 'nchw' ? [0, m.units, m.positions] : [0, m.positions, m.units]))
    node.push({ name: `${at}/flat`, op_type: 'Reshape', input: [m.tensor, `${at}/shape`], output: [`${at}/flat`] })
    const keep = int('keepdims', 0)
    if (opset >= 18) {
      node.push(int64Constant(`${at}/axes`, [axis]))
      node.push({ name: `${at}/max`, op_type: 'ReduceMax', input: [`${at}/flat`, `${at}/axes`], output: [`${at}/max`], attribute: [keep] })
    } else {
      node.push({ name: `${at}/max`, op_type: 'ReduceMax', input: [`${at}/flat`], output: [`${at}/max`], attribute: [ints('axes', [axis]), keep] })
    }
    node.push({ name: `${at}/arg`, op_type: 'ArgMax', input: [`${at}/flat`], output: [`${at}/arg`], attribute: [int('axis', axis), keep] })
    return { max: `${at}/max`, arg: `${at}/arg` }
  })
  const output = [
    ...outputs.map(floatOutput),
    ...names.flatMap((n) => [floatOutput(n.max), { name: n.arg, type: { tensor_type: { elem_type: INT64 } } }]),
  ]
  return { bytes: appendGraph(model, { node, output }), maxima: names }
}
