/**
 * The ONNX protobuf types, from the JSON descriptor generated from the official onnx.proto
 * (`scripts/onnx/generateProto.sh`; ONNX 1.12.0, IR version 8). Field names keep the .proto's snake_case.
 * The interfaces below type the parts of the decoded messages the reader uses.
 */
import protobuf from 'protobufjs'
import descriptor from './onnx.proto.json'

const root = protobuf.Root.fromJSON(descriptor as protobuf.INamespace)

export const ModelProtoType = root.lookupType('onnx.ModelProto')
export const GraphProtoType = root.lookupType('onnx.GraphProto')
export const TensorProtoType = root.lookupType('onnx.TensorProto')

/** An int64 as protobufjs decodes it: a number, or a Long when the `long` package is installed. */
export type Int64 = number | { toNumber(): number }

export function int64(v: Int64 | null | undefined): number {
  if (v == null) return 0
  return typeof v === 'number' ? v : v.toNumber()
}

export interface StringStringEntry {
  key: string
  value: string
}

export interface TensorProto {
  dims: Int64[]
  data_type: number
  name: string
  raw_data: Uint8Array
  float_data: number[]
  int32_data: number[]
  int64_data: Int64[]
  double_data: number[]
  uint64_data: Int64[]
  string_data: Uint8Array[]
  external_data: StringStringEntry[]
  /** 0 DEFAULT, 1 EXTERNAL */
  data_location: number
}

export interface AttributeProto {
  name: string
  type: number
  f: number
  i: Int64
  s: Uint8Array
  t?: TensorProto | null
  g?: GraphProto | null
  floats: number[]
  ints: Int64[]
  strings: Uint8Array[]
  tensors: TensorProto[]
  graphs: GraphProto[]
}

export interface NodeProto {
  input: string[]
  output: string[]
  name: string
  op_type: string
  domain: string
  attribute: AttributeProto[]
}

export interface Dimension {
  dim_value?: Int64 | null
  dim_param?: string | null
  value?: 'dim_value' | 'dim_param'
}

export interface TypeProto {
  tensor_type?: { elem_type: number; shape?: { dim: Dimension[] } | null } | null
}

export interface ValueInfoProto {
  name: string
  type?: TypeProto | null
}

export interface GraphProto {
  node: NodeProto[]
  name: string
  initializer: TensorProto[]
  sparse_initializer: unknown[]
  input: ValueInfoProto[]
  output: ValueInfoProto[]
  value_info: ValueInfoProto[]
}

export interface OperatorSetId {
  domain: string
  version: Int64
}

export interface ModelProto {
  ir_version: Int64
  opset_import: OperatorSetId[]
  producer_name: string
  producer_version: string
  domain: string
  model_version: Int64
  doc_string: string
  graph?: GraphProto | null
  metadata_props: StringStringEntry[]
}
