/**
 * The torchvision reference models of test/unit/torchvisionOnnx.test.ts: scripts/onnx/exportTorchvision.py run
 * into test/.cache/torchvision (the script skips models whose stamp matches, so only the first run pays for the
 * export), the reference index it writes (zod-checked), its .npy arrays, and the few array helpers the
 * comparisons need. Python is Debian's /usr/bin/python3 with python3-torch, python3-torchvision, python3-onnx.
 */
import { spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { readNpy } from '../../src/main/engine/store/npy'

/** Re-exported for the tests and bench that import it from here (the logic lives in src). */
export { withGraphOutputs } from '../../src/main/engine/models/onnx/addOutputs'

const ROOT = join(import.meta.dirname, '../..')
const PYTHON = '/usr/bin/python3'
const SCRIPT = join(ROOT, 'scripts/onnx/exportTorchvision.py')
export const TORCHVISION_CACHE = join(ROOT, 'test/.cache/torchvision')

export const TORCHVISION_MODELS = [
  'alexnet',
  'vgg16',
  'resnet18',
  'resnet50',
  'googlenet',
  'inception_v3',
  'densenet121',
  'squeezenet1_1',
  'mobilenet_v2',
  'efficientnet_b0',
  'convnext_tiny',
] as const
export type TorchvisionModel = (typeof TORCHVISION_MODELS)[number]

/** Why the references cannot be made here (the Python packages missing), or false. */
export function torchvisionSkipReason(): string | false {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision, onnx, numpy'], { encoding: 'utf8' })
  if (probe.status === 0) return false
  const why = (probe.stderr || String(probe.error)).trim().split('\n').pop()
  return `${PYTHON} cannot import torch, torchvision and onnx (apt-get install python3-torchvision python3-onnx): ${why}`
}

/** Export (or find up to date) the given models under TORCHVISION_CACHE; returns the script's per-model lines and the wall time. */
export function exportTorchvision(models: readonly TorchvisionModel[]): { seconds: number; log: string } {
  const t0 = performance.now()
  const run = spawnSync(PYTHON, [SCRIPT, '--out', TORCHVISION_CACHE, '--models', models.join(',')], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    maxBuffer: 64 << 20,
  })
  if (run.status !== 0) throw new Error(`${SCRIPT} failed (${run.status ?? run.signal}):\n${run.stderr}`)
  return { seconds: (performance.now() - t0) / 1000, log: run.stdout.trim() }
}

const Shape = z.array(z.number().int().nonnegative())
const ReferenceIndex = z.object({
  model: z.string(),
  torch: z.string(),
  opset: z.number().int(),
  input: z.object({ file: z.string(), shape: Shape, layout: z.literal('NCHW') }),
  layers: z.array(
    z.object({
      /** convscope layer name (README's ONNX layer naming); 'logits' for the graph output. */
      layer: z.string(),
      /** PyTorch module path whose forward hook gave the values ('' for the logits). */
      module: z.string(),
      node: z.string(),
      /** The ONNX tensor: the node's first output. */
      tensor: z.string(),
      shape: Shape,
      file: z.string(),
      /** How far float32 PyTorch is from these (float64-computed) values: the layer's rounding noise floor. */
      float32Error: z.number(),
    }),
  ),
  gradcam: z
    .object({ layer: z.string(), module: z.string(), classes: z.array(z.number().int()), grad: z.string(), raw: z.string(), map: z.string(), bias: z.string() })
    .optional(),
})
export type ReferenceIndex = z.infer<typeof ReferenceIndex>

/** A float32 array with its NCHW (or [n, k]) shape. */
export interface Array32 {
  shape: number[]
  data: Float32Array
}

export interface Reference {
  dir: string
  index: ReferenceIndex
  input: Array32
  /** PyTorch's values per index layer name. */
  outputs: Map<string, Array32>
}

export async function readArray(file: string): Promise<Array32> {
  const npy = await readNpy(file)
  if (npy.dtype !== 'float32') throw new Error(`${file}: ${npy.dtype}, expected float32`)
  return { shape: [...npy.shape], data: npy.data as Float32Array }
}

export async function readReference(model: TorchvisionModel): Promise<Reference> {
  const dir = join(TORCHVISION_CACHE, model)
  const index = ReferenceIndex.parse(JSON.parse(await readFile(join(dir, 'reference.json'), 'utf8')))
  const outputs = new Map<string, Array32>()
  for (const l of index.layers) outputs.set(l.layer, await readArray(join(dir, l.file)))
  return { dir, index, input: await readArray(join(dir, index.input.file)), outputs }
}

/** max|a − b| / max|expected|: the error measure of the checks (1e-4 passes). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ expected ${expected.length}`)
  let diff = 0
  let scale = 0
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!))
    scale = Math.max(scale, Math.abs(expected[i]!))
  }
  return scale === 0 ? diff : diff / scale
}

/** [n, a, b, c] row-major → [n, b, c, a] (NCHW → NHWC); with `inverse`, [n, b, c, a] → [n, a, b, c]. */
export function moveChannels(data: Float32Array, nchw: readonly number[], inverse = false): Float32Array {
  const [n, c, h, w] = nchw as [number, number, number, number]
  const out = new Float32Array(data.length)
  for (let b = 0; b < n; b++)
    for (let k = 0; k < c; k++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const chw = ((b * c + k) * h + y) * w + x
          const hwc = ((b * h + y) * w + x) * c + k
          if (inverse) out[chw] = data[hwc]!
          else out[hwc] = data[chw]!
        }
  return out
}
