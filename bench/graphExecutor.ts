/**
 * Forward time of a TF.js graph model: tfjs's own tf.GraphModel.execute vs convscope's graph executor
 * (graph/fromTfGraph.ts + graph/ops/tf/), same process, same backend, same input.
 *
 *   node --import tsx bench/graphExecutor.ts [--backend wasm|cpu] [--batch 16] [--repeats 5]
 *
 * The model is the demo `gap` network written as the TF.js converter writes a Keras classifier
 * (test/helpers/tfGraphModels.ts: batch norm folded, _FusedConv2D / _FusedMatMul), input 64×64.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as tf from '@tensorflow/tfjs'
import { initBackend } from '../src/main/engine/backend'
import { GraphExecutor } from '../src/main/engine/graph/executor'
import { graphFromTfGraph } from '../src/main/engine/graph/fromTfGraph'
import { materializeWeights } from '../src/main/engine/graph/modelGraph'
import { kernelFor } from '../src/main/engine/graph/ops'
import { fsIOHandler, readModelFolder } from '../src/main/engine/models/fsIOHandler'
import { checkGraph } from '../src/main/engine/models/graphDef'
import { demoGapGraphModel } from '../test/helpers/tfGraphModels'

const { values } = parseArgs({ options: { backend: { type: 'string', default: 'wasm' }, batch: { type: 'string', default: '16' }, repeats: { type: 'string', default: '5' } } })
const batch = Number(values.batch)
const repeats = Number(values.repeats)

async function main(): Promise<void> {
  const report = await initBackend({ forced: values.backend })
  const dir = await mkdtemp(join(tmpdir(), 'convscope-bench-graph-'))
  try {
    await demoGapGraphModel(dir, join(import.meta.dirname, '../resources/demo-models/gap'))
    const folder = await readModelFolder(dir)
    const graph = graphFromTfGraph({ file: folder.modelJsonPath, graphDef: checkGraph(folder.json.modelTopology, folder.modelJsonPath), artifacts: folder.artifacts })
    const executor = new GraphExecutor(graph, materializeWeights(graph), kernelFor)
    const model = await tf.loadGraphModel(fsIOHandler(dir))
    const x = tf.randomUniform([batch, 64, 64, 3])
    const out = graph.outputs[0]!.name
    const runs: Record<string, () => tf.Tensor> = {
      'tf.GraphModel.execute': () => model.execute(x, out) as tf.Tensor,
      'GraphExecutor.run': () => executor.run(new Map([['input', x]]), [out])[0]!,
    }
    const times: Record<string, number[]> = {}
    for (const name of Object.keys(runs)) (await runs[name]!().data(), (times[name] = [])) // warm-up
    for (let r = 0; r < repeats; r++) {
      // Alternate, so drift (thermal, GC) hits both.
      for (const [name, run] of Object.entries(runs)) {
        const t0 = performance.now()
        const y = run()
        await y.data()
        times[name]!.push(performance.now() - t0)
        y.dispose()
      }
    }
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!
    console.log(`backend ${tf.getBackend()} (${JSON.stringify(report).slice(0, 120)}), batch ${batch}, ${repeats} repeats`)
    for (const [name, v] of Object.entries(times)) console.log(`${name.padEnd(24)} median ${median(v).toFixed(1)} ms  [${v.map((t) => t.toFixed(0)).join(', ')}]`)
    x.dispose()
    executor.dispose()
    model.dispose()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

void main()
