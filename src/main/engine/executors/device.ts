/**
 * Which onnxruntime execution provider runs forward work (issue 11, item 3): `--device auto|cpu|cuda|dml|coreml`,
 * i.e. CONVSCOPE_DEVICE read at call time. `auto` takes the platform's accelerator (Linux x64: CUDA, Windows:
 * DirectML, macOS: CoreML) where a real session runs on it, else the CPU, with the reason.
 *
 * Whether a provider works is asked of a child process (the probe below): onnxruntime-node's own list of the
 * backends its build has, the provider's library where the package does not bundle it (CUDA's is installed
 * separately), then a one-node session created and run on that provider alone; its error text is the reason.
 * A child, because a provider may crash or print native logs (a broken driver must not take the engine down or
 * fill the CLI's stderr), and because a synchronous answer keeps forwardExecutor synchronous. Cached per process.
 * CUDA's library missing (the usual case on Linux) is seen without a child: auto costs nothing there.
 */
import { execFile, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { basename, dirname, join } from 'node:path'
import { ConvscopeError, DeviceChoice, DeviceName, type DeviceAvailability } from '../../../shared/api'
import { ModelProtoType } from '../models/onnx/proto'

export const DEVICE_ENV = 'CONVSCOPE_DEVICE'
/** The executor choice's variable (read by executorChoice, onnxRuntime.ts); flags and the Workspace setting set both. */
export const EXECUTOR_ENV = 'CONVSCOPE_EXECUTOR'

/** The devices in table order. */
export const DEVICES: readonly DeviceName[] = DeviceName.options

const LABELS: Record<DeviceName, string> = { cpu: 'CPU', cuda: 'CUDA', dml: 'DirectML', coreml: 'CoreML' }

/** What a CUDA 12 user runs to add onnxruntime-node's CUDA provider (checked against 1.30's script/install.js). */
export const CUDA_INSTALL = 'npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12'

/** The device choice from a flag's or CONVSCOPE_DEVICE's text ('' or absent: auto); BAD_REQUEST naming `source` otherwise. */
export function deviceChoice(text: string | undefined = process.env[DEVICE_ENV], source = DEVICE_ENV): DeviceChoice {
  const parsed = DeviceChoice.safeParse(text === undefined || text === '' ? 'auto' : text)
  if (!parsed.success) throw new ConvscopeError('BAD_REQUEST', `${source} is "${text}"; use ${DeviceChoice.options.join(', ')}`)
  return parsed.data
}

/** The accelerator onnxruntime-node offers on a platform, or null (then auto is the CPU). */
export function platformAccelerator(platform: string = process.platform, arch: string = process.arch): DeviceName | null {
  if (platform === 'linux' && arch === 'x64') return 'cuda'
  if (platform === 'win32') return 'dml'
  if (platform === 'darwin') return 'coreml'
  return null
}

/** How a device's availability is found: the probe by default; tests put a platform and answers of their own. */
export interface DeviceFacts {
  accelerator: DeviceName | null
  availability(device: DeviceName): DeviceAvailability
}

const realFacts: DeviceFacts = { accelerator: platformAccelerator(), availability: deviceAvailability }

export interface DeviceInUse {
  device: DeviceName
  reason: string
}

/**
 * The device onnxruntime sessions use for `choice`. auto falls back to the CPU with the accelerator's reason; an
 * explicit device that cannot run here is a BAD_REQUEST with the reason (and, for CUDA, the install line).
 */
export function deviceInUse(choice: DeviceChoice = deviceChoice(), facts: DeviceFacts = realFacts): DeviceInUse {
  if (choice === 'cpu') return { device: 'cpu', reason: 'chosen' }
  if (choice !== 'auto') {
    const a = facts.availability(choice)
    if (!a.available) throw unavailable(a)
    return { device: choice, reason: `chosen; ${a.reason}` }
  }
  const accelerator = facts.accelerator
  if (accelerator === null) return { device: 'cpu', reason: `auto: onnxruntime-node has no accelerator provider for ${process.platform}/${process.arch}` }
  const a = facts.availability(accelerator)
  if (a.available) return { device: accelerator, reason: `auto: ${a.reason}` }
  return { device: 'cpu', reason: `auto: ${LABELS[accelerator]} is not available: ${a.reason}` }
}

/** The error for an explicitly chosen device that cannot run here. */
function unavailable(a: DeviceAvailability): ConvscopeError {
  const hint = a.device === 'cuda' ? ` To use CUDA 12 on Linux x64 (with cuDNN 9): ${CUDA_INSTALL}, or choose --device auto or cpu.` : ' Choose --device auto or cpu.'
  return new ConvscopeError('BAD_REQUEST', `device ${a.device} (${LABELS[a.device]}) is not available: ${a.reason}.${hint}`)
}

/** The execution providers a session is created with, in order of preference (the CPU takes what a device cannot run). */
export function executionProviders(device: DeviceName = deviceInUse().device): string[] {
  return device === 'cpu' ? ['cpu'] : [device, 'cpu']
}

/** onnxruntime-node's version and the backends its build lists here, as the last probe saw them (null before one ran, or when it does not load). */
export function runtimeFacts(): { version: string; backends: string[] } | null {
  for (const p of probes.values()) if (p.runtime) return p.runtime
  return null
}

// ---- the probe ----

export interface ProbeResult extends DeviceAvailability {
  runtime: { version: string; backends: string[] } | null
}

const probes = new Map<DeviceName, ProbeResult>()
const pending = new Map<DeviceName, Promise<ProbeResult>>()

/** Whether onnxruntime runs on `device` here (probed once per process; synchronous: blocks until the probe ends). */
export function deviceAvailability(device: DeviceName): DeviceAvailability {
  const result = probes.get(device) ?? missingLibrary(device) ?? probeInChild(device)
  probes.set(device, result)
  return withoutRuntime(result)
}

/** The child's answer for `device`, every time (no cache, no shortcut). */
export function probeInChild(device: DeviceName): ProbeResult {
  const [file, args, options] = probeCommand(device)
  const r = spawnSync(file, args, { ...options, encoding: 'utf8' })
  return readProbe(device, r.stdout, r.stderr, r.status, r.signal, r.error)
}

/** Every device's availability (probed in parallel, once per process), in table order. */
export async function deviceTable(): Promise<DeviceAvailability[]> {
  return Promise.all(DEVICES.map(async (device) => withoutRuntime(probes.get(device) ?? (await probeAsync(device)))))
}

function probeAsync(device: DeviceName): Promise<ProbeResult> {
  const missing = missingLibrary(device)
  if (missing) return Promise.resolve(missing)
  let p = pending.get(device)
  if (!p) {
    const [file, args, options] = probeCommand(device)
    p = new Promise<ProbeResult>((done) => {
      execFile(file, args, options, (error, stdout, stderr) => {
        const status = error ? (typeof error.code === 'number' ? error.code : null) : 0
        const spawnError = error && typeof error.code === 'string' ? error : undefined
        done(readProbe(device, String(stdout), String(stderr), status, error?.signal ?? null, spawnError))
      })
    }).then((result) => (probes.set(device, result), result))
    pending.set(device, p)
  }
  return p
}

const withoutRuntime = ({ device, available, reason }: ProbeResult): DeviceAvailability => ({ device, available, reason })

/** CUDA can take a while to initialise; a probe that hangs longer than this says so instead of blocking forever. */
const PROBE_TIMEOUT_MS = 60_000

/** onnxruntime-node's entry module (its dist/index.js), or its bare name where it cannot be resolved (the probe then says so). */
function runtimeEntry(): string {
  try {
    return createRequire(import.meta.url).resolve('onnxruntime-node')
  } catch {
    return 'onnxruntime-node'
  }
}

/** Where onnxruntime-node keeps a provider's own library when it is not part of the main one (CUDA's, installed separately). */
function providerLibrary(device: DeviceName): string {
  const dir = join(dirname(runtimeEntry()), '..', 'bin', 'napi-v6', process.platform, process.arch)
  return join(dir, process.platform === 'win32' ? `onnxruntime_providers_${device}.dll` : `libonnxruntime_providers_${device}.so`)
}

const notInstalled = (device: DeviceName, library: string): ProbeResult => ({
  device,
  available: false,
  reason: `the ${LABELS[device]} provider is not installed (${basename(library)} is not in ${dirname(library)})`,
  runtime: null,
})

/** CUDA on Linux without its library: known without a probe (the probe finds the same for any unbundled provider). */
function missingLibrary(device: DeviceName): ProbeResult | null {
  if (device !== 'cuda' || process.platform !== 'linux') return null
  const library = providerLibrary(device)
  return existsSync(library) ? null : notInstalled(device, library)
}

function probeCommand(device: DeviceName): [string, string[], { env: NodeJS.ProcessEnv; timeout: number; maxBuffer: number }] {
  const model = Buffer.from(probeModel()).toString('base64')
  const args = ['-e', PROBE_SCRIPT, runtimeEntry(), device, providerLibrary(device), model]
  // ELECTRON_RUN_AS_NODE: inside the app, process.execPath is Electron; this makes it plain Node.
  return [process.execPath, args, { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, timeout: PROBE_TIMEOUT_MS, maxBuffer: 1 << 20 }]
}

/** The probe's answer from its output; a probe that crashed or timed out is the reason itself. */
export function readProbe(
  device: DeviceName,
  stdout: string,
  stderr: string,
  status: number | null,
  signal: string | null,
  error?: Error,
): ProbeResult {
  const line = stdout.split('\n').find((l) => l.startsWith('{'))
  if (line) {
    try {
      const r = JSON.parse(line) as { ok: boolean; reason: string; missing?: string; version?: string; backends?: string[] }
      const runtime = r.version ? { version: r.version, backends: r.backends ?? [] } : null
      if (r.missing) return { ...notInstalled(device, r.missing), runtime }
      return { device, available: r.ok, reason: r.reason, runtime }
    } catch {
      // fall through: an unreadable answer is a failed probe
    }
  }
  const tail = stderr.trim().split('\n').slice(-3).join(' ').slice(-400)
  const how = error ? error.message : signal ? `was killed by ${signal}${signal === 'SIGTERM' ? ` (no answer in ${PROBE_TIMEOUT_MS / 1000} s)` : ''}` : `exited with status ${status}`
  return { device, available: false, reason: `the ${LABELS[device]} probe ${how}${tail ? `: ${tail}` : ''}`, runtime: null }
}

let probeBytes: Uint8Array | null = null

/** y = Relu(x), x float [2]: the smallest model every provider runs. */
function probeModel(): Uint8Array {
  const tensor = (name: string) => ({ name, type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 2 }] } } } })
  probeBytes ??= ModelProtoType.encode(
    ModelProtoType.fromObject({
      ir_version: 8,
      opset_import: [{ domain: '', version: 13 }],
      producer_name: 'convscope device probe',
      graph: { name: 'probe', node: [{ op_type: 'Relu', input: ['x'], output: ['y'] }], input: [tensor('x')], output: [tensor('y')] },
    }),
  ).finish()
  return probeBytes
}

/**
 * Run by `node -e` with argv [entry of onnxruntime-node, device, the provider's own library, model as base64];
 * prints one JSON line {ok, reason, missing?, version, backends}. Plain JavaScript in a string, so that no bundler
 * rewrites it.
 */
const PROBE_SCRIPT = String.raw`
const [entry, device, library, model] = process.argv.slice(1)
const label = { cpu: 'CPU', cuda: 'CUDA', dml: 'DirectML', coreml: 'CoreML' }[device]
const answer = (ok, reason, extra) => { process.stdout.write(JSON.stringify({ ok, reason, ...extra }) + '\n'); process.exit(0) }
const path = require('path'), fs = require('fs')
let ort
try { ort = require(entry) } catch (e) { answer(false, 'onnxruntime-node does not load: ' + String(e.message).split('\n')[0]) }
const version = ort.env.versions.node || require(path.join(path.dirname(entry), '..', 'package.json')).version
const list = ort.listSupportedBackends()
const facts = { version, backends: list.map((b) => b.name) }
const where = process.platform + '/' + process.arch
const backend = list.find((b) => b.name === device)
if (!backend) answer(false, 'onnxruntime-node ' + version + ' for ' + where + ' has no ' + label + ' provider (it has ' + facts.backends.join(', ') + ')', facts)
if (!backend.bundled && !fs.existsSync(library)) answer(false, '', { ...facts, missing: library })
;(async () => {
  const session = await ort.InferenceSession.create(Buffer.from(model, 'base64'), { executionProviders: [device], logSeverityLevel: 3 })
  const y = (await session.run({ x: new ort.Tensor('float32', new Float32Array([-2, 3]), [2]) })).y.data
  if (y[0] !== 0 || y[1] !== 3) answer(false, 'a one-node session on ' + label + ' computed Relu([-2, 3]) = [' + Array.from(y) + ']', facts)
  answer(true, 'a one-node session ran on ' + label + ' (onnxruntime-node ' + version + ')', facts)
})().catch((e) => answer(false, String(e && e.message || e).trim().split('\n')[0].slice(0, 400), facts))
`

/** For tests: forget the probes (another process would start with none). */
export function forgetProbes(): void {
  probes.clear()
  pending.clear()
}
