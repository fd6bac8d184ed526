/**
 * Inner tensors of an ONNX model as extra graph outputs, without decoding the model: onnxruntime returns
 * graph outputs only, and re-encoding a model of hundreds of MB to add a few outputs would cost its size twice.
 */
import { ModelProtoType } from './proto'

/**
 * The model bytes with `tensors` added as float graph outputs, so onnxruntime returns inner layers. Protobuf
 * merges a repeated embedded message field that occurs twice, so appending an encoded ModelProto that holds
 * only `graph { output: [...] }` appends to the graph's outputs without decoding the (up to 553 MB) model.
 */
export function withGraphOutputs(model: Uint8Array, tensors: readonly string[]): Uint8Array {
  const extra = ModelProtoType.encode(
    ModelProtoType.fromObject({ graph: { output: tensors.map((name) => ({ name, type: { tensor_type: { elem_type: 1 } } })) } }),
  ).finish()
  const out = new Uint8Array(model.length + extra.length)
  out.set(model)
  out.set(extra, model.length)
  return out
}
