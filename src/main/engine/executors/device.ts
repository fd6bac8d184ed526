/**
 * Which onnxruntime execution provider runs forward work (issue 11, item 3). For now the CPU provider only;
 * `--device auto|cpu|cuda|dml|coreml` with fallback and its reason is built here.
 */
import type * as Ort from 'onnxruntime-node'

/** The execution providers a session is created with, in order of preference. */
export function executionProviders(): Ort.InferenceSession.SessionOptions['executionProviders'] {
  return ['cpu']
}
