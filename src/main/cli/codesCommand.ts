/**
 * `convscope codes`: the code of every image of a folder or file list at one layer (issue 13), a codes run of
 * the scan pipeline (scan/runScan.ts with `codes`): resumable, shardable (`--shard`, then `convscope merge`),
 * over worker processes (`--workers`, scan/workers.ts with command 'codes': the same IPC protocol as `scan`),
 * run by scanRun.ts as `scan` is.
 */
import { parseArgs } from 'node:util'
import { basename, join, resolve } from 'node:path'
import { CodeDtype, ConvscopeError } from '../../shared/api'
import { defaultCodeLayer, describeCodeLayer } from '../engine/codes/codeLayer'
import { listDataset } from '../engine/images/imageList'
import { CODES_FILE } from '../engine/scan/manifest'
import { printSkipped, runScanCommand, scanRunFlags, scanRunOptions, scanRunSummary } from './scanRun'
import type { Command } from './index'
import { applyExecutorOptions, EXECUTOR_USAGE } from './options'

const usage = `usage: convscope codes MODEL DATA [--layer L] [--dtype float16|float32] [--out DIR] [--shard i/n] [--workers N|auto] [--batch B] [--limit N] [--backend NAME] ${EXECUTOR_USAGE} [--json]

The code of every image at one layer: its output, averaged over space when it is a map (a [units] vector as it
is), written as codes.npy [images, dim] with each image's 32×32 thumbnail (pixels.npy, uint8) and the model's
top-1 class (predicted.npy, int32) — the input of \`convscope neighbours\`, \`embed\` and \`grid\`.
  MODEL        a model folder or .onnx file
  DATA         a folder of images (class folders, flat or nested) or a text file listing one image per line
  --layer L    the code layer (default: the classifier's input, e.g. fc7, or the globally pooled last conv map)
  --dtype      float32 (default) or float16 (half the file and the memory of a kNN query, ~3 significant digits)
  --out DIR    the codes folder (default ./<DATA's name>-codes)
  --shard i/n  only images whose index ≡ i (mod n); merge the n folders with \`convscope merge\`
  --workers N  compute in N processes, merged at the end (auto: one per core; default: as \`convscope scan\`)
  --batch B    images per forward pass (default 16)
  --limit N    list at most N images (default 1000000)
  --json       print the result's summary as JSON on stdout
A killed run resumes from its last checkpoint (every 30 s; env CONVSCOPE_CHECKPOINT_MS) when run again with the
same arguments; unreadable images are skipped (NaN code rows) and listed.`

export const codesCommand: Command = {
  summary: 'the code of every image at one layer (fc7, pooled conv map), for neighbours and maps',
  usage,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        layer: { type: 'string' },
        dtype: { type: 'string' },
        out: { type: 'string' },
        ...scanRunOptions,
      },
    })
    applyExecutorOptions(values)
    if (positionals.length !== 2) {
      console.error(usage)
      return 2
    }
    const [modelArg, dataArg] = positionals as [string, string]
    const dtypeParsed = CodeDtype.safeParse(values.dtype ?? 'float32')
    if (!dtypeParsed.success) throw new ConvscopeError('BAD_REQUEST', `--dtype is float16 or float32, got "${values.dtype}"`)
    const dtype = dtypeParsed.data
    const flags = scanRunFlags(values)
    const { shard, batchSize, limit } = flags
    const folder = await listDataset(resolve(dataArg), limit)
    if (folder.images.length === 0) throw new ConvscopeError('NOT_FOUND', `${dataArg} holds no images`)
    if (folder.truncated) console.error(`convscope codes: warning: only the first ${limit} images are read (--limit)`)
    const out = resolve(values.out ?? `${basename(resolve(dataArg))}-codes`)
    const workerArgs = [resolve(modelArg), resolve(dataArg), '--dtype', dtype, '--batch', String(batchSize), '--limit', String(limit)]
    if (values.layer) workerArgs.push('--layer', values.layer)
    if (values.backend) workerArgs.push('--backend', values.backend)
    const run = await runScanCommand({
      command: 'codes',
      noun: 'codes run',
      model: modelArg,
      backend: values.backend,
      folder,
      out,
      flags,
      workerArgs,
      plan: (model) => {
        const layer = describeCodeLayer(model, values.layer ?? defaultCodeLayer(model))
        const label = `${layer.name} (${layer.dim}${layer.pooled ? `, averaged over ${layer.height}×${layer.width}` : ''})`
        return { layers: [layer.name], label, scan: { layers: [], codes: { layer: layer.name, dtype } } }
      },
      announce: (label, how) => console.error(`convscope codes: ${folder.images.length} images, layer ${label}, ${dtype}${shard ? `, shard ${shard.index}/${shard.count}` : ''}, ${how}`),
    })
    const { manifest } = run
    const codes = manifest.codes!
    const { timing } = manifest
    if (values.json) {
      console.log(JSON.stringify(scanRunSummary(out, run, { layer: codes.layer, dim: codes.dim, pooled: codes.pooled, dtype: codes.dtype }), null, 1))
      return 0
    }
    console.log(`wrote ${join(out, CODES_FILE)}: ${manifest.dataset.count} images × ${codes.dim} (${codes.layer}, ${codes.dtype}), ${timing.seconds.toFixed(1)} s${timing.resumed ? ' (resumed)' : ''}`)
    printSkipped(manifest.skipped, ' (NaN rows)')
    return 0
  },
}
