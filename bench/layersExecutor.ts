/**
 * Forward time of the committed demo layers networks (batch 16): tfjs-layers predict vs the format-neutral
 * executor (graph/fromKerasLayers.ts), interleaved, median of 15.   node --import tsx bench/layersExecutor.ts [wasm|cpu]
 */
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { initBackend } from '../src/main/engine/backend'
import { GraphExecutor } from '../src/main/engine/graph/executor'
import { graphFromKerasLayers } from '../src/main/engine/graph/fromKerasLayers'
import { materializeWeights } from '../src/main/engine/graph/modelGraph'
import { kernelFor } from '../src/main/engine/graph/ops'
import { readModelFolder } from '../src/main/engine/models/fsIOHandler'
const backend = process.argv[2] ?? 'wasm'
await initBackend({ forced: backend })
for (const net of ['gap', 'fc']) {
  const folder = await readModelFolder(join(import.meta.dirname, '../resources/demo-models', net))
  const model = await tf.loadLayersModel({ load: async () => folder.artifacts })
  const { graph } = graphFromKerasLayers(model, net)
  const ex = new GraphExecutor(graph, materializeWeights(graph), kernelFor)
  const x = tf.randomUniform([16, 64, 64, 3], 0, 1, 'float32', 3)
  const out = graph.outputs[0]!.name
  const timed = (f: () => tf.Tensor) => () => {
    const y = f()
    y.dataSync()
    y.dispose()
  }
  const a = timed(() => model.predict(x) as tf.Tensor)
  const b = timed(() => ex.run(new Map([[graph.inputs[0]!.name, x]]), [out])[0]!)
  for (const f of [a, b, a, b]) f() // warm-up
  const ta: number[] = []
  const tb: number[] = []
  for (let i = 0; i < 15; i++) {
    for (const [f, times] of [[a, ta], [b, tb]] as const) {
      const t = performance.now()
      f()
      times.push(performance.now() - t)
    }
  }
  const med = (v: number[]) => v.sort((p, q) => p - q)[v.length >> 1]!.toFixed(1)
  console.log(`${backend} ${net} batch16: tfjs-layers ${med(ta)} ms, executor ${med(tb)} ms (median of 15, interleaved)`)
  ex.dispose()
  model.dispose()
  x.dispose()
}
