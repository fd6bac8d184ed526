/** Both executors on one batch: what the parity checks of onnxruntime against the tfjs forward share. */
import assert from 'node:assert/strict'
import * as tf from '@tensorflow/tfjs'
import { runOnnxRuntime } from '../../src/main/engine/executors/onnxRuntime'
import { OUTPUT, type LoadedModel } from '../../src/main/engine/model'
import { relativeError } from './torchvisionReference'

/**
 * The named tensors and the model's output on onnxruntime vs `model.forward` (tfjs) for the NHWC batch `data`:
 * same shapes, and each within `tolerance` relative (max |ort − tfjs| / max |tfjs|). Returns the worst error.
 */
export async function assertExecutorsAgree(
  model: LoadedModel,
  data: Float32Array,
  shape: [number, number, number, number],
  layers: readonly string[],
  tolerance = 1e-4,
): Promise<number> {
  const names = [...layers, OUTPUT]
  const ort = await runOnnxRuntime(model, { data, shape }, names)
  const x = tf.tensor4d(data, shape)
  const outs = model.forward(x, names)
  let worst = 0
  try {
    for (const [i, name] of names.entries()) {
      assert.deepEqual(ort.layers[i]!.shape, outs[i]!.shape, `${model.info.name} ${name}: shape`)
      const err = relativeError(ort.layers[i]!.data, outs[i]!.dataSync())
      assert.ok(err <= tolerance, `${model.info.name} ${name}: relative error ${err}`)
      worst = Math.max(worst, err)
    }
    assert.deepEqual(ort.output.data, ort.layers.at(-1)!.data)
  } finally {
    tf.dispose([x, ...outs])
  }
  return worst
}
