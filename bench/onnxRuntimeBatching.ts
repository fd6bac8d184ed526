/**
 * What an image's values on onnxruntime depend on besides the image (the finding in executors/onnxRuntime.ts's
 * header): the batch size, its place in the batch, its neighbours' content, the intra-op thread count.
 *
 *   OMP_NUM_THREADS=1 node --import tsx bench/onnxRuntimeBatching.ts [--models gap,resnet18] [--side 64]
 *                                       [--sizes 1,2,3,5,16,17] [--last 0] [--out FILE]
 *
 * Per model (gap, gmp, fc: resources/demo-models, TF.js written as ONNX; gaponnx: the PyTorch port,
 * test/.cache/demo-onnx/gap; resnet18, mobilenet_v2: test/.cache/torchvision; nsfw: nsfwjs's MobileNetV2, TF.js),
 * an image X of seeded values, every scan layer ([h, w, c] or [units]; --last N: the last N) and the output, both as
 * full maps (runOnnxRuntime run as it is: what onnxruntime itself does) and as a scan's graph maxima
 * (runOnnxRuntimeMaxima, max values only, with the fix: a lone image runs beside a copy of itself),
 * X's values compared bit for bit: X first in batches of each size against X alone and in a batch of 16; X at places
 * 1-15 of a batch of 16; the 15 neighbours of other seeds, zeros, copies of X. The thread count is the process's
 * (OMP_NUM_THREADS, executors/onnxRuntime.ts runtimeThreads): run it twice and compare the `digest`s, which hash X's
 * values alone and in a batch of 16. Writes the differing counts and the layers they are in as JSON.
 */
import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { initBackend } from '../src/main/engine/backend'
import { runOnnxRuntime, runOnnxRuntimeMaxima, runtimeThreads, type MaximaLayer } from '../src/main/engine/executors/onnxRuntime'
import { OUTPUT, type LoadedModel } from '../src/main/engine/model'
import { loadModel } from '../src/main/engine/models/loadModel'
import { Rng } from '../src/main/engine/rng'
import { thirdPartyMobileNetV2 } from '../test/helpers/thirdPartyMobileNet'
import { gitCommit } from './gitCommit'

const ROOT = resolve(import.meta.dirname, '..')
const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'gap,gmp,fc,gaponnx,resnet18,mobilenet_v2' },
    side: { type: 'string' },
    sizes: { type: 'string', default: '1,2,3,4,5,8,15,16,17,32' },
    last: { type: 'string', default: '0' },
    out: { type: 'string' },
  },
})
const log = (s: string) => process.stderr.write(s + '\n')
const DIRS: Record<string, string> = {
  gap: join(ROOT, 'resources/demo-models/gap'),
  gmp: join(ROOT, 'resources/demo-models/gmp'),
  fc: join(ROOT, 'resources/demo-models/fc'),
  gaponnx: join(ROOT, 'test/.cache/demo-onnx/gap'),
  resnet18: join(ROOT, 'test/.cache/torchvision/resnet18'),
  mobilenet_v2: join(ROOT, 'test/.cache/torchvision/mobilenet_v2'),
  nsfw: join(ROOT, '.cache/bench/nsfwjs-mobilenet_v2'),
}

type Rows = Float32Array[]
interface Compared {
  differ: number
  of: number
  layers: string[]
}

async function study(name: string): Promise<object> {
  if (name === 'nsfw') await thirdPartyMobileNetV2(DIRS.nsfw!)
  const model: LoadedModel = await loadModel(DIRS[name]!)
  try {
    const side = Number(values.side) || model.info.inputShape[0]
    const shape = [side, side, model.info.inputShape[2]] as const
    const size = shape[0] * shape[1] * shape[2]
    const image = (seed: number) => {
      const rng = Rng.from('onnxRuntimeBatching', seed)
      return Float32Array.from({ length: size }, () => rng.uniform(-1, 1))
    }
    const others = (n: number, seed: number) => Array.from({ length: n }, (_, i) => image(seed + i))
    const x = image(777)
    const all = model.info.layers.filter((l) => l.outputShape.length === 3 || l.outputShape.length === 1).map((l) => l.name)
    const names = Number(values.last) > 0 ? all.slice(-Number(values.last)) : all
    const probe = await runOnnxRuntime(model, { data: x, shape: [1, ...shape] }, names)
    const maximaLayers: MaximaLayer[] = names.map((n, i) => {
      const s = probe.layers[i]!.shape
      return s.length === 4 ? { name: n, height: s[1]!, width: s[2]!, units: s[3]! } : { name: n, height: 1, width: 1, units: s[1]! }
    })
    /** Image `at`'s values of every fetched tensor, from one run of `batch`. */
    const rowsOf = async (batch: Float32Array[], at: number, kind: 'maps' | 'maxima'): Promise<Rows> => {
      const data = new Float32Array(batch.length * size)
      batch.forEach((b, i) => data.set(b, i * size))
      const input = { data, shape: [batch.length, ...shape] }
      const per = (a: Float32Array) => a.slice((a.length / batch.length) * at, (a.length / batch.length) * (at + 1))
      if (kind === 'maxima') return (await runOnnxRuntimeMaxima(model, input, maximaLayers)).map((m) => per(m.max))
      const r = await runOnnxRuntime(model, input, [...names, OUTPUT])
      return [...r.layers, r.output].map((v) => per(v.data))
    }
    const compare = (a: Rows, b: Rows): Compared => {
      const c: Compared = { differ: 0, of: 0, layers: [] }
      a.forEach((row, i) => {
        let d = 0
        row.forEach((v, j) => (d += v === b[i]![j] ? 0 : 1))
        c.differ += d
        c.of += row.length
        if (d) c.layers.push([...names, 'output'][i]!)
      })
      return c
    }
    const result: Record<string, object> = {}
    for (const kind of ['maps', 'maxima'] as const) {
      const alone = await rowsOf([x], 0, kind)
      const in16 = await rowsOf([x, ...others(15, 1)], 0, kind)
      const sizes: Record<string, { vsAlone: Compared; vs16: Compared }> = {}
      for (const n of values.sizes.split(',').map(Number)) {
        const rows = await rowsOf([x, ...others(n - 1, 1)], 0, kind)
        sizes[n] = { vsAlone: compare(rows, alone), vs16: compare(rows, in16) }
      }
      const places: Record<string, Compared> = {}
      for (const at of [1, 2, 7, 8, 15]) {
        const batch = others(16, 1)
        batch[at] = x
        places[at] = compare(await rowsOf(batch, at, kind), in16)
      }
      const neighbours = {
        seed100: compare(await rowsOf([x, ...others(15, 100)], 0, kind), in16),
        zeros: compare(await rowsOf([x, ...others(15, 0).map(() => new Float32Array(size))], 0, kind), in16),
        copies: compare(await rowsOf(Array.from({ length: 16 }, () => x), 0, kind), in16),
      }
      const digest = createHash('sha256')
      for (const r of [...alone, ...in16]) digest.update(new Uint8Array(r.buffer))
      result[kind] = { sizes, places, neighbours, digest: digest.digest('hex').slice(0, 16) }
      const odd = Object.entries(sizes).filter(([, s]) => s.vs16.differ > 0).map(([n, s]) => `${n} (${s.vs16.differ} values in ${s.vs16.layers.join(', ')})`)
      const moved = [...Object.values(places), ...Object.values(neighbours)].filter((c) => c.differ > 0).length
      log(`${name} ${kind} ${side}², ${runtimeThreads()} thread(s): batch sizes unlike 16: ${odd.join('; ') || 'none'}; places / neighbours that change X: ${moved}`)
    }
    return { model: name, side, layers: names.length, ...result }
  } finally {
    model.dispose()
  }
}

async function main(): Promise<void> {
  await initBackend({})
  const load1Before = loadavg()[0]
  const studies = []
  for (const name of values.models.split(',')) studies.push(await study(name))
  const result = {
    bench: 'onnxRuntimeBatching',
    date: new Date().toISOString(),
    commit: gitCommit(),
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    threads: runtimeThreads(),
    load1: [load1Before, loadavg()[0]],
    studies,
  }
  const out = values.out ?? join(ROOT, 'bench/results', `onnxRuntimeBatching-${result.date.slice(0, 10)}-t${result.threads}.json`)
  await mkdir(join(out, '..'), { recursive: true })
  await writeFile(out, JSON.stringify(result, null, 1) + '\n')
  log(`wrote ${out}`)
}

await main()
