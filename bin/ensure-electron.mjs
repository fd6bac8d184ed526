#!/usr/bin/env node
// `npm run dist` needs the Electron binary, which `npm install` does not download (package.json
// allowScripts turns electron's postinstall off). Download it now, or fail saying why.
import { spawnSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const require = createRequire(import.meta.url)
const installer = join(root, 'node_modules', 'electron', 'install.js')

function fail(message) {
  console.error(`ensure-electron: ${message}`)
  process.exit(1)
}

if (!existsSync(installer)) fail('node_modules/electron is missing: run `npm install` first.')
const { version } = require(join(root, 'node_modules', 'electron', 'package.json'))
const env = { ...process.env }
delete env.ELECTRON_SKIP_BINARY_DOWNLOAD // install.js does nothing when it is set
const result = spawnSync(process.execPath, [installer], { cwd: dirname(installer), env, stdio: 'inherit', timeout: 10 * 60_000 })

let binary = null
try {
  delete require.cache[require.resolve('electron')]
  binary = require('electron')
} catch {}
if (result.status !== 0 || !binary || !existsSync(binary)) {
  fail(
    `could not download the Electron ${version} binary (${result.error?.message ?? `installer exit status ${result.status}`}).\n` +
      'It comes from github.com/electron/electron/releases: check network access, or set ELECTRON_MIRROR to a reachable mirror,\n' +
      'or put an already downloaded electron-v' + version + '-<platform>-<arch>.zip in the cache folder (electron_config_cache). ' +
      'Served mode (`npm run serve`) needs no Electron binary.',
  )
}
// A failed attempt by `npm start` is remembered there; it no longer applies.
rmSync(join(root, 'node_modules', '.cache', 'convscope', 'electron-download-failed'), { force: true })
console.error(`ensure-electron: Electron ${version} is installed at ${binary}`)
