/**
 * What onnxruntime needs to run a model that convscope opened, whatever its format (issue 11): ONNX bytes, the
 * image input, the graph output, and how a requested name maps onto a tensor of those bytes and its layout.
 * ONNX models give their own file (models/onnxModel.ts); TF.js layers and graph models give their model graph
 * written as ONNX (executors/toOnnx/), NHWC throughout. A model without one runs forward work on tfjs.
 */

/** The one image input of the bytes. */
export interface RuntimeInput {
  name: string
  /** Fixed batch size, or null when dynamic (a fixed batch of 1 runs image by image). */
  batch: number | null
  channels: number
  /** 'nchw' (PyTorch exports) or 'nhwc' (TF.js models written as ONNX): what the input tensor is fed as. */
  layout: 'nchw' | 'nhwc'
  /**
   * Fixed [height, width] of the input tensor, null per dynamic axis. Absent: taken as fixed, so work at another
   * size than the model's (the fully-convolutional class grid) stays on tfjs.
   */
  size?: readonly [number | null, number | null]
}

export interface RuntimeSource {
  /** null when onnxruntime can run the model; else why not, in words (forward work then stays on tfjs). */
  readonly unsupported: string | null
  /** The ONNX ModelProto bytes (read or written on first use, by the source). */
  bytes(): Promise<Uint8Array>
  readonly input: RuntimeInput
  /** The tensor of the model's (first) output. */
  readonly output: string
  /** The tensor a layer, OUTPUT, node or tensor name stands for (as the model's forward resolves it); throws BAD_REQUEST for unknown names. */
  tensorOf(name: string): string
  /** Whether a tensor of this rank is an NCHW map, presented as NHWC like forward() does. */
  isNchw(tensor: string, rank: number): boolean
  /** Run `release` when the model is disposed (sessions of an executor). */
  onDispose(release: () => void): void
}
