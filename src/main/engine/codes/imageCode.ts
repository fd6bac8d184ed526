/**
 * The code and thumbnail of any image exactly as a codes folder's job computed its rows (issue 13: the
 * neighbours of an image dropped in that is not in the folder): the folder's layer, the model's preprocessing,
 * the executor the folder was made on, and the job's own functions (codeBatch.ts).
 */
import { ConvscopeError } from '../../../shared/api'
import { forwardExecutor, isOnnxRuntime } from '../executors/onnxRuntime'
import type { LoadedModel } from '../model'
import { codesOfBatch, readCodeImage } from './codeBatch'
import { describeCodeLayer } from './codeLayer'
import { readCodesManifest } from './codesFolder'

export async function imageCode(model: LoadedModel, codesDir: string, path: string): Promise<{ code: Float32Array; pixels: Uint8Array }> {
  const m = await readCodesManifest(codesDir)
  if (m.model.id !== model.info.id) {
    throw new ConvscopeError('BAD_REQUEST', `${codesDir} holds codes of another model (${m.model.name}, ${m.model.id}); open that model to compute a code comparable with them`)
  }
  const layer = describeCodeLayer(model, m.codes.layer)
  // The folder's executor: the other one agrees only to float32 rounding.
  const executor = forwardExecutor(model, m.executor === undefined || !isOnnxRuntime(m.executor) ? 'tfjs' : 'onnxruntime')
  const image = await readCodeImage(path, m.model.preprocessing)
  const { codes } = await codesOfBatch(model, [image.input], layer, executor)
  return { code: codes, pixels: image.pixels }
}
