/**
 * Train the demo networks on the generated demo dataset and write them to resources/demo-models.
 *
 *   npm run train:demo [-- --nets gap,gmp,fc --epochs N --data DIR --out DIR --seed S --backend wasm --jobs J]
 *
 * Generates the dataset into --data if it is missing (resumes a partial one), decodes it once into memory
 * with the engine's own image reading and preprocessing, trains each network, evaluates it on the held-out
 * val split, and saves model.json + shards, convscope.json, labels.txt, training.json and curves.svg per
 * network, then training-curves.svg and README.md for all of them. --jobs 2 trains two networks at once in
 * child processes (wasm runs on one thread, so each process uses one core): gap first, then gmp and fc,
 * which start from gap's trunk, side by side.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import * as tf from '@tensorflow/tfjs'
import { Preprocessing } from '../src/shared/api'
import { initBackend } from '../src/main/engine/backend'
import { DEMO_GENERATOR_VERSION, generateDemoDataset } from '../src/main/engine/demo'
import { fsIOHandler } from '../src/main/engine/models/fsIOHandler'
import { buildDemoNet, copyLowerTrunk, DEMO_NET_KINDS, type DemoNetKind, type DemoNetSpec } from '../src/main/training/architectures'
import { trainingCurvesSvg } from '../src/main/training/curves'
import { loadSplit, readClassIndex } from '../src/main/training/dataset'
import { DEMO_RECIPE } from '../src/main/training/recipe'
import { saveDemoNet, TRAINING_JSON, type TrainingRecord } from '../src/main/training/save'
import { evaluate, trainNet } from '../src/main/training/train'

const root = resolve(import.meta.dirname, '..')
const usage = `usage: npm run train:demo -- [options]

  --nets LIST            networks to train: gap,gmp,fc (default all three)
  --epochs N             epochs for every network (default: per network, ${JSON.stringify(DEMO_RECIPE.epochs)})
  --data DIR             demo dataset folder, generated if missing (default .cache/demo-data)
  --out DIR              where the model folders go (default resources/demo-models)
  --seed S               training seed: initial weights, shuffling, augmentation (default ${DEMO_RECIPE.seed})
  --data-seed S          dataset seed (default ${DEMO_RECIPE.data.seed})
  --train-per-class N    training images per class (default ${DEMO_RECIPE.data.trainPerClass})
  --val-per-class N      held-out images per class (default ${DEMO_RECIPE.data.valPerClass})
  --backend NAME         TensorFlow.js backend (default wasm)
  --jobs J               networks trained at once, one process each (default 1); gap always finishes
                         before gmp and fc start, as they start from its trunk
  --lr X                 peak learning rate for every network (default: per network, ${JSON.stringify(DEMO_RECIPE.learningRate)})
  --batch N              batch size (default ${DEMO_RECIPE.batchSize})
  --spec JSON            override architecture settings for experiments, e.g. '{"widths":[16,32,64,128]}'
  --bench                only measure: training and inference images/s of each network on random inputs`

const { values } = parseArgs({
  options: {
    nets: { type: 'string', default: DEMO_NET_KINDS.join(',') },
    epochs: { type: 'string' },
    data: { type: 'string', default: join(root, '.cache/demo-data') },
    out: { type: 'string', default: join(root, 'resources/demo-models') },
    seed: { type: 'string', default: String(DEMO_RECIPE.seed) },
    'data-seed': { type: 'string', default: String(DEMO_RECIPE.data.seed) },
    'train-per-class': { type: 'string', default: String(DEMO_RECIPE.data.trainPerClass) },
    'val-per-class': { type: 'string', default: String(DEMO_RECIPE.data.valPerClass) },
    backend: { type: 'string', default: 'wasm' },
    jobs: { type: 'string', default: '1' },
    lr: { type: 'string' },
    batch: { type: 'string', default: String(DEMO_RECIPE.batchSize) },
    spec: { type: 'string' },
    bench: { type: 'boolean', default: false },
    // Internal: set for the child processes of --jobs.
    child: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (values.help) {
  console.log(usage)
  process.exit(0)
}

const int = (name: string, raw: string | undefined, min: number): number => {
  const v = Number(raw)
  if (!Number.isInteger(v) || v < min) {
    console.error(`trainDemo: --${name} must be an integer ≥ ${min}, got "${raw}"\n\n${usage}`)
    process.exit(2)
  }
  return v
}
const nets = values.nets.split(',').map((s) => s.trim()).filter(Boolean) as DemoNetKind[]
for (const n of nets) {
  if (!DEMO_NET_KINDS.includes(n)) {
    console.error(`trainDemo: unknown network "${n}"; use ${DEMO_NET_KINDS.join(', ')}`)
    process.exit(2)
  }
}
const epochsFlag = values.epochs === undefined ? undefined : int('epochs', values.epochs, 1)
const seed = int('seed', values.seed, 0)
const dataSeed = int('data-seed', values['data-seed'], 0)
const trainPerClass = int('train-per-class', values['train-per-class'], 1)
const valPerClass = int('val-per-class', values['val-per-class'], 1)
const jobs = int('jobs', values.jobs, 1)
const batchSize = int('batch', values.batch, 1)
const learningRateFlag = values.lr === undefined ? undefined : Number(values.lr)
if (learningRateFlag !== undefined && !(learningRateFlag > 0)) {
  console.error(`trainDemo: --lr must be a positive number, got "${values.lr}"`)
  process.exit(2)
}
const dataDir = resolve(values.data)
const outDir = resolve(values.out)
const started = performance.now()
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`

// ---------------------------------------------------------------------------------------------------
// --bench: throughput only
// ---------------------------------------------------------------------------------------------------

if (values.bench) {
  await bench()
  process.exit(0)
}

// ---------------------------------------------------------------------------------------------------
// Dataset
// ---------------------------------------------------------------------------------------------------

if (!values.child) {
  console.log(`dataset: ${relative(process.cwd(), dataDir) || '.'} (seed ${dataSeed}, ${DEMO_RECIPE.data.imageSize}px, ${trainPerClass} train + ${valPerClass} val per class)`)
  let last = 0
  const summary = await generateDemoDataset({
    out: dataDir,
    count: { train: trainPerClass, val: valPerClass },
    size: DEMO_RECIPE.data.imageSize,
    seed: dataSeed,
    onProgress: (done, total) => {
      if (performance.now() - last > 5000 || done === total) {
        last = performance.now()
        process.stdout.write(`  generating ${done}/${total}\n`)
      }
    },
  })
  console.log(`  ${summary.rendered} images generated, ${summary.skipped} already there (${summary.seconds.toFixed(1)} s)`)
}

// ---------------------------------------------------------------------------------------------------
// Several networks at once: one child process per network
// ---------------------------------------------------------------------------------------------------

if (!values.child && jobs > 1 && nets.length > 1) {
  const queue = [...nets]
  const passThrough = process.argv.slice(2).filter((_, i, all) => all[i] !== '--nets' && all[i - 1] !== '--nets' && !all[i]!.startsWith('--nets='))
  const runChild = (net: DemoNetKind) =>
    new Promise<void>((resolvePromise, reject) => {
      const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...passThrough, '--nets', net, '--child'], { stdio: ['ignore', 'pipe', 'inherit'] })
      let pending = ''
      child.stdout.on('data', (chunk: Buffer) => {
        pending += chunk.toString()
        const lines = pending.split('\n')
        pending = lines.pop()!
        for (const line of lines) console.log(line)
      })
      child.on('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`training ${net} failed (exit code ${code})`))))
    })
  // Donors first (gap), then the networks that start from their trunk, each phase `jobs` at a time.
  const phases = [queue.filter((n) => DEMO_RECIPE.initFrom[n] === null), queue.filter((n) => DEMO_RECIPE.initFrom[n] !== null)]
  for (const phase of phases) {
    const workers = Array.from({ length: Math.min(jobs, phase.length) }, async () => {
      for (let net = phase.shift(); net; net = phase.shift()) await runChild(net)
    })
    await Promise.all(workers)
  }
  await writeSummary()
  console.log(`all done in ${elapsed()}`)
  process.exit(0)
}

// ---------------------------------------------------------------------------------------------------
// Training in this process
// ---------------------------------------------------------------------------------------------------

const report = await initBackend({ forced: values.backend })
const tag = nets.length === 1 ? `[${nets[0]}] ` : ''
console.log(`${tag}backend ${report.active}: ${report.attempts.find((a) => a.name === report.active)?.reason ?? ''}`)

const spec0 = { ...DEMO_RECIPE.spec, ...(values.spec ? (JSON.parse(values.spec) as Partial<DemoNetSpec>) : {}) }
const preprocessing = Preprocessing.parse({ inputSize: [spec0.inputSize, spec0.inputSize], range: [0, 1], resize: 'stretch' })
const classIndex = await readClassIndex(dataDir)
const loadStarted = performance.now()
const train = await loadSplit(dataDir, 'train', classIndex, preprocessing, { perClass: trainPerClass })
const val = await loadSplit(dataDir, 'val', classIndex, preprocessing, { perClass: valPerClass })
console.log(`${tag}decoded ${train.count} train + ${val.count} val images at ${spec0.inputSize}² in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s`)

const tfjsVersion = (tf.version as Record<string, string>)['tfjs'] ?? tf.version_core
/** Networks trained in this run, as donors for the ones that start from another's trunk. */
const trained = new Map<DemoNetKind, tf.LayersModel>()
// Donors first: gap before the networks that start from its trunk.
const ordered = [...nets].sort((a, b) => Number(DEMO_RECIPE.initFrom[a] !== null) - Number(DEMO_RECIPE.initFrom[b] !== null))
for (const kind of ordered) {
  const spec: DemoNetSpec = { ...spec0, kind, classes: classIndex.ids.length, seed }
  const epochs = epochsFlag ?? DEMO_RECIPE.epochs[kind]
  const learningRate = learningRateFlag ?? DEMO_RECIPE.learningRate[kind]
  const net = buildDemoNet(spec)
  const t = `[${kind}] `
  const donorKind = DEMO_RECIPE.initFrom[kind]
  let initializedFrom: string | null = null
  if (donorKind) {
    const donor = trained.get(donorKind) ?? (await loadDonor(donorKind))
    const copied = copyLowerTrunk(donor, net.model)
    if (!trained.has(donorKind)) donor.dispose()
    initializedFrom = `${donorKind}: ${copied.join(', ')} (conv_last and the head start fresh)`
    console.log(`${t}starts from the trained ${donorKind} network's layers below conv_last (${copied.length} layers)`)
  }
  console.log(`${t}${net.model.countParams().toLocaleString('en')} parameters, ${epochs} epochs of ${Math.floor(train.count / batchSize)} steps (batch ${batchSize}, peak learning rate ${learningRate})`)
  const trainStarted = performance.now()
  let lastLog = performance.now()
  let stepStarted = performance.now()
  const history = trainNet(net, train, val, preprocessing, {
    epochs,
    batchSize,
    learningRate,
    warmupEpochs: DEMO_RECIPE.warmupEpochs,
    augmentation: DEMO_RECIPE.augmentation,
    seed,
    onStep: (step, steps, loss) => {
      if (performance.now() - lastLog > 30_000) {
        const rate = ((step % Math.floor(train.count / batchSize) || 1) * batchSize) / ((performance.now() - stepStarted) / 1000)
        console.log(`${t}  step ${step}/${steps}  loss ${loss.toFixed(3)}  ${rate.toFixed(1)} img/s  (${elapsed()})`)
        lastLog = performance.now()
      }
    },
    onEpoch: (e) => {
      stepStarted = performance.now()
      console.log(
        `${t}epoch ${e.epoch}/${epochs}  lr ${e.learningRate.toExponential(1)}  train loss ${e.trainLoss.toFixed(3)} top-1 ${(e.trainTop1 * 100).toFixed(1)}%` +
          `  val loss ${e.valLoss.toFixed(3)} top-1 ${(e.valTop1 * 100).toFixed(1)}% top-5 ${(e.valTop5 * 100).toFixed(1)}%` +
          `  ${e.seconds.toFixed(0)} s (${((train.count - (train.count % batchSize)) / e.trainSeconds).toFixed(1)} img/s)`,
      )
    },
  })
  const seconds = (performance.now() - trainStarted) / 1000
  const trainSeconds = history.reduce((a, e) => a + e.trainSeconds, 0)
  const final = evaluate(net, val, preprocessing)
  const record = await saveDemoNet(net, join(outDir, kind), {
    preprocessing,
    labels: classIndex.names,
    final,
    record: {
      network: kind,
      spec,
      dataset: {
        generator: 'convscope-demo',
        version: DEMO_GENERATOR_VERSION,
        seed: dataSeed,
        imageSize: DEMO_RECIPE.data.imageSize,
        trainPerClass,
        valPerClass,
        classes: classIndex.ids.length,
      },
      training: {
        epochs,
        batchSize,
        optimizer: 'adam (beta1 0.9, beta2 0.999, epsilon 1e-7)',
        learningRate,
        warmupEpochs: DEMO_RECIPE.warmupEpochs,
        schedule: 'linear warm-up, then cosine decay to 0, per step',
        augmentation: DEMO_RECIPE.augmentation,
        seed,
        initializedFrom,
      },
      environment: { backend: report.active, tfjs: tfjsVersion, node: process.version, platform: `${process.platform}-${process.arch}`, cpu: cpus()[0]?.model ?? 'unknown' },
      seconds,
      trainImagesPerSecond: (history.length * (train.count - (train.count % batchSize))) / trainSeconds,
      history,
    },
  })
  console.log(
    `${t}saved ${relative(process.cwd(), join(outDir, kind))}: val top-1 ${(final.top1 * 100).toFixed(1)}% top-5 ${(final.top5 * 100).toFixed(1)}%, ` +
      `${(record.modelBytes / 1e6).toFixed(2)} MB, trained in ${(seconds / 60).toFixed(1)} min`,
  )
  if (DEMO_NET_KINDS.some((k) => DEMO_RECIPE.initFrom[k] === kind)) trained.set(kind, net.model)
  else net.model.dispose()
}
for (const model of trained.values()) model.dispose()

if (!values.child) {
  await writeSummary()
  console.log(`all done in ${elapsed()}`)
}

/** A network trained earlier, from --out, to start another from its trunk. */
async function loadDonor(kind: DemoNetKind): Promise<tf.LayersModel> {
  const dir = join(outDir, kind)
  if (!existsSync(join(dir, 'model.json'))) {
    console.error(`trainDemo: the ${kind} network starts the others' trunks; train it first (--nets ${kind}) or together with them`)
    process.exit(2)
  }
  return tf.loadLayersModel(fsIOHandler(dir))
}

/** Train steps and inference on random inputs: images per second, as the training loop runs them. */
async function bench(): Promise<void> {
  const report = await initBackend({ forced: values.backend })
  const spec0 = { ...DEMO_RECIPE.spec, ...(values.spec ? (JSON.parse(values.spec) as Partial<DemoNetSpec>) : {}) }
  console.log(`backend ${report.active}; batch ${batchSize}; input ${spec0.inputSize}²; widths ${JSON.stringify(spec0.widths)}, convs per block ${JSON.stringify(spec0.convsPerBlock)}, ${spec0.pooling} pooling, batch norm ${spec0.batchNorm}`)
  for (const kind of nets) {
    const net = buildDemoNet({ ...spec0, kind, classes: 14, seed })
    const optimizer = tf.train.adam(learningRateFlag ?? DEMO_RECIPE.learningRate[kind])
    const variables = net.logitsModel.trainableWeights.map((w) => w.read() as tf.Variable)
    const s = spec0.inputSize
    const x = tf.randomUniform([batchSize, s, s, 3], 0, 1, 'float32', seed)
    const y = tf.oneHot(tf.tensor1d(Array.from({ length: batchSize }, (_, i) => i % 14), 'int32'), 14)
    const step = () => tf.tidy(() => void optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, net.logitsModel.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, false, variables))
    const time = (f: () => void, n: number) => {
      f()
      const t0 = performance.now()
      for (let i = 0; i < n; i++) f()
      return (n * batchSize) / ((performance.now() - t0) / 1000)
    }
    const trainRate = time(step, 6)
    const inferRate = time(() => tf.tidy(() => void (net.model.apply(x, { training: false }) as tf.Tensor).dataSync()), 6)
    console.log(`${kind.padEnd(4)} ${net.model.countParams().toLocaleString('en').padStart(9)} params  train ${trainRate.toFixed(1)} img/s  inference ${inferRate.toFixed(0)} img/s`)
    tf.dispose([x, y])
    optimizer.dispose()
    net.model.dispose()
  }
}

/** training-curves.svg and README.md over every network folder in --out that has a training.json. */
async function writeSummary(): Promise<void> {
  const records: TrainingRecord[] = []
  for (const kind of DEMO_NET_KINDS) {
    const file = join(outDir, kind, TRAINING_JSON)
    if (existsSync(file)) records.push(JSON.parse(await readFile(file, 'utf8')) as TrainingRecord)
  }
  if (records.length === 0) return
  await writeFile(join(outDir, 'training-curves.svg'), trainingCurvesSvg(records.map((r) => ({ name: r.network, history: r.history })), 'convscope demo networks'))
  await writeFile(join(outDir, 'README.md'), summaryMarkdown(records))
  console.log(`wrote ${relative(process.cwd(), join(outDir, 'training-curves.svg'))} and README.md`)
}

function summaryMarkdown(records: TrainingRecord[]): string {
  const pct = (v: number) => `${(v * 100).toFixed(1)} %`
  const rows = records.map((r) => {
    const min = (r.seconds / 60).toFixed(1)
    return `| \`${r.network}\` | ${pct(r.final.valTop1)} | ${pct(r.final.valTop5)} | ${r.params.toLocaleString('en')} | ${(r.modelBytes / 1e6).toFixed(2)} MB | ${r.training.epochs} | ${min} min (${r.trainImagesPerSecond.toFixed(0)} img/s, ${r.environment.backend}) |`
  })
  const r0 = records[0]!
  return [
    '# Demo networks',
    '',
    'Trained by `npm run train:demo` (scripts/trainDemo.ts) on the generated demo dataset; see docs/training.md.',
    `Dataset: seed ${r0.dataset.seed}, ${r0.dataset.classes} classes, ${r0.dataset.trainPerClass} train + ${r0.dataset.valPerClass} val images per class ` +
      `(${r0.dataset.imageSize}² JPEG, stretched to ${r0.preprocessing.inputSize.join('×')}). Accuracies are on the held-out val split.`,
    '',
    '| network | val top-1 | val top-5 | parameters | model size | epochs | training time |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    '![training curves](training-curves.svg)',
    '',
  ].join('\n')
}
