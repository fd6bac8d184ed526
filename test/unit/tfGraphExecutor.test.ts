/**
 * TF.js graph models on the format-neutral graph and executor (issue 10): graph/fromTfGraph.ts reads the
 * GraphDef, graph/ops/tf/ runs TensorFlow's ops. The independent reference is tfjs's own tf.GraphModel on the
 * same folder: for every graph-model fixture, every tensor of the graph and d(output)/d(input) must agree.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { ConvscopeError } from '../../src/shared/api'
import { OUTPUT } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { GraphExecutor } from '../../src/main/engine/graph/executor'
import { graphFromTfGraph, tfTensorName } from '../../src/main/engine/graph/fromTfGraph'
import { materializeWeights, type ModelGraph } from '../../src/main/engine/graph/modelGraph'
import { kernelFor } from '../../src/main/engine/graph/ops'
import { MAP_METHOD_NAMES, mapMethod } from '../../src/main/engine/maps'
import { fsIOHandler, readModelFolder } from '../../src/main/engine/models/fsIOHandler'
import { checkGraph } from '../../src/main/engine/models/graphDef'
import { makeTinyGraphModel, seededRandom } from '../fixtures/models'
import { demoGapGraphModel, opZoo2GraphModel, opZooGraphModel, placeholder, str, T, writeGraphModel } from '../helpers/tfGraphModels'

const ROOT = join(import.meta.dirname, '../..')
let scratch: string
const fixtures: { name: string; dir: string }[] = []

before(async () => {
  await tf.setBackend('cpu')
  scratch = await mkdtemp(join(tmpdir(), 'convscope-tfgraph-'))
  fixtures.push({ name: 'tiny graph model (fixtures/models.ts)', dir: (await makeTinyGraphModel(join(scratch, 'tiny'))).dir })
  fixtures.push({ name: 'demo gap as converter output', dir: await demoGapGraphModel(join(scratch, 'gap'), join(ROOT, 'resources/demo-models/gap')) })
  fixtures.push({ name: 'op zoo', dir: await opZooGraphModel(join(scratch, 'zoo')) })
  fixtures.push({ name: 'op zoo 2', dir: await opZoo2GraphModel(join(scratch, 'zoo2')) })
})
after(async () => {
  await rm(scratch, { recursive: true, force: true })
})

interface Opened {
  graph: ModelGraph
  executor: GraphExecutor
  model: tf.GraphModel
  input: string
  shape: number[]
}

async function open(dir: string): Promise<Opened> {
  const folder = await readModelFolder(dir)
  const graph = graphFromTfGraph({ file: folder.modelJsonPath, graphDef: checkGraph(folder.json.modelTopology, folder.modelJsonPath), artifacts: folder.artifacts })
  const executor = new GraphExecutor(graph, materializeWeights(graph), kernelFor)
  const model = await tf.loadGraphModel(fsIOHandler(dir))
  const input = graph.inputs[0]!
  return { graph, executor, model, input: input.name, shape: input.dims!.slice(1) as number[] }
}

function close(o: Opened): void {
  o.executor.dispose()
  o.model.dispose()
}

/** A seeded batch in [-1, 1]. */
function batch(n: number, shape: number[], seed = 3): tf.Tensor {
  const rand = seededRandom(seed)
  const size = n * shape.reduce((a, b) => a * b, 1)
  return tf.tensor(Float32Array.from({ length: size }, () => rand() * 2 - 1), [n, ...shape])
}

/** |a - b| ≤ tol · max(1, max |b|), elementwise, same shape. */
function assertClose(a: tf.Tensor, b: tf.Tensor, what: string, tol = 1e-5): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`)
  const x = a.dataSync()
  const y = b.dataSync()
  let scale = 1
  for (const v of y) scale = Math.max(scale, Math.abs(v))
  let worst = 0
  for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!))
  assert.ok(worst <= tol * scale, `${what}: max |difference| ${worst} > ${tol} × ${scale}`)
}

/** Every tensor a node computes (NoOp computes none). */
const computed = (g: ModelGraph) => g.nodes.flatMap((n) => n.outputs)

test('every node output of the executor equals tf.GraphModel.execute, batch of 1 and of 2', async () => {
  for (const { name, dir } of fixtures) {
    const o = await open(dir)
    try {
      const names = computed(o.graph)
      assert.ok(names.length >= 5, `${name}: ${names.length} tensors`)
      for (const n of [1, 2]) {
        const x = batch(n, o.shape)
        const ours = o.executor.run(new Map([[o.input, x]]), names)
        const theirs = o.model.execute(x, names) as tf.Tensor[]
        names.forEach((t, i) => assertClose(ours[i]!, theirs[i]!, `${name}, batch ${n}, "${t}"`))
        tf.dispose([x, ...ours, ...theirs])
      }
    } finally {
      close(o)
    }
  }
})

test('the gradient of an output with respect to the input equals tf.grad through tf.GraphModel.execute', async () => {
  for (const { name, dir } of fixtures) {
    const o = await open(dir)
    try {
      // The output, and the logits under its softmax (a saturated softmax has a zero gradient, which checks nothing).
      const logits = o.graph.nodes.findLast((n) => n.opType === 'Softmax')!.inputs[0]!
      for (const out of [o.graph.outputs[0]!.name, logits]) {
        const x = batch(1, o.shape, 5) // one image: batches are checked above, and backprop on the cpu backend is slow
        const probe = o.model.execute(x, out) as tf.Tensor
        // A seeded weighting of the output, so every output element contributes a different amount.
        const w = batch(1, probe.shape.slice(1), 9)
        const ours = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(o.executor.run(new Map([[o.input, v]]), [out])[0]!, w)))(x)
        const theirs = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(o.model.execute(v, out) as tf.Tensor, w)))(x)
        if (out === logits) assert.ok(tf.max(tf.abs(theirs)).dataSync()[0]! > 0, `${name}: a zero gradient checks nothing`)
        assertClose(ours, theirs, `${name}: d ${out} / d input`, 1e-5)
        tf.dispose([x, probe, w, ours, theirs])
      }
    } finally {
      close(o)
    }
  }
})

test('feeding an inner tensor replaces it: downstream values equal tf.GraphModel fed the same tensor', async () => {
  const o = await open(fixtures[1]!.dir)
  try {
    const inner = o.graph.nodes[2]!.outputs[0]! // after the first AvgPool
    const out = o.graph.outputs[0]!.name
    const x = batch(2, o.shape)
    const replaced = tf.tidy(() => tf.relu(batch(2, (o.model.execute(x, inner) as tf.Tensor).shape.slice(1), 4)))
    const [ours] = o.executor.run(new Map([[o.input, x], [inner, replaced]]), [out])
    const theirs = o.model.execute({ [o.input]: x, [inner]: replaced }, out) as tf.Tensor
    assertClose(ours!, theirs, `${out} with "${inner}" fed`)
    const [plain] = o.executor.run(new Map([[o.input, x]]), [out])
    assert.ok(tf.max(tf.abs(tf.sub(plain!, ours!))).dataSync()[0]! > 1e-4, 'the replacement changed nothing')
    tf.dispose([x, replaced, ours!, theirs, plain!])
  } finally {
    close(o)
  }
})

test('tensor names: "node" and "node:0" are output 0, "node:k" output k; control inputs only order', async () => {
  assert.equal(tfTensorName('conv/Relu'), 'conv/Relu')
  assert.equal(tfTensorName('conv/Relu:0'), 'conv/Relu')
  assert.equal(tfTensorName('ids:1'), 'ids:1')
  const o = await open(fixtures[2]!.dir)
  try {
    const ids = o.graph.byName.get('ids')!
    assert.deepEqual(ids.outputs, ['ids', 'ids:1'])
    const softmax = o.graph.byName.get('probs/Softmax')!
    assert.deepEqual(softmax.inputs, ['dense/BiasAdd'])
    assert.deepEqual(o.graph.byName.get('init')!.outputs, [])
    assert.deepEqual(o.graph.outputs.map((t) => t.name), ['probs/Softmax'])
    assert.equal(o.graph.initializers.has('stem/kernel'), true)
    assert.equal(o.graph.byName.has('stem/kernel'), false, 'Const nodes are weights, not nodes')
  } finally {
    close(o)
  }
})

test('an op without a kernel is refused at open, naming the op and the node', async () => {
  const dir = await writeGraphModel(join(scratch, 'unknown'), [placeholder('x', [-1, 4, 4, 3]), { name: 'block/Fft', op: 'FFT2D', input: ['x'], attr: { Tcomplex: T } }], {})
  const folder = await readModelFolder(dir)
  const graph = graphFromTfGraph({ file: folder.modelJsonPath, graphDef: checkGraph(folder.json.modelTopology, folder.modelJsonPath), artifacts: folder.artifacts })
  assert.throws(
    () => new GraphExecutor(graph, materializeWeights(graph), kernelFor),
    (e: unknown) => e instanceof ConvscopeError && e.code === 'UNSUPPORTED_OP' && e.message.includes('tf.FFT2D') && e.message.includes('"block/Fft"'),
  )
})

test('an attribute form a kernel does not implement is UNSUPPORTED_OP naming it (NCHW pooling)', async () => {
  const dir = await writeGraphModel(
    join(scratch, 'nchw'),
    [placeholder('x', [-1, 4, 4, 3]), { name: 'pool', op: 'MaxPool', input: ['x'], attr: { T, ksize: { list: { i: ['1', '1', '2', '2'] } }, strides: { list: { i: ['1', '1', '2', '2'] } }, padding: str('VALID'), data_format: str('NCHW') } }],
    {},
  )
  const o = await open(dir)
  try {
    assert.throws(
      () => o.executor.run(new Map([[o.input, tf.zeros([1, 4, 4, 3])]]), ['pool']),
      (e: unknown) => e instanceof ConvscopeError && e.code === 'UNSUPPORTED_OP' && e.message.includes('data_format NCHW') && e.message.includes('"pool"'),
    )
  } finally {
    close(o)
  }
})

test('the demo gap graph (converter form, batch norm folded) computes what the layers model computes', async () => {
  const o = await open(fixtures[1]!.dir)
  const layers = await tf.loadLayersModel(fsIOHandler(join(ROOT, 'resources/demo-models/gap')))
  try {
    const x = tf.tidy(() => batch(2, o.shape).add(1).div(2))
    const [ours] = o.executor.run(new Map([[o.input, x]]), [o.graph.outputs[0]!.name])
    const reference = layers.predict(x) as tf.Tensor
    assertClose(ours!, reference, 'demo gap probabilities', 1e-4)
    tf.dispose([x, ours!, reference])
  } finally {
    close(o)
    layers.dispose()
  }
})

test('StopGradient passes the value and stops the gradient, as TensorFlow defines it (hand-checked: d/dx Σ stop(x)·x = x)', async () => {
  const dir = await writeGraphModel(
    join(scratch, 'stop'),
    [placeholder('x', [-1, 2, 2, 1]), { name: 'stop', op: 'StopGradient', input: ['x'], attr: { T } }, { name: 'y', op: 'Mul', input: ['stop', 'x'], attr: { T } }],
    {},
  )
  const o = await open(dir)
  try {
    const x = tf.tensor4d([1, -2, 3, 0.5], [1, 2, 2, 1])
    const [y] = o.executor.run(new Map([[o.input, x]]), ['y'])
    assert.deepEqual(Array.from(y!.dataSync()), [1, 4, 9, 0.25])
    const g = tf.grad((v: tf.Tensor) => tf.sum(o.executor.run(new Map([[o.input, v]]), ['y'])[0]!))(x)
    assert.deepEqual(Array.from(g.dataSync()), [1, -2, 3, 0.5])
    tf.dispose([x, y!, g])
  } finally {
    close(o)
  }
})

test('loadModel on graph models: forward of every row equals tf.GraphModel, and dispose leaves no tensor behind', async () => {
  for (const { name, dir } of fixtures) {
    const before = tf.memory().numTensors
    const model = await loadModel(dir)
    const reference = await tf.loadGraphModel(fsIOHandler(dir))
    try {
      // A graph model's rows are named by the node they show.
      const rows = model.info.layers.filter((l) => l.kind !== 'input').map((l) => l.name)
      assert.ok(rows.length >= 3, `${name}: rows ${rows.join(', ')}`)
      const x = batch(2, [...model.info.inputShape])
      const ours = model.forward(x as tf.Tensor4D, [...rows, OUTPUT])
      const theirs = reference.execute(x, [...rows, reference.outputNodes[0]!]) as tf.Tensor[]
      ours.forEach((t, i) => assertClose(t, theirs[i]!, `${name}, row ${[...rows, 'output'][i]}`))
      tf.dispose([x, ...ours, ...theirs])
    } finally {
      model.dispose()
      reference.dispose()
    }
    assert.equal(tf.memory().numTensors, before, `${name}: tensors left after dispose`)
  }
})

test('class maps of the demo gap network: CAM, Grad-CAM, Grad-CAM++, HiResCAM give the same maps from its graph form (executor) as from its layers form', async () => {
  const graph = await loadModel(fixtures[1]!.dir)
  const layers = await loadModel(join(ROOT, 'resources/demo-models/gap'))
  const x = tf.tidy(() => batch(1, [64, 64, 3], 13).add(1).div(2)) as tf.Tensor4D
  try {
    // backprop (d score / d pixels) is left out: 20 s on the cpu backend here, and the input gradient is checked above.
    for (const name of MAP_METHOD_NAMES.filter((n) => n !== 'backprop')) {
      const [ours, theirs] = [await mapMethod(name).compute(graph, x, [0, 5, 13]), await mapMethod(name).compute(layers, x, [0, 5, 13])]
      assert.equal(ours.maps.length, 3, name)
      ours.maps.forEach((m, i) => {
        const want = theirs.maps[i]!
        assert.equal(m.classIndex, want.classIndex)
        assertClose(tf.tensor(m.values), tf.tensor(want.values), `${name}, class ${m.classIndex}`, 1e-4)
      })
    }
  } finally {
    x.dispose()
    graph.dispose()
    layers.dispose()
  }
})
