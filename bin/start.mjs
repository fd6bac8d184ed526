#!/usr/bin/env node
// `npm start`: the desktop app when an Electron binary is available, else served mode in the browser.
// Builds first when out/ is missing or older than the sources (both modes serve the built renderer).
//
//   npm start -- [--workspace DIR] [--backend NAME] [serve options such as --port 8080]
//   CONVSCOPE_SERVED=1 npm start     always use served mode
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { register } from 'tsx/esm/api'

register() // the staleness check is shared with `convscope serve` (TypeScript, run through tsx like bin/convscope.mjs)
const { APP_BUILD, buildIfStale } = await import('../src/main/cli/staleBuild.ts')

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const require = createRequire(import.meta.url)
const args = process.argv.slice(2)
// npm install skips electron's postinstall (package.json allowScripts): its binary download is tried once
// here, and a failure is remembered so that every later start does not wait for the network again.
const installFailedMarker = join(root, 'node_modules', '.cache', 'convscope', 'electron-download-failed')

/** Path of the Electron executable, or why there is none. */
function electronBinary() {
  try {
    const resolved = require.resolve('electron')
    delete require.cache[resolved]
    const path = require('electron')
    return typeof path === 'string' && existsSync(path) ? { path } : { why: `the Electron binary ${path} is missing` }
  } catch (error) {
    return { why: String(error.message).split('\n')[0] }
  }
}

function tryInstallElectronOnce() {
  const installer = join(root, 'node_modules', 'electron', 'install.js')
  if (!existsSync(installer) || existsSync(installFailedMarker)) return
  console.error('convscope: downloading the Electron binary (once; at most 60 s)...')
  const env = { ...process.env }
  delete env.ELECTRON_SKIP_BINARY_DOWNLOAD // install.js does nothing when it is set
  const result = spawnSync(process.execPath, [installer], { cwd: dirname(installer), env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 })
  if (result.status !== 0) {
    mkdirSync(dirname(installFailedMarker), { recursive: true })
    writeFileSync(installFailedMarker, `${new Date().toISOString()}\n${result.error?.message ?? result.stderr?.toString() ?? ''}\n`)
  }
}

/** Run a child with our stdio, pass Ctrl-C and kill on to it, and exit with its status. */
function runForwarding(command, commandArgs, env = process.env) {
  const child = spawn(command, commandArgs, { cwd: root, stdio: 'inherit', env })
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
}

function whyNotElectron() {
  if (process.env.CONVSCOPE_SERVED) return 'CONVSCOPE_SERVED is set'
  let electron = electronBinary()
  if (electron.path === undefined && existsSync(join(root, 'node_modules', 'electron')) && !existsSync(join(root, 'node_modules', 'electron', 'dist'))) {
    tryInstallElectronOnce()
    electron = electronBinary()
    if (electron.path === undefined && existsSync(installFailedMarker)) {
      electron.why = `the Electron binary could not be downloaded (run \`node bin/ensure-electron.mjs\` to retry; details in ${installFailedMarker})`
    }
  }
  if (electron.path === undefined) return electron.why
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return 'there is no display (DISPLAY and WAYLAND_DISPLAY are unset)'
  return { path: electron.path }
}

const choice = whyNotElectron()
if (!buildIfStale(root, APP_BUILD)) process.exit(1)
if (typeof choice === 'object') {
  const env = { ...process.env }
  delete env.ELECTRON_RUN_AS_NODE // set by some tools; it would make Electron run as plain Node
  // The project folder, not out/main/index.js: Electron then reads package.json (name, version, main).
  runForwarding(choice.path, [root, ...args], env)
} else {
  console.error(`convscope: not using Electron: ${choice}; starting served mode (open the URL below in a browser)`)
  runForwarding(process.execPath, [join(root, 'bin', 'convscope.mjs'), 'serve', ...args])
}
