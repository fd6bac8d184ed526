/**
 * What opening a model folder takes in either format (layers or graph model): building it, the image-input
 * check, the probe run on a blank input, and the ModelInfo assembled from the parts. tfjs's build and run
 * errors become messages naming the file and the problem.
 */
import * as path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError, ModelInfo, type Preprocessing } from '../../../shared/api'
import type { Architecture, Shape } from './architecture'
import type { ModelFolder } from './fsIOHandler'
import type { SidecarResult } from './sidecar'

/** Let tfjs build the model (from the folder's artifacts); a failure becomes a message naming the file. */
export async function buildModel<T>(build: () => Promise<T>, file: string): Promise<T> {
  try {
    return await build()
  } catch (e) {
    throw explainBuildError(e, file)
  }
}

/** Turn a tfjs model-building error into a user message. */
function explainBuildError(e: unknown, file: string): ConvscopeError {
  if (e instanceof ConvscopeError) return e
  const message = e instanceof Error ? e.message : String(e)
  const unknown = /Unknown (layer|activation|initializer|regularizer|constraint): ([^\s.]+)/.exec(message)
  if (unknown) {
    return new ConvscopeError('UNSUPPORTED_OP', `${file}: ${unknown[1]} "${unknown[2]}" is not available in TensorFlow.js, so this model cannot be run`)
  }
  return new ConvscopeError('BAD_MODEL', `${file}: TensorFlow.js could not build the model: ${message}`)
}

/**
 * Run the model once on a blank input, to the named outputs: their real shapes (no batch), also for models
 * that accept any size, and proof at open time that the backend can run every op.
 */
export function probeShapes(names: readonly string[], run: () => tf.Tensor | tf.Tensor[], file: string, inputShape: [number, number, number]): [string, Shape][] {
  try {
    const outs = tf.tidy(() => {
      const r = run()
      return Array.isArray(r) ? r : [r]
    })
    const shapes = names.map((name, i): [string, Shape] => [name, outs[i]!.shape.slice(1)])
    tf.dispose(outs)
    return shapes
  } catch (e) {
    throw explainRunError(e, file, inputShape)
  }
}

/** Turn an error of the test run into a user message: missing kernels and unknown ops are UNSUPPORTED_OP. */
function explainRunError(e: unknown, file: string, inputShape: number[]): ConvscopeError {
  if (e instanceof ConvscopeError) return e
  const message = e instanceof Error ? e.message : String(e)
  const kernel = /Kernel '([^']+)' not registered for backend '([^']+)'/.exec(message)
  if (kernel) return new ConvscopeError('UNSUPPORTED_OP', `${file}: the model uses op "${kernel[1]}", which the ${kernel[2]} backend cannot run`)
  const op = /Unknown op '([^']+)'/.exec(message) ?? /Custom op (\S+) is not registered/.exec(message)
  if (op) return new ConvscopeError('UNSUPPORTED_OP', `${file}: the model uses op "${op[1]}", which TensorFlow.js cannot run`)
  const dynamic = /dynamic op '([^']+)'/.exec(message)
  if (dynamic) {
    return new ConvscopeError('UNSUPPORTED_OP', `${file}: the model uses control-flow op "${dynamic[1]}", which needs asynchronous execution; convscope runs models synchronously`)
  }
  return new ConvscopeError('BAD_MODEL', `${file}: running the model on a blank ${inputShape.join('×')} input failed: ${message}`)
}

/** The model's input must be one batch of images: [batch, height, width, channels]. */
export function checkImageInput(shape: (number | null)[] | undefined, count: number, file: string): [number | null, number | null, number] {
  if (count !== 1) throw new ConvscopeError('BAD_MODEL', `${file}: the model has ${count} inputs; convscope needs exactly one image input`)
  if (shape === undefined) return [null, null, 3]
  if (shape.length !== 4) {
    throw new ConvscopeError(
      'BAD_MODEL',
      `${file}: the model's input has shape [${shape.map((d) => d ?? 'any').join(', ')}] (rank ${shape.length}); ` +
        'convscope needs an image input of rank 4: [batch, height, width, channels]',
    )
  }
  const channels = shape[3]
  if (channels === null || channels === undefined) throw new ConvscopeError('BAD_MODEL', `${file}: the model's input has an unknown number of channels`)
  return [shape[1] ?? null, shape[2] ?? null, channels]
}

/** What makeInfo needs of an opened model source: a model folder, or an .onnx file (whose name, without .onnx, names it). */
export type ModelSource = Pick<ModelFolder, 'id' | 'dir' | 'warnings'> & { name?: string }

export function makeInfo(folder: ModelSource, format: ModelInfo['format'], inputShape: [number, number, number], side: SidecarResult, arch: Architecture, warnings: string[]): ModelInfo {
  const totalParams = arch.layers.reduce((a, l) => a + l.params, 0)
  const out = arch.layers[arch.layers.length - 1]?.outputShape
  const classes = out && out.length === 1 ? out[0] : null
  const all = [...warnings, ...folder.warnings, ...side.warnings, ...arch.warnings]
  if (side.labels && classes != null && side.labels.length !== classes) {
    all.push(`The label file has ${side.labels.length} labels but the model's output has ${classes} classes`)
  }
  return ModelInfo.parse({
    id: folder.id,
    dir: folder.dir,
    name: folder.name ?? path.basename(folder.dir),
    format,
    inputShape,
    preprocessing: side.preprocessing satisfies Preprocessing,
    preprocessingDefaulted: side.defaulted,
    labels: side.labels,
    layers: arch.layers,
    totalParams,
    warnings: all,
  })
}
