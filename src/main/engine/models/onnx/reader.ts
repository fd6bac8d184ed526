/**
 * Reads an ONNX model (a folder with one `*.onnx`, or the file itself) into a format-neutral description:
 * opsets, graph inputs / outputs with symbolic dims, nodes with decoded attributes, and an index of the
 * initializers that leaves the weights in their file.
 *
 * The file is walked at the protobuf wire level (ModelProto → graph → initializer): every part except the
 * tensors' data is read and decoded with protobufjs (types from the official onnx.proto, see proto.ts); the
 * data fields (raw_data and the packed float / int / double arrays) are only located (offset, length), so a
 * 100 MB model opens by reading its few KB of graph. `tensorData` reads one initializer's values when asked.
 * External data (`data_location = EXTERNAL`) is located the same way in its file beside the model.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import protobuf from 'protobufjs'
import { ConvscopeError } from '../../../../shared/api/errors'
import { FileWindow } from './fileWindow'
import {
  type AttributeProto,
  type GraphProto,
  GraphProtoType,
  type Int64,
  int64,
  type ModelProto,
  ModelProtoType,
  type NodeProto,
  type TensorProto,
  TensorProtoType,
  type ValueInfoProto,
} from './proto'

/** Opsets of the default ONNX domain that convscope reads. */
export const MIN_OPSET = 9
export const MAX_OPSET = 21

/** TensorProto.DataType values and their names. */
export const DATA_TYPES: Record<number, string> = {
  0: 'undefined', 1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64',
  8: 'string', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 14: 'complex64',
  15: 'complex128', 16: 'bfloat16',
}
const ITEM_SIZE: Record<number, number> = {
  1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2,
}

/** A dimension: a size, the name of a dynamic dimension (`batch`, `height`), or null where unknown. */
export type OnnxDim = number | string | null

export interface OnnxValueInfo {
  name: string
  /** TensorProto.DataType number and name ('float32'); 0 / 'undefined' when the graph does not say. */
  elemType: number
  dtype: string
  /** null when the graph gives no shape. */
  dims: OnnxDim[] | null
}

/** A tensor held in a node attribute (e.g. Constant's `value`): small, decoded at once. */
export interface OnnxAttributeTensor {
  kind: 'tensor'
  dtype: string
  dims: number[]
  /** float types as Float32Array, integer and bool types as numbers. */
  values: Float32Array | number[]
}

export type OnnxAttributeValue =
  | number
  | string
  | number[]
  | string[]
  | OnnxAttributeTensor
  | OnnxAttributeTensor[]
  | { kind: 'graph'; name: string; nodes: number }
  | { kind: 'unsupported'; type: number }

export interface OnnxNode {
  name: string
  opType: string
  /** '' for the default ONNX domain. */
  domain: string
  inputs: string[]
  outputs: string[]
  attributes: Record<string, OnnxAttributeValue>
}

/** Where a tensor's data field is stored: raw little-endian bytes or one of TensorProto's packed arrays. */
export type OnnxDataEncoding = 'raw' | 'float_data' | 'int32_data' | 'int64_data' | 'double_data' | 'uint64_data'

/** An initializer's location: its data stay in `file` until `tensorData` reads them. */
export interface OnnxInitializer {
  name: string
  dataType: number
  dtype: string
  dims: number[]
  /** Element count (the product of dims). */
  size: number
  /** The file holding the data: the model itself or an external data file. */
  file: string
  external: boolean
  /** Byte offset and length of the data in `file` (0 / 0 for an empty tensor). */
  offset: number
  length: number
  encoding: OnnxDataEncoding
}

export interface OnnxModel {
  /** The .onnx file read. */
  file: string
  fileSize: number
  /** Bytes read from disk to build this description (the weights are not among them). */
  indexBytesRead: number
  irVersion: number
  producer: string
  /** domain ('' for the default ONNX domain) → opset version. */
  opsets: Record<string, number>
  /** The opset of the default domain, within MIN_OPSET..MAX_OPSET. */
  opset: number
  graphName: string
  /** The graph's real inputs (initializers listed as inputs, as older exporters do, are left out). */
  inputs: OnnxValueInfo[]
  outputs: OnnxValueInfo[]
  /** Shapes the exporter inferred for inner values, by name. */
  valueInfo: Record<string, OnnxValueInfo>
  nodes: OnnxNode[]
  initializers: Map<string, OnnxInitializer>
}

function badModel(file: string, message: string): ConvscopeError {
  return new ConvscopeError('BAD_MODEL', `${file}: ${message}`)
}

/** The .onnx file of `pathOrDir`: the file itself or the one *.onnx in the folder. */
export function findOnnxFile(pathOrDir: string): string {
  let stat: fs.Stats
  try {
    stat = fs.statSync(pathOrDir)
  } catch {
    throw new ConvscopeError('NOT_FOUND', `No such model file or folder: ${pathOrDir}`)
  }
  if (!stat.isDirectory()) return pathOrDir
  const found = fs.readdirSync(pathOrDir).filter((f) => f.toLowerCase().endsWith('.onnx')).sort()
  if (found.length === 0) throw badModel(pathOrDir, 'the folder holds no .onnx file')
  if (found.length > 1) {
    throw badModel(pathOrDir, `the folder holds ${found.length} .onnx files (${found.join(', ')}); open one of them`)
  }
  return path.join(pathOrDir, found[0])
}

// ---------------------------------------------------------------------------------------------------------------
// Wire-level walk

class Truncated extends Error {}
class NotProtobuf extends Error {}

interface Field {
  field: number
  wireType: number
  /** Position of the tag, of the payload (after a length prefix), and the end of the field. */
  start: number
  payload: number
  end: number
}

class Walker {
  constructor(readonly win: FileWindow) {}

  private varint(pos: number): [number, number] {
    let result = 0
    let mult = 1
    for (let i = 0; i < 10; i++) {
      const b = this.win.byte(pos + i)
      if (b < 0) throw new Truncated()
      result += (b & 0x7f) * mult
      mult *= 128
      if ((b & 0x80) === 0) return [result, pos + i + 1]
    }
    throw new NotProtobuf('a varint longer than 10 bytes')
  }

  /** The field at `pos`, inside a message that ends at `limit`. */
  field(pos: number, limit: number): Field {
    const [tag, afterTag] = this.varint(pos)
    const field = Math.floor(tag / 8)
    const wireType = tag & 7
    if (field === 0) throw new NotProtobuf('field number 0')
    let payload = afterTag
    let end: number
    switch (wireType) {
      case 0:
        end = this.varint(afterTag)[1]
        break
      case 1:
        end = afterTag + 8
        break
      case 2: {
        const [len, afterLen] = this.varint(afterTag)
        payload = afterLen
        end = afterLen + len
        break
      }
      case 5:
        end = afterTag + 4
        break
      default:
        throw new NotProtobuf(`wire type ${wireType}`)
    }
    if (end > limit) throw end > this.win.size ? new Truncated() : new NotProtobuf('a field past its message')
    return { field, wireType, start: pos, payload, end }
  }

  /** Every field of the message in [start, end). */
  *fields(start: number, end: number): Generator<Field> {
    let pos = start
    while (pos < end) {
      const f = this.field(pos, end)
      yield f
      pos = f.end
    }
  }

  raw(f: Field): Buffer {
    return this.win.bytes(f.start, f.end - f.start)
  }
}

/** ModelProto fields and their wire types: a file whose first field is none of these is not ONNX. */
const MODEL_FIELDS: Record<number, number> = { 1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2 }
const DATA_FIELDS: Record<number, OnnxDataEncoding> = {
  9: 'raw', 4: 'float_data', 5: 'int32_data', 7: 'int64_data', 10: 'double_data', 11: 'uint64_data',
}

interface LocatedTensor {
  proto: TensorProto
  /** The data field left in the file, when there is one. */
  data: { encoding: OnnxDataEncoding; offset: number; length: number } | null
}

function walkTensor(w: Walker, start: number, end: number): LocatedTensor {
  const rest: Buffer[] = []
  let data: LocatedTensor['data'] = null
  for (const f of w.fields(start, end)) {
    const encoding = DATA_FIELDS[f.field]
    if (encoding && f.wireType === 2) data = { encoding, offset: f.payload, length: f.end - f.payload }
    else rest.push(w.raw(f))
  }
  return { proto: TensorProtoType.decode(Buffer.concat(rest)) as unknown as TensorProto, data }
}

interface WalkedModel {
  model: ModelProto
  graph: GraphProto
  tensors: LocatedTensor[]
}

function walkModel(w: Walker): WalkedModel {
  const size = w.win.size
  const rest: Buffer[] = []
  const graphRest: Buffer[] = []
  const tensors: LocatedTensor[] = []
  let graphSeen = false
  let known = 0
  let pos = 0
  try {
    while (pos < size) {
      const f = w.field(pos, size)
      if (known === 0 && MODEL_FIELDS[f.field] !== f.wireType) throw new NotProtobuf('not a ModelProto field')
      known++
      if (f.field === 7 && f.wireType === 2) {
        graphSeen = true
        for (const g of w.fields(f.payload, f.end)) {
          if (g.field === 5 && g.wireType === 2) tensors.push(walkTensor(w, g.payload, g.end))
          else graphRest.push(w.raw(g))
        }
      } else {
        rest.push(w.raw(f))
      }
      pos = f.end
    }
  } catch (e) {
    if (e instanceof Truncated && known > 0) {
      throw badModel(w.win.file, `the file is truncated (${size} bytes; it ends inside a protobuf field)`)
    }
    if (e instanceof Truncated || e instanceof NotProtobuf) {
      throw badModel(w.win.file, 'not an ONNX file (its bytes are not an ONNX ModelProto)')
    }
    throw e
  }
  if (!graphSeen) throw badModel(w.win.file, 'not an ONNX file (no graph in it)')
  let model: ModelProto
  let graph: GraphProto
  try {
    model = ModelProtoType.decode(Buffer.concat(rest)) as unknown as ModelProto
    graph = GraphProtoType.decode(Buffer.concat(graphRest)) as unknown as GraphProto
  } catch (e) {
    throw badModel(w.win.file, `not an ONNX file (${(e as Error).message})`)
  }
  return { model, graph, tensors }
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding

const utf8 = new TextDecoder()

function valueInfo(v: ValueInfoProto): OnnxValueInfo {
  const tt = v.type?.tensor_type
  const elemType = tt?.elem_type ?? 0
  const dims = tt?.shape
    ? tt.shape.dim.map((d): OnnxDim => {
        if (d.dim_param) return d.dim_param
        if (d.dim_value != null) return int64(d.dim_value)
        return null
      })
    : null
  return { name: v.name, elemType, dtype: DATA_TYPES[elemType] ?? `type ${elemType}`, dims }
}

function inlineTensor(file: string, t: TensorProto): OnnxAttributeTensor {
  const dims = (t.dims ?? []).map(int64)
  const dtype = DATA_TYPES[t.data_type] ?? `type ${t.data_type}`
  const raw = t.raw_data
  let values: Float32Array | number[]
  if (raw && raw.length > 0) {
    values = decodeData(file, t.name, t.data_type, 'raw', raw)
  } else if (t.data_type === 1 || t.data_type === 11) {
    values = Float32Array.from(t.data_type === 1 ? t.float_data : t.double_data)
  } else if (t.data_type === 7) {
    values = t.int64_data.map(int64)
  } else if (t.data_type === 13 || t.data_type === 12) {
    values = t.uint64_data.map(int64)
  } else if (t.data_type === 10 || t.data_type === 16) {
    values = Float32Array.from(t.int32_data, (b) => (t.data_type === 10 ? halfToFloat(b) : bfloat16ToFloat(b)))
  } else {
    values = [...t.int32_data]
  }
  return { kind: 'tensor', dtype, dims, values }
}

function attributeValue(file: string, a: AttributeProto): OnnxAttributeValue {
  switch (a.type) {
    case 1:
      return a.f
    case 2:
      return int64(a.i)
    case 3:
      return utf8.decode(a.s)
    case 4:
      return inlineTensor(file, a.t!)
    case 5:
      return { kind: 'graph', name: a.g?.name ?? '', nodes: a.g?.node.length ?? 0 }
    case 6:
      return [...a.floats]
    case 7:
      return a.ints.map(int64)
    case 8:
      return a.strings.map((s) => utf8.decode(s))
    case 9:
      return a.tensors.map((t) => inlineTensor(file, t))
    default:
      return { kind: 'unsupported', type: a.type }
  }
}

function node(file: string, n: NodeProto): OnnxNode {
  const attributes: Record<string, OnnxAttributeValue> = {}
  for (const a of n.attribute) attributes[a.name] = attributeValue(file, a)
  return {
    name: n.name ?? '',
    opType: n.op_type,
    domain: n.domain === 'ai.onnx' ? '' : (n.domain ?? ''),
    inputs: [...n.input],
    outputs: [...n.output],
    attributes,
  }
}

function initializer(t: LocatedTensor, modelFile: string): OnnxInitializer {
  const p = t.proto
  const name = p.name ?? ''
  const dims = (p.dims ?? []).map(int64)
  const size = dims.reduce((a, b) => a * b, 1)
  const dtype = DATA_TYPES[p.data_type] ?? `type ${p.data_type}`
  const base = { name, dataType: p.data_type, dtype, dims, size }
  if (p.data_location === 1) {
    const keys: Record<string, string> = {}
    for (const e of p.external_data ?? []) keys[e.key] = e.value
    const location = keys.location
    if (!location) throw badModel(modelFile, `initializer '${name}' is external but names no location`)
    const dir = path.dirname(modelFile)
    const dataFile = path.resolve(dir, location)
    if (path.isAbsolute(location) || path.relative(dir, dataFile).startsWith('..')) {
      throw badModel(modelFile, `initializer '${name}': external data '${location}' is outside the model's folder`)
    }
    let dataSize: number
    try {
      dataSize = fs.statSync(dataFile).size
    } catch {
      throw badModel(modelFile, `missing external data file '${location}' (initializer '${name}'; looked in ${dir})`)
    }
    const offset = keys.offset ? Number(keys.offset) : 0
    const length = keys.length ? Number(keys.length) : dataSize - offset
    if (offset + length > dataSize) {
      throw badModel(
        modelFile,
        `external data file '${location}' is truncated: initializer '${name}' needs bytes ${offset}..${offset + length}, the file has ${dataSize}`,
      )
    }
    return { ...base, file: dataFile, external: true, offset, length, encoding: 'raw' }
  }
  const data = t.data ?? { encoding: 'raw' as const, offset: 0, length: 0 }
  return { ...base, file: modelFile, external: false, ...data }
}

function checkSize(init: OnnxInitializer, modelFile: string): void {
  if (init.encoding !== 'raw' || init.dataType === 8) return
  const item = ITEM_SIZE[init.dataType]
  if (item !== undefined && init.length !== init.size * item) {
    throw badModel(
      modelFile,
      `initializer '${init.name}' holds ${init.length} bytes; its dims [${init.dims.join(', ')}] of ${init.dtype} need ${init.size * item}`,
    )
  }
}

/** Reads the description of an ONNX model: a folder with one *.onnx, or the .onnx file itself. */
export function readOnnxModel(pathOrDir: string): OnnxModel {
  const file = path.resolve(findOnnxFile(pathOrDir))
  const win = new FileWindow(file)
  try {
    const { model, graph, tensors } = walkModel(new Walker(win))
    const opsets: Record<string, number> = {}
    for (const o of model.opset_import ?? []) opsets[o.domain === 'ai.onnx' ? '' : (o.domain ?? '')] = int64(o.version)
    const opset = opsets['']
    if (opset === undefined) throw badModel(file, 'the model imports no opset of the default ONNX domain')
    if (opset < MIN_OPSET || opset > MAX_OPSET) {
      throw badModel(
        file,
        `unsupported opset ${opset} (${opset < MIN_OPSET ? 'older than' : 'newer than'} the supported ${MIN_OPSET}–${MAX_OPSET}); export again with e.g. torch.onnx.export(..., opset_version=17)`,
      )
    }
    const initializers = new Map<string, OnnxInitializer>()
    for (const t of tensors) {
      const init = initializer(t, file)
      checkSize(init, file)
      initializers.set(init.name, init)
    }
    const inner: Record<string, OnnxValueInfo> = {}
    for (const v of graph.value_info ?? []) inner[v.name] = valueInfo(v)
    return {
      file,
      fileSize: win.size,
      indexBytesRead: win.bytesRead,
      irVersion: int64(model.ir_version),
      producer: [model.producer_name, model.producer_version].filter(Boolean).join(' '),
      opsets,
      opset,
      graphName: graph.name ?? '',
      inputs: graph.input.filter((v) => !initializers.has(v.name)).map(valueInfo),
      outputs: graph.output.map(valueInfo),
      valueInfo: inner,
      nodes: graph.node.map((n) => node(file, n)),
      initializers,
    }
  } finally {
    win.close()
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Tensor data

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1
  const e = (h >> 10) & 0x1f
  const f = h & 0x3ff
  if (e === 0) return s * f * 2 ** -24
  if (e === 31) return f ? NaN : s * Infinity
  return s * (1 + f / 1024) * 2 ** (e - 15)
}

const bfloatView = new DataView(new ArrayBuffer(4))
function bfloat16ToFloat(b: number): number {
  bfloatView.setUint32(0, (b & 0xffff) << 16)
  return bfloatView.getFloat32(0)
}

function packedVarints(bytes: Uint8Array, read: (r: protobuf.Reader) => Int64): number[] {
  const r = protobuf.Reader.create(bytes)
  const out: number[] = []
  while (r.pos < r.len) out.push(int64(read(r)))
  return out
}

/** The values of a data field: float types as Float32Array, the others as numbers. */
function decodeData(
  file: string,
  name: string,
  dataType: number,
  encoding: OnnxDataEncoding,
  bytes: Uint8Array,
): Float32Array | number[] {
  // An aligned buffer of exactly these bytes: readBytes' own buffer as is (a 400 MB VGG weight is not copied again).
  const copy = (): ArrayBuffer => {
    if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes.buffer
    const b = new Uint8Array(bytes.length)
    b.set(bytes)
    return b.buffer
  }
  switch (encoding) {
    case 'float_data':
      return new Float32Array(copy())
    case 'double_data':
      return Float32Array.from(new Float64Array(copy()))
    case 'int64_data':
      return packedVarints(bytes, (r) => r.int64() as unknown as Int64)
    case 'uint64_data':
      return packedVarints(bytes, (r) => r.uint64() as unknown as Int64)
    case 'int32_data': {
      const v = packedVarints(bytes, (r) => r.int32())
      if (dataType === 10) return Float32Array.from(v, halfToFloat)
      if (dataType === 16) return Float32Array.from(v, bfloat16ToFloat)
      return v
    }
    case 'raw':
      break
  }
  const buf = copy()
  switch (dataType) {
    case 1:
      return new Float32Array(buf)
    case 11:
      return Float32Array.from(new Float64Array(buf))
    case 10:
      return Float32Array.from(new Uint16Array(buf), halfToFloat)
    case 16:
      return Float32Array.from(new Uint16Array(buf), bfloat16ToFloat)
    case 2:
    case 9:
      return Array.from(new Uint8Array(buf))
    case 3:
      return Array.from(new Int8Array(buf))
    case 4:
      return Array.from(new Uint16Array(buf))
    case 5:
      return Array.from(new Int16Array(buf))
    case 6:
      return Array.from(new Int32Array(buf))
    case 12:
      return Array.from(new Uint32Array(buf))
    case 7:
      return Array.from(new BigInt64Array(buf), Number)
    case 13:
      return Array.from(new BigUint64Array(buf), Number)
    default:
      throw badModel(file, `tensor '${name}' has data type ${DATA_TYPES[dataType] ?? dataType}, which convscope cannot read`)
  }
}

function readBytes(init: OnnxInitializer): Uint8Array {
  const out = new Uint8Array(init.length)
  if (init.length === 0) return out
  let fd: number
  try {
    fd = fs.openSync(init.file, 'r')
  } catch {
    throw badModel(init.file, `cannot open the data of initializer '${init.name}'`)
  }
  try {
    const n = fs.readSync(fd, out, 0, init.length, init.offset)
    if (n !== init.length) {
      throw badModel(init.file, `truncated: initializer '${init.name}' needs ${init.length} bytes at ${init.offset}`)
    }
  } finally {
    fs.closeSync(fd)
  }
  return out
}

function values(init: OnnxInitializer): Float32Array | number[] {
  const v = decodeData(init.file, init.name, init.dataType, init.encoding, readBytes(init))
  if (v.length !== init.size) {
    throw badModel(
      init.file,
      `initializer '${init.name}' holds ${v.length} values; its dims [${init.dims.join(', ')}] need ${init.size}`,
    )
  }
  return v
}

/**
 * One initializer's values, read from its file now, as a Float32Array (float32, float16, bfloat16, float64 and
 * the integer types, converted).
 */
export function tensorData(init: OnnxInitializer): Float32Array {
  const v = values(init)
  return v instanceof Float32Array ? v : Float32Array.from(v)
}

/** An integer initializer's values as exact numbers (int64 shapes, axes, indices). */
export function tensorInts(init: OnnxInitializer): number[] {
  if (init.dataType === 1 || init.dataType === 10 || init.dataType === 11 || init.dataType === 16) {
    throw badModel(init.file, `initializer '${init.name}' is ${init.dtype}, not an integer tensor`)
  }
  const v = values(init)
  return Array.from(v)
}
