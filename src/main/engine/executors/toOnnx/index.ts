/**
 * TF.js models written as ONNX for onnxruntime (issue 11, item 2): the format-neutral graph of a layers or graph
 * model plus its executor's weights → ModelProto bytes (writeGraph.ts), NHWC throughout, one translator per op
 * (keras/, tf/; registry.ts), and the RuntimeSource the models give the executor (runtimeSource.ts).
 */
export { unwritableReason, writeGraph, type GraphWriteOptions } from './writeGraph'
export { sizeFreeLayers, writtenRuntimeSource, type WrittenSource, type WrittenSourceOptions } from './runtimeSource'
