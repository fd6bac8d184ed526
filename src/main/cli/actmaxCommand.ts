import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import sharp from 'sharp'
import { ActmaxSettings, ConvscopeError, type Target } from '../../shared/api'
import type { LoadedModel } from '../engine/model'
import { maximize, type OptimizedImages } from '../engine/optimizers/actmax'
import { PARAMETERIZATION_LIST } from '../engine/optimizers'
import { rgbPng, sideBySide } from '../engine/optimizers/png'
import { writeNpy } from '../engine/store/npy'
import { planTarget } from '../engine/targets'
import { withModel } from './engineSession'
import type { Command } from './index'
import { applyExecutorOptions, EXECUTOR_USAGE, executorOptions, wholeNumberOption } from './options'
import { progressBar } from './progressBar'
import { hasTarget, TARGET_USAGE, targetFromFlags, targetOptions } from './targetOptions'

const DEFAULTS = ActmaxSettings.parse({})

const usage = `usage: convscope actmax --model DIR|FILE.onnx ${TARGET_USAGE}
                       [--steps ${DEFAULTS.steps}] [--seed ${DEFAULTS.seed}] [--images N] [--size S] [--param ${PARAMETERIZATION_LIST.map((p) => p.name).join('|')}]
                       [--lr ${DEFAULTS.learningRate}] [--jitter ${DEFAULTS.jitter}] [--scales ${DEFAULTS.scales.join(',')}] [--rotate ${DEFAULTS.rotate}]
                       [--l2-decay D] [--blur-every K] [--blur-sigma S] [--clip-pixels P] [--clip-contributions P] [--diversity W]
                       [--data DIR] [--png FILE [--scale K]] [--npy FILE] [--json] [--backend NAME] ${EXECUTOR_USAGE}

Activation maximization ("visualizing arbitrary neurons"): images optimised with Adam for the target, a class
(--class A,B,C: one run per class, side by side), a unit (at its spatial max by default) or a direction. Each step
sees each image through a random jitter (pixels), scale and rotation (degrees). Parameterizations:
${PARAMETERIZATION_LIST.map((p) => `  ${p.name.padEnd(8)} ${p.description}`).join('\n')}
The lecture's regularizers (Yosinski et al. 2015; --param pixel for blur and clipping): --l2-decay (per step),
--blur-every K steps with --blur-sigma pixels, --clip-pixels / --clip-contributions (percentiles zeroed each step).
--diversity W pushes --images apart (Lucid's Gram-matrix similarity). Seeded: the same flags give the same images.
--png writes the images side by side (8-bit RGB; --scale K: each pixel a K×K block, for figures); --npy the float images [runs × images, size, size, 3] in [0, 1];
--data names the dataset whose classes.json resolves a class given by folder name.`

const options = {
  model: { type: 'string' },
  ...targetOptions,
  steps: { type: 'string' },
  seed: { type: 'string' },
  images: { type: 'string' },
  size: { type: 'string' },
  param: { type: 'string' },
  lr: { type: 'string' },
  jitter: { type: 'string' },
  scales: { type: 'string' },
  rotate: { type: 'string' },
  'l2-decay': { type: 'string' },
  'blur-every': { type: 'string' },
  'blur-sigma': { type: 'string' },
  'clip-pixels': { type: 'string' },
  'clip-contributions': { type: 'string' },
  diversity: { type: 'string' },
  data: { type: 'string' },
  png: { type: 'string' },
  scale: { type: 'string' },
  npy: { type: 'string' },
  json: { type: 'boolean', default: false },
  backend: { type: 'string' },
  ...executorOptions,
} as const

/** Flag → ActmaxSettings field, for the numeric settings. */
const NUMERIC: Record<string, keyof ActmaxSettings> = {
  steps: 'steps',
  seed: 'seed',
  images: 'images',
  size: 'size',
  lr: 'learningRate',
  jitter: 'jitter',
  rotate: 'rotate',
  'l2-decay': 'l2Decay',
  'blur-every': 'blurEvery',
  'blur-sigma': 'blurSigma',
  'clip-pixels': 'clipPixelsPercentile',
  'clip-contributions': 'clipContributionsPercentile',
  diversity: 'diversity',
}

/** The settings the flags give (the schema's defaults for the rest); BAD_REQUEST naming the flag otherwise. */
export function settingsFromFlags(values: Record<string, string | boolean | undefined>): ActmaxSettings {
  const raw: Record<string, unknown> = { previewEvery: 0 }
  for (const [flag, field] of Object.entries(NUMERIC)) {
    const text = values[flag]
    if (typeof text !== 'string') continue
    const n = Number(text)
    if (text.trim() === '' || !Number.isFinite(n)) throw new ConvscopeError('BAD_REQUEST', `--${flag} must be a number, got "${text}"`)
    raw[field] = n
  }
  if (typeof values.param === 'string') raw.parameterization = values.param
  if (typeof values.scales === 'string') raw.scales = values.scales.split(',').map(Number)
  const parsed = ActmaxSettings.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const field = String(issue.path[0])
    const flag = Object.entries(NUMERIC).find(([, f]) => f === field)?.[0] ?? (field === 'parameterization' ? 'param' : field)
    throw new ConvscopeError('BAD_REQUEST', `--${flag}: ${issue.message}`)
  }
  return parsed.data
}

interface Run {
  description: string
  result: OptimizedImages
}

export const actmaxCommand: Command = {
  summary: 'activation maximization: the image a class, unit or direction responds to most (PNG, npy)',
  usage,
  async run(args) {
    const { values } = parseArgs({ args, options })
    applyExecutorOptions(values)
    if (!values.model || !hasTarget(values)) {
      console.error(usage)
      return 2
    }
    const settings = settingsFromFlags(values)
    const scale = wholeNumberOption(values.scale, '--scale') ?? 1
    await withModel(values.model, { backend: values.backend, quiet: values.json }, async (model) => {
      const targets = await targetsFromFlags(model, values)
      const plans = targets.map((t) => planTarget(model, t))
      const bar = progressBar(process.stderr, 'steps')
      const runs: Run[] = []
      const started = performance.now()
      try {
        for (const [i, plan] of plans.entries()) {
          const done = i * settings.steps
          const total = plans.length * settings.steps
          const result = await maximize(model, plan, settings, { onStep: (step) => bar.update(done + step, total) })
          runs.push({ description: plan.description, result })
        }
      } finally {
        bar.end()
      }
      const seconds = (performance.now() - started) / 1000
      const files = await writeFiles(runs, values.png, values.npy, scale)
      console.log(values.json ? JSON.stringify(actmaxJson(runs, settings, seconds, files), null, 2) : formatActmax(runs, seconds, files))
    })
    return 0
  },
}

/** The targets: one, or one per class of `--class A,B,C`. */
async function targetsFromFlags(model: LoadedModel, values: { class?: string; score?: string; unit?: string; direction?: string; data?: string }): Promise<Target[]> {
  const dataDir = values.data ? resolve(values.data) : undefined
  if (values.class === undefined || !values.class.includes(',')) return [await targetFromFlags(model, values, dataDir)]
  const names = values.class.split(',').map((c) => c.trim()).filter(Boolean)
  return Promise.all(names.map((name) => targetFromFlags(model, { ...values, class: name }, dataDir)))
}

async function writeFiles(runs: Run[], png: string | undefined, npy: string | undefined, scale: number): Promise<{ png?: string; npy?: string }> {
  const images = runs.flatMap((r) => r.result.images.map((m) => m.rgb))
  const size = runs[0]!.result.size
  const files: { png?: string; npy?: string } = {}
  if (png) {
    files.png = resolve(png)
    const strip = sideBySide(images, size, images.length > 1 ? 4 : 0)
    await mkdir(dirname(files.png), { recursive: true })
    const bytes = await rgbPng(strip.values, strip.width, strip.height)
    // Enlarged without smoothing: each pixel a scale × scale block.
    await writeFile(files.png, scale === 1 ? bytes : await sharp(bytes).resize(strip.width * scale, strip.height * scale, { kernel: 'nearest' }).png().toBuffer())
  }
  if (npy) {
    files.npy = resolve(npy)
    const data = new Float32Array(images.length * size * size * 3)
    images.forEach((image, i) => data.set(image, i * image.length))
    await mkdir(dirname(files.npy), { recursive: true })
    await writeNpy(files.npy, data, [images.length, size, size, 3])
  }
  return files
}

/** What --json prints: per run its target, the images' values, the objective's first and last steps, and timings. */
export function actmaxJson(runs: Run[], settings: ActmaxSettings, seconds: number, files: { png?: string; npy?: string }) {
  return {
    settings,
    runs: runs.map((r) => ({
      target: r.description,
      size: r.result.size,
      values: r.result.images.map((m) => m.value),
      objective: r.result.objective,
      stepMilliseconds: r.result.stepMilliseconds,
    })),
    seconds,
    png: files.png ?? null,
    npy: files.npy ?? null,
  }
}

function formatActmax(runs: Run[], seconds: number, files: { png?: string; npy?: string }): string {
  const lines = runs.map((r) => {
    const o = r.result.objective
    const values = r.result.images.map((m) => m.value.toFixed(3)).join(', ')
    return `${r.description}: value ${values} (objective ${o[0]!.toFixed(3)} → ${o.at(-1)!.toFixed(3)} over ${o.length} steps, ${r.result.stepMilliseconds.toFixed(1)} ms/step)`
  })
  lines.push(`${seconds.toFixed(1)} s`)
  if (files.png) lines.push(`wrote ${files.png}`)
  if (files.npy) lines.push(`wrote ${files.npy}`)
  return lines.join('\n')
}
