/**
 * onnxruntime devices (issue 11, item 3: executors/device.ts, executors/settings.ts, the CLI's --device / --executor).
 * No GPU here: the choice and the fallback are tested with stated facts (a platform, which devices work), and the
 * real probe on this machine (Linux x64 without onnxruntime-node's CUDA provider): auto falls back to the CPU with
 * the reason, an explicit `cuda` is a BAD_REQUEST with the install line, the executor is named `onnxruntime-cpu`.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConvscopeError, DeviceName, type DeviceAvailability } from '../../src/shared/api'
import { initBackend } from '../../src/main/engine/backend'
import {
  CUDA_INSTALL,
  DEVICE_ENV,
  deviceAvailability,
  deviceChoice,
  deviceInUse,
  deviceTable,
  EXECUTOR_ENV,
  executionProviders,
  platformAccelerator,
  probeInChild,
  readProbe,
  runtimeFacts,
  type DeviceFacts,
} from '../../src/main/engine/executors/device'
import { forwardExecutor, isOnnxRuntime } from '../../src/main/engine/executors/onnxRuntime'
import { ExecutorSettingsStore } from '../../src/main/engine/executors/settings'
import type { LoadedModel } from '../../src/main/engine/model'
import { loadModel } from '../../src/main/engine/models/loadModel'
import { applyExecutorOptions } from '../../src/main/cli/options'
import { main } from '../../src/main/cli/index'

const TINY = join(import.meta.dirname, '../fixtures/onnx/tiny_cnn.onnx')
/** The machine CI runs on: Linux x64, onnxruntime-node installed with its CUDA download skipped (.npmrc). */
const linuxX64 = process.platform === 'linux' && process.arch === 'x64'

let model: LoadedModel
let workspace = ''
const saved = { executor: process.env[EXECUTOR_ENV], device: process.env[DEVICE_ENV] }

function restoreEnv(): void {
  for (const [name, value] of [[EXECUTOR_ENV, saved.executor], [DEVICE_ENV, saved.device]] as const) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
}

before(async () => {
  await initBackend({ forced: 'wasm' })
  model = await loadModel(TINY)
  workspace = await mkdtemp(join(tmpdir(), 'convscope-device-'))
})
after(async () => {
  model?.dispose()
  restoreEnv()
  await rm(workspace, { recursive: true, force: true })
})

/** Facts of a made-up machine: `accelerator`, and the devices that work on it. */
function facts(accelerator: DeviceName | null, working: DeviceName[]): DeviceFacts {
  return {
    accelerator,
    availability: (device): DeviceAvailability =>
      working.includes(device) ? { device, available: true, reason: `ran on ${device}` } : { device, available: false, reason: `${device} is missing` },
  }
}

const badRequest = (pattern: RegExp) => (e: unknown) => e instanceof ConvscopeError && e.code === 'BAD_REQUEST' && pattern.test(e.message)

test('the device choice: auto by default, the five names, a clear error naming where a bad one came from', () => {
  assert.equal(deviceChoice(undefined), 'auto')
  assert.equal(deviceChoice(''), 'auto')
  for (const name of ['auto', 'cpu', 'cuda', 'dml', 'coreml']) assert.equal(deviceChoice(name), name)
  assert.throws(() => deviceChoice('gpu'), badRequest(/^CONVSCOPE_DEVICE is "gpu"; use auto, cpu, cuda, dml, coreml$/))
  assert.throws(() => deviceChoice('CUDA', '--device'), badRequest(/^--device is "CUDA"/))
})

test("each platform's accelerator: CUDA on Linux x64, DirectML on Windows, CoreML on macOS, none elsewhere", () => {
  assert.equal(platformAccelerator('linux', 'x64'), 'cuda')
  assert.equal(platformAccelerator('linux', 'arm64'), null)
  assert.equal(platformAccelerator('win32', 'x64'), 'dml')
  assert.equal(platformAccelerator('win32', 'arm64'), 'dml')
  assert.equal(platformAccelerator('darwin', 'arm64'), 'coreml')
})

test('auto takes the accelerator where it works, else the CPU with its reason; an explicit device that cannot run is refused', () => {
  assert.deepEqual(deviceInUse('auto', facts('cuda', ['cpu', 'cuda'])), { device: 'cuda', reason: 'auto: ran on cuda' })
  assert.deepEqual(deviceInUse('auto', facts('dml', ['cpu'])), { device: 'cpu', reason: 'auto: DirectML is not available: dml is missing' })
  assert.match(deviceInUse('auto', facts(null, ['cpu'])).reason, /^auto: onnxruntime-node has no accelerator provider for /)
  assert.deepEqual(deviceInUse('cpu', facts('cuda', ['cpu', 'cuda'])), { device: 'cpu', reason: 'chosen' })
  assert.deepEqual(deviceInUse('coreml', facts('coreml', ['cpu', 'coreml'])), { device: 'coreml', reason: 'chosen; ran on coreml' })
  assert.throws(() => deviceInUse('cuda', facts('cuda', ['cpu'])), (e) => badRequest(/^device cuda \(CUDA\) is not available: cuda is missing\./)(e) && (e as Error).message.includes(CUDA_INSTALL))
  assert.throws(() => deviceInUse('dml', facts(null, ['cpu'])), badRequest(/^device dml \(DirectML\) is not available: dml is missing\. Choose --device auto or cpu\.$/))
})

test('providers per device: the device first, the CPU for what it cannot run', () => {
  assert.deepEqual(executionProviders('cpu'), ['cpu'])
  assert.deepEqual(executionProviders('cuda'), ['cuda', 'cpu'])
  assert.deepEqual(executionProviders('dml'), ['dml', 'cpu'])
  assert.deepEqual(executionProviders('coreml'), ['coreml', 'cpu'])
})

test('a probe that crashed or hung is unavailable, with how it ended and the end of its stderr', () => {
  const crashed = readProbe('cuda', '', 'loading the driver\nSegmentation fault\n', null, 'SIGSEGV')
  assert.deepEqual(crashed, { device: 'cuda', available: false, reason: 'the CUDA probe was killed by SIGSEGV: loading the driver Segmentation fault', runtime: null })
  assert.match(readProbe('dml', '', '', null, 'SIGTERM').reason, /^the DirectML probe was killed by SIGTERM \(no answer in 60 s\)$/)
  assert.match(readProbe('cpu', 'not json\n', 'oops', 3, null).reason, /^the CPU probe exited with status 3: oops$/)
  const answered = readProbe('cpu', '{"ok":true,"reason":"ran","version":"1.30.0","backends":["cpu"]}\n', 'a native log line', 0, null)
  assert.deepEqual(answered, { device: 'cpu', available: true, reason: 'ran', runtime: { version: '1.30.0', backends: ['cpu'] } })
  const missing = readProbe('cuda', '{"ok":false,"reason":"","missing":"/ort/bin/libonnxruntime_providers_cuda.so","version":"1.30.0","backends":["cpu","cuda"]}\n', '', 0, null)
  assert.equal(missing.reason, 'the CUDA provider is not installed (libonnxruntime_providers_cuda.so is not in /ort/bin)')
})

test('this machine, probed for real: the CPU runs a session; CUDA, DirectML and CoreML are unavailable, each with its reason', { skip: !linuxX64 && 'the reasons asserted are those of Linux x64' }, async () => {
  const table = await deviceTable()
  assert.deepEqual(table.map((d) => d.device), DeviceName.options)
  const [cpu, cuda, dml, coreml] = table
  assert.deepEqual(cpu, { device: 'cpu', available: true, reason: `a one-node session ran on CPU (onnxruntime-node ${runtimeFacts()?.version})` })
  assert.equal(cuda!.available, false)
  assert.match(cuda!.reason, /^the CUDA provider is not installed \(libonnxruntime_providers_cuda\.so is not in .*onnxruntime-node\/bin\/napi-v6\/linux\/x64\)$/)
  assert.match(dml!.reason, /^onnxruntime-node 1\.\d+\.\d+ for linux\/x64 has no DirectML provider \(it has cpu, .*cuda.*\)$/)
  assert.match(coreml!.reason, /has no CoreML provider/)
  // The synchronous answer is the same; so is the child's, which the table skipped for CUDA's missing library.
  assert.deepEqual(deviceAvailability('cuda'), cuda)
  const child = probeInChild('cuda')
  assert.deepEqual({ device: child.device, available: child.available, reason: child.reason }, cuda)
  assert.ok(child.runtime?.backends.includes('cuda'), "onnxruntime-node's own list names cuda on Linux x64 (not bundled)")

  assert.deepEqual(deviceInUse('auto'), { device: 'cpu', reason: `auto: CUDA is not available: ${cuda!.reason}` })
  assert.throws(() => deviceInUse('cuda'), (e) => badRequest(/^device cuda \(CUDA\) is not available: the CUDA provider is not installed/)(e) && (e as Error).message.includes(CUDA_INSTALL))
})

test('the executor is named after its device: onnxruntime-cpu here; an explicit device that cannot run refuses the forward work', { skip: !linuxX64 && 'CUDA is missing on this Linux x64 machine only' }, () => {
  try {
    process.env[DEVICE_ENV] = 'auto'
    assert.equal(forwardExecutor(model, 'auto'), 'onnxruntime-cpu')
    process.env[DEVICE_ENV] = 'cpu'
    assert.equal(forwardExecutor(model, 'onnxruntime'), 'onnxruntime-cpu')
    assert.equal(forwardExecutor(model, 'tfjs'), 'tfjs-wasm', 'tfjs does not look at the device')
    process.env[DEVICE_ENV] = 'cuda'
    assert.throws(() => forwardExecutor(model, 'auto'), badRequest(/^device cuda \(CUDA\) is not available/))
    assert.ok(isOnnxRuntime('onnxruntime-cuda') && isOnnxRuntime('onnxruntime-cpu') && !isOnnxRuntime('tfjs-wasm') && !isOnnxRuntime(undefined))
  } finally {
    restoreEnv()
  }
})

test('--executor / --device set the variables that workers and engines inherit; bad or unavailable values fail first', { skip: !linuxX64 && 'CUDA is missing on this Linux x64 machine only' }, () => {
  const env: NodeJS.ProcessEnv = {}
  applyExecutorOptions({ executor: 'onnxruntime', device: 'cpu' }, env)
  assert.deepEqual(env, { [EXECUTOR_ENV]: 'onnxruntime', [DEVICE_ENV]: 'cpu' })
  applyExecutorOptions({}, env)
  assert.deepEqual(env, { [EXECUTOR_ENV]: 'onnxruntime', [DEVICE_ENV]: 'cpu' }, 'absent flags leave the environment as it is')
  assert.throws(() => applyExecutorOptions({ executor: 'gpu' }, env), badRequest(/^--executor is "gpu"; use auto, tfjs or onnxruntime$/))
  assert.throws(() => applyExecutorOptions({ device: 'cuda' }, env), (e) => badRequest(/^device cuda/)(e) && (e as Error).message.includes(CUDA_INSTALL))
  assert.equal(env[DEVICE_ENV], 'cpu', 'a refused device is not set')
})

test('the CLI (a command, serve) refuses --device cuda here with the reason and the install line (exit 2)', { skip: !linuxX64 && 'CUDA is missing on this Linux x64 machine only' }, async () => {
  const errors: string[] = []
  const original = console.error
  console.error = (...args: unknown[]) => void errors.push(args.join(' '))
  try {
    assert.equal(await main(['info', TINY, '--device', 'cuda']), 2)
    assert.equal(await main(['info', TINY, '--device', 'gpu']), 2)
    // Served mode refuses before it builds or serves anything.
    assert.equal(await main(['serve', '--device', 'cuda', '--port', '0']), 2)
  } finally {
    console.error = original
    restoreEnv()
  }
  assert.match(errors[0]!, /^convscope info: device cuda \(CUDA\) is not available: the CUDA provider is not installed/)
  assert.ok(errors[0]!.includes(CUDA_INSTALL))
  assert.match(errors[1]!, /^convscope info: --device is "gpu"/)
  assert.match(errors[2]!, /^convscope serve: device cuda \(CUDA\) is not available/)
})

test("the Workspace setting: saved in the workspace, applied to the process, refused where forced or unavailable; the report's rows", { skip: !linuxX64 && 'CUDA is missing on this Linux x64 machine only' }, async () => {
  const env: NodeJS.ProcessEnv = {}
  const store = new ExecutorSettingsStore(workspace, {}, env)
  try {
    await store.load()
    assert.deepEqual(store.current(), { executor: 'auto', device: 'auto' })
    // The report reads the process's variables: point them at this store's.
    Object.assign(process.env, env)
    let report = await store.report(model)
    assert.deepEqual(report.devices.map((d) => [d.device, d.available]), [['cpu', true], ['cuda', false], ['dml', false], ['coreml', false]])
    assert.deepEqual(report.deviceInUse.device, 'cpu')
    assert.match(report.deviceInUse.reason, /^auto: CUDA is not available/)
    assert.deepEqual(report.model, { modelId: model.info.id, executor: 'onnxruntime-cpu', reason: null })
    assert.equal(report.executor.forcedBy, null)

    await store.save({ executor: 'tfjs', device: 'cpu' })
    assert.deepEqual(JSON.parse(await readFile(join(workspace, 'settings.json'), 'utf8')), { executor: 'tfjs', device: 'cpu' })
    assert.deepEqual([env[EXECUTOR_ENV], env[DEVICE_ENV]], ['tfjs', 'cpu'])
    Object.assign(process.env, env)
    report = await store.report(model)
    assert.deepEqual(report.model, { modelId: model.info.id, executor: 'tfjs-wasm', reason: 'tfjs is chosen' })

    await assert.rejects(store.save({ executor: 'auto', device: 'cuda' }), badRequest(/^device cuda \(CUDA\) is not available/))
    assert.deepEqual(JSON.parse(await readFile(join(workspace, 'settings.json'), 'utf8')), { executor: 'tfjs', device: 'cpu' }, 'a refused choice is not saved')

    // Another engine process of the workspace starts with the saved choice ...
    const other: NodeJS.ProcessEnv = {}
    await new ExecutorSettingsStore(workspace, {}, other).load()
    assert.deepEqual([other[EXECUTOR_ENV], other[DEVICE_ENV]], ['tfjs', 'cpu'])
    // ... unless a flag or variable forced one at its start: that one wins and cannot be changed here.
    const forcedEnv: NodeJS.ProcessEnv = { [DEVICE_ENV]: 'auto' }
    const forced = new ExecutorSettingsStore(workspace, {}, forcedEnv)
    await forced.load()
    assert.deepEqual(forced.current(), { executor: 'tfjs', device: 'auto' })
    await assert.rejects(forced.save({ executor: 'tfjs', device: 'cpu' }), badRequest(/^the device is auto, set by --device or CONVSCOPE_DEVICE/))
    await forced.save({ executor: 'onnxruntime', device: 'auto' })
    assert.equal(forcedEnv[EXECUTOR_ENV], 'onnxruntime')
    assert.deepEqual(JSON.parse(await readFile(join(workspace, 'settings.json'), 'utf8')), { executor: 'onnxruntime', device: 'cpu' }, 'the forced device is not saved')

    await writeFile(join(workspace, 'settings.json'), '{"executor": "gpu"}')
    const damaged: NodeJS.ProcessEnv = {}
    await new ExecutorSettingsStore(workspace, {}, damaged).load()
    assert.deepEqual([damaged[EXECUTOR_ENV], damaged[DEVICE_ENV]], ['auto', 'auto'], 'a damaged file is ignored')
  } finally {
    restoreEnv()
  }
})
