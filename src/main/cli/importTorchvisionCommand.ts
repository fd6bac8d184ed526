/**
 * `convscope import-torchvision NAME`: a torchvision ImageNet classifier as an ONNX model folder that convscope
 * opens, made by scripts/torchvision/importTorchvision.py in the user's own Python (torch + torchvision do the
 * export; convscope ships no PyTorch). The script's last stdout line is its JSON result; its stderr (torch's
 * download progress) goes straight to the terminal.
 */
import { spawn } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { ConvscopeError } from '../../shared/api'
import { resourcesDir } from '../resources'
import type { Command } from './index'

const usage = `usage: convscope import-torchvision NAME [--weights DEFAULT|none|ENUM] [--out DIR] [--force] [--python PATH]

Exports torchvision's ImageNet classifier NAME (resnet50, vgg16, densenet121, ...; a wrong NAME lists them)
to ONNX and writes DIR/NAME/ with model.onnx, convscope.json (the weights' own preprocessing: resize the
shorter side, center-crop, bilinear or bicubic, ImageNet mean / std) and labels.json (the 1 000 ImageNet
classes with their WordNet ids, so an ImageNet folder's class folders n01440764/... map to outputs).
  --weights DEFAULT  the pretrained weights, downloaded by torchvision into torch's cache (internet needed once);
                     none: seeded random weights, no download; or a weights enum member such as IMAGENET1K_V1
  --out DIR          where to write (default: the current folder)
  --force            replace an earlier import of NAME in DIR
  --python PATH      the Python 3 with torch and torchvision >= 0.14 (default: $CONVSCOPE_PYTHON, python3,
                     /usr/bin/python3). Debian / Ubuntu: apt-get install python3-torch python3-torchvision;
                     elsewhere: pip install torch torchvision`

const INSTALL_HINT =
  'install them with `sudo apt-get install python3-torch python3-torchvision` (Debian / Ubuntu) or `pip install torch torchvision`, ' +
  'or name a Python that has them with --python PATH (or CONVSCOPE_PYTHON)'

/** The script's JSON answer (its last stdout line). */
const ScriptResult = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    dir: z.string(),
    files: z.array(z.string()),
    weights: z.string(),
    dynamic: z.boolean(),
    inputSize: z.tuple([z.number(), z.number()]),
    python: z.string(),
    torchvision: z.string(),
    notes: z.array(z.string()),
  }),
  z.object({ ok: z.literal(false), code: z.string(), message: z.string() }),
])
type ScriptResult = z.infer<typeof ScriptResult>

/** The script, beside the bundled resources/ (a checkout or an unpacked install). */
export function importScriptPath(): string {
  return join(dirname(resourcesDir()), 'scripts', 'torchvision', 'importTorchvision.py')
}

/** Interpreters to try in order: the one named, else $CONVSCOPE_PYTHON, python3 on PATH, then the system one. */
function pythonCandidates(named: string | undefined): string[] {
  if (named) return [named]
  const list = [process.env.CONVSCOPE_PYTHON, 'python3', process.platform === 'win32' ? 'python' : '/usr/bin/python3']
  return [...new Set(list.filter((p): p is string => !!p))]
}

type Attempt = { result: ScriptResult } | { failed: string }

function runScript(python: string, script: string, args: string[]): Promise<Attempt> {
  return new Promise((done) => {
    // PYTHONDONTWRITEBYTECODE: no __pycache__ beside the script in the checkout.
    const child = spawn(python, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } })
    let stdout = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.on('error', (e: NodeJS.ErrnoException) => done({ failed: e.code === 'ENOENT' ? 'not found' : e.message }))
    child.on('close', (code, signal) => {
      const last = stdout.trim().split('\n').pop() ?? ''
      let parsed: ReturnType<typeof ScriptResult.safeParse> | null = null
      try {
        parsed = ScriptResult.safeParse(JSON.parse(last))
      } catch {
        // not JSON: the interpreter is no Python 3, or the script crashed (its traceback went to stderr)
      }
      if (parsed?.success) done({ result: parsed.data })
      else done({ failed: signal ? `killed by ${signal}` : `exited with code ${code} without a result${last ? `: ${last.slice(0, 200)}` : ''}` })
    })
  })
}

/** Run the script in the first interpreter that has torch and torchvision; throws with the install line if none. */
async function importModel(args: string[], pythonOption: string | undefined): Promise<ScriptResult & { ok: true }> {
  const script = importScriptPath()
  if (!existsSync(script)) throw new ConvscopeError('NOT_FOUND', `${script} is missing: import-torchvision runs from a convscope checkout`)
  const tried: string[] = []
  for (const python of pythonCandidates(pythonOption)) {
    const attempt = await runScript(python, script, args)
    if ('failed' in attempt) {
      tried.push(`${python} (${attempt.failed})`)
      continue
    }
    const { result } = attempt
    if (result.ok) return result
    if (result.code === 'missing-module') {
      tried.push(`${python} (${result.message.replace(/^[^:]*: /, '')})`)
      continue
    }
    throw new ConvscopeError(result.code === 'unknown-name' || result.code === 'bad-weights' || result.code === 'exists' ? 'BAD_REQUEST' : 'UNAVAILABLE', result.message)
  }
  throw new ConvscopeError('UNAVAILABLE', `needs Python 3 with torch and torchvision >= 0.14; tried ${tried.join(', ')}: ${INSTALL_HINT}`)
}

function fileSize(file: string): string {
  const bytes = statSync(file).size
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.ceil(bytes / 1e3)} kB`
}

export const importTorchvisionCommand: Command = {
  summary: 'export a torchvision ImageNet classifier to ONNX with its preprocessing and labels',
  usage,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        weights: { type: 'string', default: 'DEFAULT' },
        out: { type: 'string', default: '.' },
        force: { type: 'boolean', default: false },
        python: { type: 'string' },
      },
    })
    if (positionals.length !== 1) {
      console.error(usage)
      return 2
    }
    const name = positionals[0]!
    const target = join(resolve(values.out), name)
    // Checked here too (the script checks it as well) so that a repeated command answers without starting Python.
    if (!values.force && existsSync(join(target, 'model.onnx'))) throw new ConvscopeError('BAD_REQUEST', `${target} already holds an import: pass --force to replace it`)
    const scriptArgs = [name, '--out', resolve(values.out), '--weights', values.weights, ...(values.force ? ['--force'] : [])]
    const result = await importModel(scriptArgs, values.python)
    const width = Math.max(...result.files.map((f) => f.length))
    console.log(
      [
        `wrote ${result.dir}`,
        ...result.files.map((f) => `  ${f.padEnd(width)}  ${fileSize(join(result.dir, f))}`),
        `weights:  ${result.weights === 'none' ? 'none (seeded random; --weights DEFAULT for the pretrained ones)' : result.weights}`,
        `input:    ${result.dynamic ? 'any height / width' : `fixed ${result.inputSize.join('×')}`}; preprocessing in convscope.json is ${result.inputSize.join('×')}`,
        ...result.notes.map((n) => `note:     ${n}`),
        `made by:  ${result.python}, torchvision ${result.torchvision}`,
        '',
        `next:     convscope info ${result.dir}`,
      ].join('\n'),
    )
    return 0
  },
}
