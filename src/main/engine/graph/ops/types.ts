/**
 * The one interface of an ONNX op implemented in tfjs (issue 10). A kernel follows the ONNX operator's
 * semantics exactly (layout NCHW, ONNX broadcasting, ONNX attribute defaults for the node's opset), so any
 * node of a PyTorch export runs as ONNX Runtime would run it.
 *
 * Rules every kernel keeps:
 * - `inputs` are in the node's input order; an omitted optional input (empty name in ONNX) is null.
 * - Integer tensors (int64 in the file) are int32 tfjs tensors; bool is 'bool'.
 * - Only differentiable tfjs ops on data inputs (the executor runs kernels inside tf.grad for Grad-CAM and the
 *   neuron → pixel methods). Small shape-like inputs (Reshape's shape, Pad's pads, Slice's starts, Clip's
 *   min / max, ...) may be read synchronously (dataSync / arraySync).
 * - A kernel returns one tensor per node output it computes, in output order, and never disposes its inputs.
 * - What a kernel cannot do (an attribute value or input it does not support) is an UnsupportedOpError naming
 *   what: the executor adds the node's name, op and opset to the message.
 */
import type * as tf from '@tensorflow/tfjs'
import type { OnnxAttributeValue } from '../../models/onnx/reader'

/** What a kernel knows about its node. */
export interface OpNode {
  name: string
  opType: string
  /** '' for the default ONNX domain. */
  domain: string
  attributes: Readonly<Record<string, OnnxAttributeValue>>
  /** The model's opset of the node's domain (attribute vs input forms changed across opsets, e.g. Clip, Pad, Split). */
  opset: number
  /** How many outputs the node declares (some are optional, e.g. MaxPool's indices, Dropout's mask). */
  outputCount: number
}

export type OpKernel = (inputs: readonly (tf.Tensor | null)[], node: OpNode) => tf.Tensor[]

/** A kernel met an attribute value or input form it does not implement; `what` says which (e.g. 'auto_pad "VALID"' is fine, 'storage_order 1' is not). */
export class UnsupportedOpError extends Error {
  constructor(readonly what: string) {
    super(what)
    this.name = 'UnsupportedOpError'
  }
}
