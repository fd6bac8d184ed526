/**
 * TF.js models written as ONNX (executors/toOnnx, issue 11 item 2) run on onnxruntime with the tfjs executor's
 * numbers: every layer (and the output) of each model, runOnnxRuntime vs model.forward, to 1e-4 relative to the
 * tensor's largest |value| — the demo networks gap / gmp / fc, the tiny CNN fixtures (one with a dilated conv, one
 * of any input size, run at two sizes), the tiny graph model, the TF graph test models (the demo gap as converter
 * output and the op zoos: an op that cannot be written gives its reason, never wrong numbers), a MobileNetV2
 * layers model (ReLU6, depthwise, batch norm, inverted residual adds) and a zoo of the other written layer
 * classes. A layer without an ONNX form keeps forward work on tfjs, with the reason. The written bytes of layers
 * models also pass the official ONNX checker (Debian's python3-onnx; skipped without it).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { initBackend } from '../../src/main/engine/backend'
import { forwardExecutor, forwardFallbackReason, ONNX_RUNTIME_CPU, openSessions, runOnnxRuntime } from '../../src/main/engine/executors/onnxRuntime'
import { OUTPUT, type LoadedModel } from '../../src/main/engine/model'
import { fsIOHandler } from '../../src/main/engine/models/fsIOHandler'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { ModelProtoType } from '../../src/main/engine/models/onnx/proto'
import { makeTinyCnn, makeTinyGraphModel } from '../fixtures/models'
import { kerasLayerZoo } from '../helpers/kerasLayerZoo'
import { mobileNetV2Layers } from '../helpers/mobileNetV2Layers'
import { demoGapGraphModel, opZoo2GraphModel, opZooGraphModel, placeholder, str, T, writeGraphModel } from '../helpers/tfGraphModels'
import { assertExecutorsAgree } from '../helpers/executorCompare'

const ROOT = join(import.meta.dirname, '../..')
const DEMO = join(ROOT, 'resources/demo-models')
let scratch = ''

before(async () => {
  await initBackend({ forced: 'wasm' })
  scratch = await mkdtemp(join(tmpdir(), 'convscope-toonnx-'))
})
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

/**
 * Every layer (and `extra` names) and the output on onnxruntime vs the tfjs forward, batch `n` of seeded values in
 * [-1, 1) (or [low, 1)); returns the worst error.
 */
async function compareLayers(model: LoadedModel, n = 2, size?: [number, number], low = -1, extra: string[] = []): Promise<number> {
  assert.equal(model.runtimeSource?.unsupported, null, `${model.info.name}: ${model.runtimeSource?.unsupported}`)
  const [h, w, c] = model.info.inputShape
  const shape: [number, number, number, number] = [n, size?.[0] ?? h, size?.[1] ?? w, c]
  const data = tf.tidy(() => tf.randomUniform(shape, low, 1, 'float32', 11).dataSync() as Float32Array)
  return assertExecutorsAgree(model, data, shape, [...model.info.layers.map((l) => l.name), ...extra])
}

/** The float nodes of a TF graph model folder that the written graph computes (not folded constants, not integer shape bookkeeping). */
async function computedFloatNodes(model: LoadedModel, dir: string): Promise<string[]> {
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { modelTopology: { node: { name: string; op: string }[] } }
  const proto = ModelProtoType.toObject(ModelProtoType.decode(await model.runtimeSource!.bytes())) as { graph: { node: { output: string[] }[] } }
  const produced = new Set(proto.graph.node.flatMap((n) => n.output))
  const names = json.modelTopology.node.map((n) => n.name).filter((n) => produced.has(n))
  const shape: [number, number, number, number] = [1, ...model.info.inputShape]
  const outs = tf.tidy(() => model.forward(tf.zeros(shape), names).map((t) => t.dtype))
  return names.filter((_, i) => outs[i] === 'float32')
}

/** Why the ONNX checker cannot run here (Debian's python3-onnx missing), or false. */
function onnxCheckerSkip(): string | false {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { encoding: 'utf8' })
  return probe.status === 0 ? false : `/usr/bin/python3 cannot import onnx (apt-get install python3-onnx)`
}

async function withModel<T>(dir: string, f: (m: LoadedModel) => Promise<T>): Promise<T> {
  const model = await loadModel(dir)
  try {
    return await f(model)
  } finally {
    model.dispose()
  }
}

test('the demo networks gap, gmp, fc: every layer on onnxruntime equals the tfjs executor; auto picks onnxruntime', async () => {
  for (const name of ['gap', 'gmp', 'fc']) {
    await withModel(join(DEMO, name), async (model) => {
      assert.equal(forwardExecutor(model, 'auto'), ONNX_RUNTIME_CPU)
      assert.equal(forwardFallbackReason(model), null)
      assert.equal(model.runtimeSource!.isNchw(model.runtimeSource!.output, 4), false)
      const worst = await compareLayers(model, 3, undefined, 0)
      assert.ok(worst <= 1e-4)
      // fc's Flatten fixes the input size; gap and gmp run at twice it (the class grid's size) as well.
      if (name === 'fc') assert.deepEqual(model.runtimeSource!.input.size, [64, 64])
      else await compareLayers(model, 1, [128, 128], 0)
      assert.ok(openSessions(model) > 0)
    })
  }
})

test('the written bytes: NHWC input with a dynamic batch, opset 13, every layer output a named tensor; dispose releases the sessions', async () => {
  const model = await loadModel(join(DEMO, 'gap'))
  const source = model.runtimeSource!
  const bytes = await source.bytes()
  assert.equal(await source.bytes(), bytes, 'written once')
  const proto = ModelProtoType.toObject(ModelProtoType.decode(bytes), { longs: Number }) as {
    opset_import: { version: number }[]
    graph: { input: { name: string; type: { tensor_type: { shape: { dim: { dim_value?: number; dim_param?: string }[] } } } }[]; node: { output: string[] }[] }
  }
  assert.equal(proto.opset_import[0]!.version, 13)
  const dims = proto.graph.input[0]!.type.tensor_type.shape.dim.map((d) => d.dim_param ?? d.dim_value)
  // No layer of gap fixes height and width (global pooling head): they stay free, for the class grid at other sizes.
  assert.deepEqual(dims, ['batch', 'height', 'width', 3])
  assert.deepEqual(source.input.size, [null, null])
  assert.equal(source.input.layout, 'nhwc')
  const produced = new Set(proto.graph.node.flatMap((n) => n.output))
  for (const layer of model.info.layers.slice(1)) assert.ok(produced.has(source.tensorOf(layer.name)), layer.name)
  await runOnnxRuntime(model, { data: new Float32Array(64 * 64 * 3), shape: [1, 64, 64, 3] }, ['conv_last'])
  assert.equal(openSessions(model), 1)
  model.dispose()
  assert.equal(openSessions(model), 0)
})

test('the written bytes of layers models pass the official ONNX checker with full shape inference (gap, fc, MobileNetV2)', { skip: onnxCheckerSkip() }, async () => {
  const dirs = [join(DEMO, 'gap'), join(DEMO, 'fc'), await mobileNetV2Layers(join(scratch, 'checked-mobilenetv2'), { size: 96, alpha: 0.5, classes: 7, seed: 2 })]
  const files: string[] = []
  for (const [i, dir] of dirs.entries()) {
    await withModel(dir, async (m) => {
      files.push(join(scratch, `checked-${i}.onnx`))
      await writeFile(files.at(-1)!, await m.runtimeSource!.bytes())
    })
  }
  const script = 'import onnx, sys\nfor f in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(f), full_check=True)\nprint("ok")'
  const run = spawnSync('/usr/bin/python3', ['-c', script, ...files], { encoding: 'utf8' })
  assert.equal(run.status, 0, run.stderr)
})

test('tiny CNN fixtures: a dilated conv, and an any-size model written with symbolic height / width run at two sizes', async () => {
  const dilated = await makeTinyCnn(join(scratch, 'tiny-dilated'), { dilated: true, seed: 3 })
  await withModel(dilated.dir, (m) => compareLayers(m, 2))
  const any = await makeTinyCnn(join(scratch, 'tiny-any'), { anySize: true, sidecar: true, seed: 4 })
  await withModel(any.dir, async (m) => {
    assert.deepEqual(m.runtimeSource!.input.size, [null, null])
    await compareLayers(m, 2)
    await compareLayers(m, 1, [45, 37])
  })
})

test('TF graph models: the tiny graph, the demo gap as converter output and the op zoo equal the tfjs executor', async () => {
  const tiny = await makeTinyGraphModel(join(scratch, 'tiny-graph'))
  await withModel(tiny.dir, (m) => compareLayers(m, 2))
  await withModel(await demoGapGraphModel(join(scratch, 'gap-graph'), join(DEMO, 'gap')), async (m) => {
    assert.equal(forwardExecutor(m, 'auto'), ONNX_RUNTIME_CPU)
    await compareLayers(m, 3, undefined, 0)
  })
  // Every computed node: explicit-padding conv, FusedBatchNormV3, depthwise (plain and fused Elu), the arithmetic, pads, reductions, the dynamic-batch Shape → StridedSlice → Pack → Reshape flatten, IdentityN...
  const zoo = await opZooGraphModel(join(scratch, 'zoo'))
  await withModel(zoo, async (m) => {
    const nodes = await computedFloatNodes(m, zoo)
    assert.ok(nodes.length >= 30, `${nodes.length} nodes`)
    await compareLayers(m, 3, undefined, -1, nodes)
  })
})

test('op zoo 2, every computed node (fused activations, FusedBatchNorm, AddN and the math, Split / SplitV / Unpack / Pack / Tile / GatherV2, both resizes, BatchMatMulV2, LogSoftmax) equals tfjs', async () => {
  const zoo2 = await opZoo2GraphModel(join(scratch, 'zoo2'))
  await withModel(zoo2, async (m) => {
    const nodes = await computedFloatNodes(m, zoo2)
    assert.ok(nodes.length >= 50, `${nodes.length} nodes`)
    await compareLayers(m, 3, undefined, -1, nodes)
  })
})

test('a TF op without an ONNX form (MirrorPad SYMMETRIC) gives its reason; forward work stays on tfjs, onnxruntime is refused', async () => {
  const dir = await writeGraphModel(
    join(scratch, 'symmetric'),
    [
      placeholder('image', [-1, 6, 6, 3]),
      { name: 'pad', op: 'MirrorPad', input: ['image', 'paddings'], attr: { T, mode: str('SYMMETRIC') } },
      { name: 'Relu', op: 'Relu', input: ['pad'], attr: { T } },
    ],
    { paddings: { shape: [4, 2], dtype: 'int32', values: Int32Array.from([0, 0, 1, 1, 1, 1, 0, 0]) } },
  )
  await withModel(dir, async (m) => {
    const why = m.runtimeSource!.unsupported
    assert.equal(why, 'node "pad" (op MirrorPad): mode SYMMETRIC has no ONNX form in convscope')
    assert.equal(forwardFallbackReason(m), why)
    assert.equal(forwardExecutor(m, 'auto'), `tfjs-${tf.getBackend()}`)
    assert.throws(() => forwardExecutor(m, 'onnxruntime'), /CONVSCOPE_EXECUTOR=onnxruntime: node "pad"/)
    await assert.rejects(async () => runOnnxRuntime(m, { data: new Float32Array(6 * 6 * 3), shape: [1, 6, 6, 3] }, [OUTPUT]), /onnxruntime cannot run this model/)
  })
})

test('a layers model with a layer that has no ONNX form (Conv2DTranspose): the reason names the layer, forward work stays on tfjs', async () => {
  const dir = join(scratch, 'deconv')
  const input = tf.input({ shape: [8, 8, 3], name: 'image' })
  const y = tf.layers.conv2dTranspose({ name: 'up', filters: 2, kernelSize: 3, strides: 2 }).apply(tf.layers.conv2d({ name: 'c', filters: 4, kernelSize: 3 }).apply(input)) as tf.SymbolicTensor
  const model = tf.model({ inputs: input, outputs: tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(y) as tf.SymbolicTensor })
  await mkdir(dir, { recursive: true })
  await model.save(fsIOHandler(dir))
  model.dispose()
  await withModel(dir, async (m) => {
    assert.equal(m.runtimeSource!.unsupported, 'layer "up" (Conv2DTranspose) has no ONNX form in convscope')
    assert.equal(forwardExecutor(m, 'auto'), `tfjs-${tf.getBackend()}`)
  })
})

test('a MobileNetV2 TF.js layers model (ReLU6, depthwise, batch norm, inverted residual adds, softmax head) equals the tfjs executor', async () => {
  const dir = await mobileNetV2Layers(join(scratch, 'mobilenetv2'), { size: 64, alpha: 0.35, classes: 10, seed: 9 })
  await withModel(dir, async (m) => {
    assert.ok(m.info.layers.some((l) => l.type === 'DepthwiseConv2D') && m.info.layers.some((l) => l.type === 'Add'))
    await compareLayers(m, 2)
  })
})

test('a zoo of the other written layer classes (separable, dilated, merges, geometry, activations, nested model, shared layer) equals tfjs', async () => {
  const dir = join(scratch, 'zoo-layers')
  const { model } = kerasLayerZoo({ size: [11, 13], transposedConv: false, separableDepthMultiplier: 1 })
  await mkdir(dir, { recursive: true })
  await model.save(fsIOHandler(dir))
  model.dispose()
  await withModel(dir, (m) => compareLayers(m, 2))
})
