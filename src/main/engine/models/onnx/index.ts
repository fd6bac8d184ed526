/** The ONNX model reader (issue 10): see reader.ts. */
export * from './reader'
