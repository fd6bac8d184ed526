/**
 * `convscope scan`: the CLI of dataset scans (runScan.ts), in this process or, with --workers W, over W
 * worker processes (workers.ts), as scanRun.ts runs them. The dataset is a folder of images or a file list (imageList.ts).
 */
import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { ConvscopeError } from '../../shared/api'
import { listDataset } from '../engine/images/imageList'
import { defaultScanLayers } from '../../shared/scanLayers'
import { formatProfile, sumProfiles } from '../engine/scan/profile'
import { CORES_PER_WORKER, MIN_IMAGES_PER_WORKER } from '../engine/scan/workers'
import { printSkipped, runScanCommand, scanRunFlags, scanRunOptions, scanRunSummary } from './scanRun'
import type { Command } from './index'
import { wholeNumberOption, applyExecutorOptions, EXECUTOR_USAGE } from './options'

const usage = `usage: convscope scan --model DIR|FILE.onnx --data DIR|LIST --out DIR [--layers a,b] [--top K] [--shard i/n] [--workers W|auto] [--batch N] [--no-maxima] [--limit N] [--backend NAME] ${EXECUTOR_USAGE} [--profile] [--json]

For each unit of the chosen layers, the dataset images (and the receptive-field patch at the max) that
activate it most: top-K per unit, plus every image's per-unit maxima (float16 .npy) unless --no-maxima.
  --data       a folder of images (class folders, flat or nested), or a text file listing one image path
               per line (relative to the list's folder, or absolute; "#" comments; optional TAB class name)
  --layers     comma-separated layer names (default: every spatial activation output: ReLU etc., or a conv
               with its activation fused; dense layers may be named)
  --top K      entries kept per unit (default 16)
  --shard i/n  scan only images whose index ≡ i (mod n); merge the n folders with \`convscope merge\`
  --workers W  scan in W processes, one compute thread each, merged into one result at the end (auto: one
               per CPU core; default: one per ${CORES_PER_WORKER} cores with at least ${MIN_IMAGES_PER_WORKER} images per worker, 1 on a GPU
               device, or the count of the unfinished scan in --out; 1: this process, onnxruntime on every core,
               images decoded on threads beside it, CONVSCOPE_DECODE_THREADS)
  --batch N    images per forward pass (default 16)
  --limit N    list at most N images of the folder (default 1000000)
  --profile    say where the time went (decoding, waiting for images, forward, top-K, maxima writes,
               checkpoints); with workers, summed over them (process-seconds)
  --json       print the result's summary (and --profile's numbers) as JSON on stdout
A killed scan resumes from its last checkpoint (every 30 s; env CONVSCOPE_CHECKPOINT_MS) when run again
with the same arguments.`

export const scanCommand: Command = {
  summary: 'top-K dataset patches per unit of chosen layers (resumable, shardable, multi-process)',
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        model: { type: 'string' },
        data: { type: 'string' },
        out: { type: 'string' },
        layers: { type: 'string' },
        top: { type: 'string' },
        'no-maxima': { type: 'boolean', default: false },
        ...scanRunOptions,
        profile: { type: 'boolean', default: false },
      },
    })
    applyExecutorOptions(values)
    if (!values.model || !values.data || !values.out) {
      console.error(usage)
      return 2
    }
    const k = wholeNumberOption(values.top, '--top') ?? 16
    const flags = scanRunFlags(values)
    const { shard, batchSize, limit } = flags
    const folder = await listDataset(resolve(values.data), limit)
    if (folder.truncated) console.error(`convscope scan: warning: only the first ${limit} images are scanned (--limit)`)
    const out = resolve(values.out)
    const workerArgs = ['--model', resolve(values.model), '--data', resolve(values.data), '--top', String(k), '--batch', String(batchSize), '--limit', String(limit)]
    if (values.layers) workerArgs.push('--layers', values.layers)
    if (values.backend) workerArgs.push('--backend', values.backend)
    if (values['no-maxima']) workerArgs.push('--no-maxima')
    const run = await runScanCommand({
      command: 'scan',
      noun: 'scan',
      model: values.model,
      backend: values.backend,
      folder,
      out,
      flags,
      workerArgs,
      plan: (model) => {
        const layers = values.layers ? values.layers.split(',').map((s) => s.trim()).filter(Boolean) : defaultScanLayers(model.info)
        if (layers.length === 0) throw new ConvscopeError('BAD_REQUEST', 'the model has no spatial conv/pool layer after the first; name layers with --layers')
        return { layers, label: layers.join(', '), scan: { layers, k, keepMaxima: !values['no-maxima'] } }
      },
      announce: (label, how) => console.error(`convscope scan: ${folder.images.length} images, layers ${label}, top ${k}${shard ? `, shard ${shard.index}/${shard.count}` : ''}, ${how}`),
      tellSkips: true,
      profile: true,
    })
    const { manifest } = run
    const ran = run.profiles.filter(Boolean)
    const profile = values.profile && ran.length ? { processes: ran.length, total: sumProfiles(ran), perProcess: ran, ...(run.mergeSeconds !== undefined && { mergeSeconds: run.mergeSeconds }) } : null
    if (values.json) {
      console.log(JSON.stringify({ ...scanRunSummary(out, run, { layers: manifest.layers.map((l) => l.name), k: manifest.k }), ...(values.profile ? { profile } : {}) }, null, 1))
      return 0
    }
    console.log(`wrote ${out}: ${manifest.layers.length} layer(s), top ${manifest.k}, ${manifest.timing.seconds.toFixed(1)} s${manifest.timing.resumed ? ' (resumed)' : ''}`)
    printSkipped(manifest.skipped)
    if (values.profile) {
      if (!profile) console.log('profile: nothing was scanned in this run (the result was there already)')
      else {
        for (const line of formatProfile(profile.total, profile.processes > 1 ? `profile, summed over ${profile.processes} worker processes (process-seconds)` : 'profile')) console.log(line)
        if (profile.mergeSeconds !== undefined) console.log(`  merging the workers' results ${profile.mergeSeconds.toFixed(2).padStart(7)} s`)
      }
    }
    return 0
  },
}
