import { utilityProcess } from 'electron'
import { forwardEngineOutput, outputTail, type SpawnEngine } from '../host/engineHost'

/**
 * The engine as an Electron utilityProcess: a Node process that Electron starts and stops with the app,
 * talking through process.parentPort with structured clone (Float32Array crosses as is).
 */
export const spawnUtilityEngine: SpawnEngine = (entry, args, name = 'engine') => {
  const child = utilityProcess.fork(entry.path, args, {
    serviceName: `convscope ${name}`,
    stdio: 'pipe',
    execArgv: entry.execArgv,
  })
  const tail = outputTail()
  forwardEngineOutput(child.stdout, () => {}, `[${name}] `)
  forwardEngineOutput(child.stderr, tail.add, `[${name}] `)
  let exited = false
  child.on('exit', () => {
    exited = true
  })
  // A fatal error in the engine (V8 OOM, native crash) comes here, then 'exit'; keep the report for the error message.
  child.on('error', (type, location) => tail.add(`${type} at ${location}\n`))
  return {
    get pid() {
      return child.pid
    },
    send(message) {
      if (!exited) child.postMessage(message)
    },
    onMessage: (listener) => void child.on('message', listener),
    onExit: (listener) => void child.on('exit', (code) => listener(code, null)),
    recentOutput: tail.text,
    kill: () => void child.kill(),
  }
}
