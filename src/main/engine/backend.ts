/**
 * Choosing the TensorFlow.js backend at run time.
 *
 * Tried in order: tensorflow-gpu (@tensorflow/tfjs-node-gpu, CUDA), tensorflow (@tensorflow/tfjs-node),
 * wasm (@tensorflow/tfjs-backend-wasm), cpu. The first that initialises wins; the report says why each
 * other one was skipped. `--backend` or CONVSCOPE_BACKEND forces one, and then failure is an error, not
 * a silent fallback. tfjs-node(-gpu) are optional dependencies (their install downloads libtensorflow),
 * so they are loaded by dynamic import and may be absent.
 *
 * `import * as tf from '@tensorflow/tfjs'` is the one tf instance: tfjs-node and tfjs-backend-wasm register
 * their backends into the same @tensorflow/tfjs-core.
 */
import * as tf from '@tensorflow/tfjs'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { BackendName, ConvscopeError, type BackendReport } from '../../shared/api'
import { fixWasmSamePadding, registerWasmGradientKernels } from './wasmGradients'

type Attempt = BackendReport['attempts'][number]

/** Result of trying one backend: ok, with why it is good, or not, with why not. */
interface Outcome {
  ok: boolean
  reason: string
}

const ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']
const ALIASES: Record<string, BackendName> = { 'node-gpu': 'tensorflow-gpu', node: 'tensorflow' }
const FORCED_BY = '--backend / CONVSCOPE_BACKEND'

const requireHere = createRequire(import.meta.url)

/** A user-typed backend name (or alias) as one of ours; throws BAD_REQUEST for anything else. */
export function parseBackendName(raw: string): BackendName {
  const name = raw.trim().toLowerCase()
  const known = ALIASES[name] ?? (BackendName.safeParse(name).success ? (name as BackendName) : undefined)
  if (known == null) {
    const accepted = [...ORDER, ...Object.keys(ALIASES)].join(', ')
    throw new ConvscopeError('BAD_REQUEST', `Unknown backend "${raw}"; use one of ${accepted}`)
  }
  return known
}

/** The backend forced by the --backend flag (first) or the CONVSCOPE_BACKEND variable, if any. */
export function backendFromEnv(argvBackend?: string): BackendName | undefined {
  const raw = argvBackend?.trim() || process.env.CONVSCOPE_BACKEND?.trim()
  return raw ? parseBackendName(raw) : undefined
}

/**
 * Pick and initialise the backend. Not forced: the first of ORDER that works, with a reason for every
 * one. Forced: that one, or ConvscopeError('UNAVAILABLE') saying why it cannot be used.
 */
export async function initBackend(options: { forced?: string }): Promise<BackendReport> {
  quietTf()
  if (options.forced != null && options.forced.trim() !== '') {
    const name = parseBackendName(options.forced)
    const outcome = await tryBackend(name)
    if (!outcome.ok) {
      throw new ConvscopeError('UNAVAILABLE', `Backend "${name}" was forced (${FORCED_BY}) but cannot be used: ${outcome.reason}`)
    }
    return { active: name, forced: true, attempts: [{ name, ok: true, reason: `forced (${FORCED_BY}); ${outcome.reason}` }] }
  }

  const attempts: Attempt[] = []
  let active: BackendName | undefined
  for (const name of ORDER) {
    if (active != null) {
      attempts.push({ name, ok: false, reason: `not tried: ${active} comes first and works` })
      continue
    }
    const outcome = await tryBackend(name)
    if (outcome.ok) active = name
    attempts.push({ name, ok: outcome.ok, reason: outcome.ok ? `first that works in the order ${ORDER.join(' > ')}; ${outcome.reason}` : outcome.reason })
  }
  // cpu ships inside @tensorflow/tfjs, so this is reached only if the install itself is broken.
  if (active == null) throw new ConvscopeError('UNAVAILABLE', `No TensorFlow.js backend could be initialised: ${attempts.map((a) => `${a.name}: ${a.reason}`).join('; ')}`)
  return { active, forced: false, attempts }
}

function quietTf(): void {
  // PROD silences tfjs' console advice ("looks like you are running TensorFlow.js in Node.js ...").
  tf.env().set('PROD', true)
  // libtensorflow's C++ INFO/WARNING lines (CPU feature guard, ...) are noise for users.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2'
}

async function tryBackend(name: BackendName): Promise<Outcome> {
  try {
    switch (name) {
      case 'tensorflow-gpu':
        return await tryTensorflowGpu()
      case 'tensorflow':
        return await tryTensorflow()
      case 'wasm':
        return await tryWasm()
      case 'cpu':
        return await tryCpu()
    }
  } catch (err) {
    return { ok: false, reason: `failed to initialise: ${messageOf(err)}` }
  }
}

// ---------------------------------------------------------------------------------------------------
// The four backends
// ---------------------------------------------------------------------------------------------------

const NODE_GPU = '@tensorflow/tfjs-node-gpu'
const NODE_CPU = '@tensorflow/tfjs-node'
const WASM = '@tensorflow/tfjs-backend-wasm'

async function tryTensorflowGpu(): Promise<Outcome> {
  if (!isInstalled(NODE_GPU)) return { ok: false, reason: `module ${NODE_GPU} is not installed (optional dependency; needs libtensorflow with CUDA)` }
  // Checked before loading: tfjs-node-gpu silently runs on the CPU when it finds no GPU.
  const device = cudaDevice()
  if (!device.ok) return device
  const loaded = await load(NODE_GPU)
  if (!loaded.ok) return loaded
  // tfjs-node-gpu registers its backend under the name 'tensorflow', like tfjs-node.
  if (!(await tf.setBackend('tensorflow'))) return { ok: false, reason: `${NODE_GPU} loaded but its backend failed to initialise` }
  return { ok: true, reason: `libtensorflow with CUDA (${device.reason})` }
}

async function tryTensorflow(): Promise<Outcome> {
  if (!isInstalled(NODE_CPU)) return { ok: false, reason: `module ${NODE_CPU} is not installed (optional dependency; its install downloads libtensorflow)` }
  const loaded = await load(NODE_CPU)
  if (!loaded.ok) return loaded
  if (!(await tf.setBackend('tensorflow'))) return { ok: false, reason: `${NODE_CPU} loaded but its backend failed to initialise` }
  return { ok: true, reason: 'native libtensorflow on the CPU' }
}

let wasmPathsSet = false

async function tryWasm(): Promise<Outcome> {
  if (!isInstalled(WASM)) return { ok: false, reason: `module ${WASM} is not installed` }
  const wasm = await import('@tensorflow/tfjs-backend-wasm')
  // The .wasm binaries sit beside the package's main file; give their folder as a path on the file
  // system so that loading works from sources run by tsx and from a bundle alike.
  const dist = path.dirname(requireHere.resolve(WASM))
  const binary = path.join(dist, 'tfjs-backend-wasm-simd.wasm')
  if (!fs.existsSync(binary)) return { ok: false, reason: `WebAssembly binaries not found in ${dist}` }
  if (!wasmPathsSet) {
    try {
      wasm.setWasmPaths(dist + path.sep)
    } catch {
      // Already initialised elsewhere (e.g. a test that called setWasmPaths itself): its paths stand.
    }
    wasmPathsSet = true
  }
  if (!(await tf.setBackend('wasm'))) return { ok: false, reason: `the WebAssembly module in ${dist} failed to initialise` }
  // wasm's kernel gaps and bugs (gradients, 'same' padding): see wasmGradients.ts.
  fixWasmSamePadding()
  registerWasmGradientKernels()
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')
  return { ok: true, reason: `WebAssembly (XNNPACK), ${simd ? 'SIMD' : 'no SIMD'}, single-threaded` }
}

async function tryCpu(): Promise<Outcome> {
  if (!(await tf.setBackend('cpu'))) return { ok: false, reason: 'the plain JavaScript backend failed to initialise' }
  return { ok: true, reason: 'plain JavaScript (≈25× slower than wasm)' }
}

// ---------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------

function isInstalled(specifier: string): boolean {
  try {
    requireHere.resolve(specifier)
    return true
  } catch {
    return false
  }
}

/** Import an optional module; the specifier is a variable so that bundlers leave it alone. */
async function load(specifier: string): Promise<Outcome> {
  try {
    await import(/* @vite-ignore */ specifier)
    return { ok: true, reason: 'loaded' }
  } catch (err) {
    return { ok: false, reason: `could not load ${specifier}: ${messageOf(err)}` }
  }
}

/** Whether the machine shows an NVIDIA GPU that CUDA may use. */
function cudaDevice(): Outcome {
  const visible = process.env.CUDA_VISIBLE_DEVICES
  if (visible != null && (visible.trim() === '' || visible.trim() === '-1')) {
    return { ok: false, reason: `no CUDA device (CUDA_VISIBLE_DEVICES="${visible}")` }
  }
  if (process.platform !== 'linux') return { ok: true, reason: 'device presence not checked on this platform' }
  const gpus = listDir('/proc/driver/nvidia/gpus')
  if (gpus.length > 0) return { ok: true, reason: `${gpus.length} NVIDIA GPU${gpus.length > 1 ? 's' : ''}` }
  if (fs.existsSync('/dev/nvidia0')) return { ok: true, reason: '/dev/nvidia0 present' }
  return { ok: false, reason: 'no CUDA device (no NVIDIA driver or GPU: /proc/driver/nvidia/gpus and /dev/nvidia0 missing)' }
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir)
  } catch {
    return []
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
