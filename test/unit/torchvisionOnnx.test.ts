/**
 * The torchvision architectures as ONNX, checked against PyTorch (issue 10). scripts/onnx/exportTorchvision.py
 * exports alexnet … convnext_tiny with seeded random weights into test/.cache/torchvision, with PyTorch's
 * outputs (logits and ≥ 3 inner layers per model, by forward hooks; computed in float64) for a seeded batch of 2
 * random inputs. Per model:
 * - the references agree with onnxruntime-node on the same .onnx (inner tensors added as graph outputs): so a
 *   wrong hook or a wrong node name in the script fails here, independently of convscope;
 * - convscope (loadModel on the folder, wasm backend, input NHWC) gives the same logits and inner layers,
 *   looked up by their convscope layer names (README's ONNX layer naming), to 1e-4 relative (max|a−b| / max|ref|);
 * - receptive fields of resnet18, alexnet and vgg16 layers equal a table worked out by hand (below);
 * - resnet18: CAM's identity (mean_xy CAM_c + b_c = logit_c) and Grad-CAM at layer4 equal to PyTorch's.
 * Skipped, with the reason, where /usr/bin/python3 lacks torch / torchvision / onnx. CONVSCOPE_TORCHVISION=a,b
 * restricts the run to some models (local work); the export is skipped for models already up to date.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import * as ort from 'onnxruntime-node'
import type { ReceptiveField } from '../../src/shared/api'
import { initBackend } from '../../src/main/engine/backend'
import { OUTPUT, type LoadedModel } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { cam } from '../../src/main/engine/maps/cam'
import { gradCam } from '../../src/main/engine/maps/gradCam'
import {
  TORCHVISION_MODELS,
  exportTorchvision,
  moveChannels,
  readArray,
  readReference,
  relativeError,
  torchvisionSkipReason,
  withGraphOutputs,
  type Reference,
  type TorchvisionModel,
} from '../helpers/torchvisionReference'

const TOLERANCE = 1e-4
const skip = torchvisionSkipReason()
const only = process.env.CONVSCOPE_TORCHVISION?.split(',').filter(Boolean)
const MODELS = TORCHVISION_MODELS.filter((m) => !only || only.includes(m))

before(async () => {
  if (skip) return
  await initBackend({ forced: 'wasm' })
  const { seconds, log } = exportTorchvision(MODELS)
  console.log(`torchvision export: ${seconds.toFixed(1)} s\n${log}`)
})

/** The input as NHWC for convscope. */
function inputTensor(ref: Reference, rows?: [number, number]): tf.Tensor4D {
  const [n, c, h, w] = ref.input.shape as [number, number, number, number]
  const x = tf.tensor4d(moveChannels(ref.input.data, ref.input.shape), [n, h, w, c])
  if (!rows) return x
  const part = x.slice([rows[0], 0, 0, 0], [rows[1], h, w, c])
  x.dispose()
  return part
}

/** convscope's output (NHWC for maps) in the reference's layout (NCHW). */
function asReference(values: Float32Array, referenceShape: number[]): Float32Array {
  return referenceShape.length === 4 ? moveChannels(values, referenceShape, true) : values
}

const nhwc = (s: number[]) => (s.length === 4 ? [s[0], s[2], s[3], s[1]] : s)

/**
 * Receptive fields worked out by hand, per axis (square here): unit i sees pixels start + i·jump ± (size−1)/2.
 * A conv / pool of kernel k, stride s, padding p maps (size, jump, start) to
 * (size + (k−1)·jump, jump·s, start + ((k−1)/2 − p)·jump); elementwise ops pass the field on; an add of two
 * different fields gives the enclosing one (exact: false).
 */
const FIELDS: Partial<Record<TorchvisionModel, Record<string, [size: number, jump: number, start: number, exact: boolean]>>> = {
  resnet18: {
    conv1: [7, 2, 0, true], //                  k7 s2 p3: 1 + 6·1, start 0 + (3 − 3)·1
    relu: [7, 2, 0, true],
    maxpool: [11, 4, 0, true], //               k3 s2 p1: 7 + 2·2, start 0 + (1 − 1)·2
    'layer1.0.conv1': [19, 4, 0, true], //      k3 s1 p1: 11 + 2·4
    'layer1.0.conv2': [27, 4, 0, true], //      19 + 2·4
    'layer1.0.add': [27, 4, 0, false], //       maxpool (11) + conv2 (27), same centre: encloses 27
    'layer1.0.relu_1': [27, 4, 0, false],
    'layer1.1.relu_1': [43, 4, 0, false], //    27 + 2·(2·4)
    'layer2.0.conv1': [51, 8, 0, false], //     k3 s2 p1: 43 + 2·4, start 0 + (1 − 1)·4
    'layer2.0.downsample.0': [43, 8, 0, false], // k1 s2 p0: 43 + 0, start 0 + (0 − 0)·4
    'layer2.0.add': [67, 8, 0, false], //       conv2 51 + 2·8 = 67 encloses the shortcut's 43
    'layer3.0.conv1': [115, 16, 0, false], //   layer2 out 67 + 2·(2·8) = 99; + 2·8
    'layer4.0.conv1': [243, 32, 0, false], //   layer3 out 99 + 2·16 = 147 → 147 + 4·16 = 211; + 2·16
    'layer4.1.relu_1': [435, 32, 0, false], //  243 + 2·32 = 307 (block 0) → 307 + 4·32 = 435
    avgpool: [627, 0, 96, false], //            global over the 7×7 map: pixels −217 … 6·32 + 217 = 409
  },
  alexnet: {
    'features.0': [11, 4, 3, true], //          k11 s4 p2: start 0 + (5 − 2)·1 = 3
    'features.1': [11, 4, 3, true],
    'features.2': [19, 8, 7, true], //          pool k3 s2 p0: 11 + 2·4, start 3 + 1·4
    'features.3': [51, 8, 7, true], //          k5 s1 p2: 19 + 4·8, start 7 + (2 − 2)·8
    'features.5': [67, 16, 15, true], //        pool k3 s2: 51 + 2·8, start 7 + 1·8
    'features.6': [99, 16, 15, true], //        k3 p1: 67 + 2·16
    'features.8': [131, 16, 15, true],
    'features.10': [163, 16, 15, true],
    'features.12': [195, 32, 31, true], //      pool k3 s2: 163 + 2·16, start 15 + 1·16
  },
  vgg16: {
    'features.0': [3, 1, 0, true], //           k3 p1
    'features.2': [5, 1, 0, true],
    'features.4': [6, 2, 0.5, true], //         pool k2 s2 p0: 5 + 1·1, start 0 + 0.5·1
    'features.9': [16, 4, 1.5, true], //        6 + 2·(2·2) = 14; pool: 14 + 2, start 0.5 + 0.5·2
    'features.16': [44, 8, 3.5, true], //       16 + 3·(2·4) = 40; pool: 40 + 4, start 1.5 + 0.5·4
    'features.23': [100, 16, 7.5, true], //     44 + 3·16 = 92; pool: 92 + 8, start 3.5 + 0.5·8
    'features.30': [212, 32, 15.5, true], //    100 + 3·32 = 196; pool: 196 + 16, start 7.5 + 0.5·16
  },
}

/**
 * Row types where PyTorch's modules say what to expect: a conv followed by a BatchNorm in the module is exported
 * with the BN folded in ("Conv (BN folded)"), a conv without one (squeezenet, densenet's conv2 before a concat) is
 * plain, and densenet's BatchNorm after a concat cannot be folded and stays a row of its own.
 */
const TYPES: Partial<Record<TorchvisionModel, Record<string, string>>> = {
  resnet18: { conv1: 'Conv (BN folded)', relu: 'Relu', maxpool: 'MaxPool', 'layer1.0.add': 'Add', 'layer2.0.downsample.0': 'Conv (BN folded)', fc: 'Gemm' },
  densenet121: {
    'features.conv0': 'Conv (BN folded)',
    'features.denseblock1.denselayer1.norm1': 'BatchNormalization',
    'features.denseblock1.denselayer1.conv1': 'Conv (BN folded)',
    'features.denseblock1.denselayer1.conv2': 'Conv',
  },
  squeezenet1_1: { 'features.0': 'Conv', 'features.3.squeeze': 'Conv', 'features.3.concat': 'Concat' },
}

function checkTypes(model: LoadedModel, name: TorchvisionModel): void {
  for (const [layer, type] of Object.entries(TYPES[name] ?? {})) assert.equal(model.info.layers.find((l) => l.name === layer)?.type, type, `${name} ${layer}: type`)
}

function checkFields(model: LoadedModel, name: TorchvisionModel): void {
  for (const [layer, [size, jump, start, exact]] of Object.entries(FIELDS[name] ?? {})) {
    const info = model.info.layers.find((l) => l.name === layer)
    assert.ok(info, `${name}: no layer "${layer}"`)
    const expected: ReceptiveField = { size: [size, size], jump: [jump, jump], start: [start, start], exact }
    assert.deepEqual(info.receptiveField, expected, `${name} ${layer}`)
  }
}

let resnet18: LoadedModel | undefined
after(() => resnet18?.dispose())

for (const name of MODELS) {
  test(`${name}: PyTorch's reference outputs agree with onnxruntime on the exported .onnx`, { skip }, async (t) => {
    const ref = await readReference(name)
    const bytes = withGraphOutputs(await readFile(join(ref.dir, 'model.onnx')), ref.index.layers.filter((l) => l.tensor !== 'logits').map((l) => l.tensor))
    const session = await ort.InferenceSession.create(bytes)
    try {
      const results = await session.run({ input: new ort.Tensor('float32', ref.input.data, ref.input.shape) }, ref.index.layers.map((l) => l.tensor))
      const errors = ref.index.layers.map((l) => {
        const out = results[l.tensor]!
        assert.deepEqual([...out.dims], l.shape, `${name} ${l.layer}: shape`)
        return [l.layer, relativeError(out.data as Float32Array, ref.outputs.get(l.layer)!.data)] as const
      })
      t.diagnostic(`onnxruntime vs PyTorch: ${errors.map(([l, e]) => `${l} ${e.toExponential(1)}`).join(', ')}`)
      for (const [layer, e] of errors) assert.ok(e <= TOLERANCE, `${name} ${layer}: onnxruntime differs from PyTorch by ${e} (relative)`)
    } finally {
      await session.release()
    }
  })

  test(`${name}: convscope's logits and inner layers equal PyTorch's (wasm, NHWC)`, { skip }, async (t) => {
    const ref = await readReference(name)
    const t0 = performance.now()
    const model = await loadModel(ref.dir)
    const openMs = performance.now() - t0
    const openMB = tf.memory().numBytes / 2 ** 20
    try {
      assert.equal(model.info.format, 'onnx')
      const [, c, h, w] = ref.input.shape
      const x = inputTensor(ref)
      const names = ref.index.layers.map((l) => (l.tensor === 'logits' ? OUTPUT : l.layer))
      for (const layer of names) if (layer !== OUTPUT) assert.ok(model.info.layers.some((l) => l.name === layer), `${name}: no layer "${layer}" in ${model.info.layers.map((l) => l.name).join(', ')}`)
      const t1 = performance.now()
      const outputs = model.forward(x, names)
      const values = await Promise.all(outputs.map((o) => o.data() as Promise<Float32Array>))
      const forwardMs = performance.now() - t1
      const shapes = outputs.map((o) => o.shape)
      tf.dispose([x, ...outputs])
      const errors = ref.index.layers.map((l, i) => {
        assert.deepEqual(shapes[i], nhwc(l.shape), `${name} ${l.layer}: shape (NHWC)`)
        return [l.layer, relativeError(asReference(values[i]!, l.shape), ref.outputs.get(l.layer)!.data)] as const
      })
      const worst = Math.max(...errors.map(([, e]) => e))
      t.diagnostic(`${name}: input ${h}×${w}×${c}, open ${openMs.toFixed(0)} ms (tfjs then holds ${openMB.toFixed(0)} MB), forward (batch ${ref.input.shape[0]}) ${forwardMs.toFixed(0)} ms, max relative error ${worst.toExponential(1)}`)
      t.diagnostic(`convscope vs PyTorch (float64; float32 PyTorch's own error): ${errors.map(([l, e], i) => `${l} ${e.toExponential(1)} (${ref.index.layers[i]!.float32Error.toExponential(1)})`).join(', ')}`)
      for (const [layer, e] of errors) assert.ok(e <= TOLERANCE, `${name} ${layer}: convscope differs from PyTorch by ${e} (relative)`)
      checkFields(model, name)
      checkTypes(model, name)
    } finally {
      if (name === 'resnet18') resnet18 = model
      else model.dispose()
    }
  })
}

test('resnet18: CAM of the top class, averaged over positions, plus the fc bias, is the logit', { skip: skip || (!MODELS.includes('resnet18') && 'resnet18 not selected') }, async () => {
  const ref = await readReference('resnet18')
  resnet18 ??= await loadModel(ref.dir)
  const logits = ref.outputs.get('logits')!
  const bias = (await readArray(join(ref.dir, ref.index.gradcam!.bias))).data
  const classes = logits.shape[1]!
  for (const row of [0, 1]) {
    const scores = logits.data.subarray(row * classes, (row + 1) * classes)
    const top = scores.indexOf(Math.max(...scores))
    const x = inputTensor(ref, [row, 1])
    try {
      const { layer, maps } = await cam.compute(resnet18, x, [top])
      assert.equal(layer, 'layer4.1.relu_1')
      const map = maps[0]!
      assert.deepEqual([map.height, map.width], [7, 7])
      const logit = logits.data[row * classes + top]!
      const mean = map.values.reduce((a, b) => a + b, 0) / map.values.length
      assert.ok(Math.abs(mean + bias[top]! - logit) <= TOLERANCE * Math.abs(logit), `row ${row}: mean CAM ${mean} + bias ${bias[top]} ≠ logit ${logit}`)
      assert.ok(Math.abs(map.score - logit) <= TOLERANCE * Math.abs(logit), `row ${row}: score ${map.score} ≠ logit ${logit}`)
    } finally {
      x.dispose()
    }
  }
})

test('resnet18: Grad-CAM at layer4 equals PyTorch (hooks + backward) for a top class and a class with a two-signed map', { skip: skip || (!MODELS.includes('resnet18') && 'resnet18 not selected') }, async () => {
  const ref = await readReference('resnet18')
  resnet18 ??= await loadModel(ref.dir)
  const g = ref.index.gradcam!
  const expected = await readArray(join(ref.dir, g.map))
  const raw = await readArray(join(ref.dir, g.raw))
  const [, h, w] = expected.shape as [number, number, number]
  for (const row of [0, 1]) {
    const x = inputTensor(ref, [row, 1])
    try {
      const { layer, maps } = await gradCam.compute(resnet18, x, [g.classes[row]!], { layer: g.layer })
      assert.equal(layer, g.layer)
      const want = expected.data.subarray(row * h * w, (row + 1) * h * w)
      // Not vacuous: row 0's map varies over the grid; row 1's class was picked with cells of both signs, so the ReLU matters.
      const rawRow = raw.data.subarray(row * h * w, (row + 1) * h * w)
      assert.ok(Math.max(...want) > 1.5 * Math.min(...want), `row ${row}: PyTorch's Grad-CAM is flat`)
      if (row === 1) assert.ok(rawRow.some((v) => v > 0) && rawRow.some((v) => v < 0), "row 1: PyTorch's Grad-CAM is one-signed")
      const e = relativeError(maps[0]!.values, want)
      assert.ok(e <= TOLERANCE, `row ${row}: Grad-CAM differs from PyTorch by ${e} (relative)`)
    } finally {
      x.dispose()
    }
  }
})
