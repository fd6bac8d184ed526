/**
 * One input gradient (d class score / d image) of a MobileNet-style conv stack, wasm vs cpu, same process.
 *
 *   node --import tsx bench/wasm-gradients.ts [--size 112] [--repeats 3] [--skip-cpu] [--full]
 *
 * Default: the first 7 blocks of MobileNetV1 (mid-size); --full: all 13 blocks and 1000 classes.
 *
 * wasm runs with the gradient kernels of src/main/engine/wasmGradients.ts, once computing the filter
 * gradients that tfjs' fused conv computes eagerly and once inside withoutFilterGradients.
 */
import * as tf from '@tensorflow/tfjs'
import { parseArgs } from 'node:util'
import { initBackend } from '../src/main/engine/backend'
import { withoutFilterGradients } from '../src/main/engine/wasmGradients'

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '112' },
    repeats: { type: 'string', default: '3' },
    'skip-cpu': { type: 'boolean', default: false },
    full: { type: 'boolean', default: false },
  },
})
const size = Number(values.size)
const repeats = Number(values.repeats)

/** MobileNetV1's depthwise-separable blocks: [pointwise filters, stride]. */
const V1_BLOCKS: [number, number][] = [[64, 1], [128, 2], [128, 1], [256, 2], [256, 1], [512, 2], [512, 1], [512, 1], [512, 1], [512, 1], [512, 1], [1024, 2], [1024, 1]]

/** conv -> BN -> ReLU6, then depthwise-separable blocks (dw -> BN -> ReLU6 -> 1x1 -> BN -> ReLU6), as in MobileNetV1. */
function mobileNetStyle(inputSize: number, full: boolean): tf.LayersModel {
  const block = (filters: number, strides: number): tf.layers.Layer[] => [
    tf.layers.depthwiseConv2d({ kernelSize: 3, strides, padding: 'same', useBias: false }),
    tf.layers.batchNormalization(),
    tf.layers.reLU({ maxValue: 6 }),
    tf.layers.conv2d({ filters, kernelSize: 1, useBias: false }),
    tf.layers.batchNormalization(),
    tf.layers.reLU({ maxValue: 6 }),
  ]
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [inputSize, inputSize, 3], filters: 32, kernelSize: 3, strides: 2, padding: 'same', useBias: false }),
      tf.layers.batchNormalization(),
      tf.layers.reLU({ maxValue: 6 }),
      ...V1_BLOCKS.slice(0, full ? V1_BLOCKS.length : 7).flatMap(([filters, strides]) => block(filters, strides)),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: full ? 1000 : 100 }),
    ],
  })
}

/** Median wall time of `repeats` runs of one input gradient, after one warm-up run. */
async function time(backend: string, model: tf.LayersModel, image: Float32Array, wrap: <T>(f: () => T) => T = (f) => f()): Promise<number> {
  await tf.setBackend(backend)
  const run = () => {
    const g = wrap(() => tf.tidy(() => tf.grad((x: tf.Tensor) => (model.apply(x) as tf.Tensor).gather([7], 1).sum())(tf.tensor4d(image, [1, size, size, 3]))))
    g.dataSync()
    g.dispose()
  }
  run()
  const times: number[] = []
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now()
    run()
    times.push(performance.now() - t0)
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!
}

async function main(): Promise<void> {
  const report = await initBackend({ forced: 'wasm' })
  console.log(`backend: ${report.attempts[0]!.reason}`)
  const model = mobileNetStyle(size, values.full)
  const image = Float32Array.from({ length: size * size * 3 }, (_, i) => Math.sin(i * 0.37))
  console.log(`model: MobileNetV1-style (${values.full ? 'full' : 'first 7 blocks'}), ${model.countParams()} parameters, input ${size}x${size}x3, median of ${repeats}`)

  const wasmFull = await time('wasm', model, image)
  console.log(`wasm, filter gradients computed too: ${wasmFull.toFixed(0)} ms`)
  const wasmInputOnly = await time('wasm', model, image, withoutFilterGradients)
  console.log(`wasm, withoutFilterGradients:       ${wasmInputOnly.toFixed(0)} ms`)
  if (!values['skip-cpu']) {
    const cpu = await time('cpu', model, image)
    console.log(`cpu:                                ${cpu.toFixed(0)} ms`)
    console.log(`cpu / wasm = ${(cpu / wasmFull).toFixed(1)}x (filter gradients computed), ${(cpu / wasmInputOnly).toFixed(1)}x (input gradient only)`)
  }
}

// Report errors here: the wasm module's own uncaught-exception handler would print its whole minified source.
main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err)
  process.exitCode = 1
})
