/**
 * `convscope faithfulness`: deletion and insertion AUCs (src/main/engine/faithfulness/deletionInsertion.ts)
 * of class-map methods, for one image or averaged over an image folder, with the curves as JSON on request.
 */
import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { ConvscopeError } from '../../shared/api'
import {
  type Baseline,
  type CurveOptions,
  DEFAULT_BLUR_SIGMA,
  DEFAULT_POINTS,
  folderFaithfulness,
  imageFaithfulness,
  methodLabel,
  type OrderingMethod,
  randomOrderSeed,
} from '../engine/faithfulness/deletionInsertion'
import { toInputTensor, toModelInput } from '../engine/images/preprocess'
import { readImage } from '../engine/images/readImage'
import type { LoadedModel } from '../engine/model'
import { mapMethod, mapMethodHelp, MAP_METHOD_LIST, runnableMapMethod } from '../engine/maps'
import { withModel } from './engineSession'
import { progressBar } from './progressBar'
import type { Command } from './index'
import { wholeNumberOption, applyExecutorOptions, EXECUTOR_USAGE, executorOptions } from './options'

const usage = `usage: convscope faithfulness --model DIR|FILE.onnx (--image FILE | --data DIR [--limit N]) --method NAME[,NAME...]
                             [--class C] [--layer L] [--points N] [--batch N] [--deletion zero|mean|blur]
                             [--insertion blur|zero|mean] [--sigma S] [--json] [--out FILE.json] [--backend NAME] ${EXECUTOR_USAGE}

Deletion and insertion curves (Petsiuk et al. 2018, RISE) of class maps: pixels are deleted from the image
(insertion: put back into a blurred copy) in the order of the map, most important first, and the class
probability is recorded at each step. Deletion AUC: lower is better; insertion AUC: higher is better.
Methods: random (a seeded random order, the baseline to beat), all (every method below that runs on the
model, and random), or
${mapMethodHelp()}
The class explained is the top-1 predicted class (--class C for one image). Defaults: ${DEFAULT_POINTS} points
(2 % of the pixels per step), deleted pixels become 0 in the normalised input space, insertion starts from a
Gaussian blur with σ = ${DEFAULT_BLUR_SIGMA} px.
  --data DIR   mean curves over the images of DIR (--limit N: N images spread over the folder), with a progress bar
  --json       the whole result, curves included, on stdout
  --out FILE   write the result with the curves as JSON to FILE`

/** The --method names, checked against the registry before the model loads. */
function parseMethods(text: string): string[] {
  const names = text === 'all' ? ['all'] : text.split(',').map((s) => s.trim()).filter(Boolean)
  if (names.length === 0) throw new ConvscopeError('BAD_REQUEST', '--method names no method')
  if (text !== 'all') for (const n of names) if (n !== 'random') mapMethod(n)
  return names
}

/** The names as methods on `model` (CAM on a max-pooling head is its GMP variant). */
function orderingMethods(model: LoadedModel, names: string[]): OrderingMethod[] {
  if (names[0] === 'all') return [...MAP_METHOD_LIST.filter((m) => m.unsupported(model) === null).map((m) => runnableMapMethod(model, m.name)), 'random']
  return names.map((n) => (n === 'random' ? 'random' : runnableMapMethod(model, n)))
}

function parseBaseline(text: string | undefined, flag: string): Baseline | undefined {
  if (text === undefined) return undefined
  if (text !== 'zero' && text !== 'mean' && text !== 'blur') throw new ConvscopeError('BAD_REQUEST', `${flag} must be zero, mean or blur, got "${text}"`)
  return text
}

export const faithfulnessCommand: Command = {
  summary: 'deletion / insertion AUCs of class-map methods, for an image or over a folder',
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        model: { type: 'string' },
        image: { type: 'string' },
        data: { type: 'string' },
        limit: { type: 'string' },
        method: { type: 'string' },
        class: { type: 'string' },
        layer: { type: 'string' },
        points: { type: 'string' },
        batch: { type: 'string' },
        deletion: { type: 'string' },
        insertion: { type: 'string' },
        sigma: { type: 'string' },
        json: { type: 'boolean', default: false },
        out: { type: 'string' },
        backend: { type: 'string' },
        ...executorOptions,
      },
    })
    applyExecutorOptions(values)
    if (!values.model || !values.method || (!values.image === !values.data)) {
      console.error(usage)
      return 2
    }
    if (values.image && values.limit) throw new ConvscopeError('BAD_REQUEST', '--limit goes with --data, not --image')
    if (values.data && values.class) throw new ConvscopeError('BAD_REQUEST', '--class goes with --image; over a folder each image is explained for its top-1 class')
    const names = parseMethods(values.method)
    const sigma = values.sigma === undefined ? undefined : Number(values.sigma)
    if (sigma !== undefined && !(sigma > 0)) throw new ConvscopeError('BAD_REQUEST', `--sigma must be a positive number of pixels, got "${values.sigma}"`)
    const options: CurveOptions = {
      points: wholeNumberOption(values.points, '--points', 2),
      batchSize: wholeNumberOption(values.batch, '--batch'),
      deletion: parseBaseline(values.deletion, '--deletion'),
      insertion: parseBaseline(values.insertion, '--insertion'),
      blurSigma: sigma,
    }
    const mapOptions = values.layer ? { layer: values.layer } : undefined
    const settings = {
      points: options.points ?? DEFAULT_POINTS,
      deletion: options.deletion ?? 'zero',
      insertion: options.insertion ?? 'blur',
      blurSigma: options.blurSigma ?? DEFAULT_BLUR_SIGMA,
      score: 'probability',
    }

    await withModel(values.model, { backend: values.backend, quiet: values.json }, async (model) => {
      const methods = orderingMethods(model, names)
      let result: Record<string, unknown>
      let table: { label: string; deletionAuc: number; insertionAuc: number; mapMilliseconds: number; curveMilliseconds: number }[]
      let heading: string
      if (values.image) {
        const image = await readImage(resolve(values.image))
        const x = toInputTensor(await toModelInput(image, model.info.preprocessing))
        const classIndex = wholeNumberOption(values.class, '--class', 0)
        try {
          const rows = []
          for (const m of methods) rows.push({ label: methodLabel(m), ...(await imageFaithfulness(model, x, m, { ...options, classIndex, mapOptions, seed: randomOrderSeed(image.facts.path) })) })
          const c = rows[0]!.classIndex
          heading = `${model.info.name} on ${image.facts.path}, class ${c} (${model.info.labels?.[c] ?? 'no label'})`
          table = rows.map((r) => ({ label: r.label, deletionAuc: r.deletion.auc, insertionAuc: r.insertion.auc, mapMilliseconds: r.mapMilliseconds, curveMilliseconds: r.curveMilliseconds }))
          result = {
            model: model.info.dir,
            image: image.facts.path,
            classIndex: c,
            label: model.info.labels?.[c] ?? null,
            settings,
            methods: rows.map(({ map: _map, ...r }) => r),
          }
        } finally {
          x.dispose()
        }
      } else {
        const bar = values.json ? null : progressBar(process.stderr)
        const abort = new AbortController()
        const onSigint = () => abort.abort()
        process.once('SIGINT', onSigint)
        try {
          const r = await folderFaithfulness(
            model,
            resolve(values.data!),
            methods,
            { ...options, mapOptions, limit: wholeNumberOption(values.limit, '--limit') },
            { progress: (p) => bar?.update(p.done, p.total ?? p.done), signal: abort.signal },
          )
          bar?.end()
          heading = `${model.info.name} on ${r.images} images of ${r.root} (each for its top-1 class)${r.skipped.length ? `, ${r.skipped.length} skipped` : ''}, ${r.seconds.toFixed(1)} s`
          table = r.methods
          result = { model: model.info.dir, settings, ...r }
        } finally {
          bar?.end()
          process.removeListener('SIGINT', onSigint)
        }
      }
      if (values.out) await writeFile(resolve(values.out), JSON.stringify(result, null, 2) + '\n')
      if (values.json) {
        console.log(JSON.stringify(result, null, 2))
        return
      }
      const lines = [
        heading,
        `${settings.points} points; deleted pixels → ${settings.deletion}; insertion starts from ${settings.insertion === 'blur' ? `a blur, σ ${settings.blurSigma} px` : settings.insertion}; score: class probability`,
        '',
        `${'method'.padEnd(22)} ${'deletion AUC ↓'.padStart(14)} ${'insertion AUC ↑'.padStart(15)} ${'map ms'.padStart(8)} ${'curves ms'.padStart(10)}`,
        ...table.map(
          (r) =>
            `${r.label.padEnd(22)} ${r.deletionAuc.toFixed(4).padStart(14)} ${r.insertionAuc.toFixed(4).padStart(15)} ${r.mapMilliseconds.toFixed(1).padStart(8)} ${r.curveMilliseconds.toFixed(1).padStart(10)}`,
        ),
      ]
      if (values.out) lines.push('', `wrote the curves to ${values.out}`)
      console.log(lines.join('\n'))
    })
    return 0
  },
}
