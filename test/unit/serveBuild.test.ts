/**
 * `convscope serve` right after `npm install` (issue 9): out/renderer is missing, so serve builds it first,
 * saying so, and then answers the window instead of 503 "renderer is not built". The decision
 * (staleBuildReason) on a made-up tree, and serve itself on a copy of this project without out/.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { cp, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { RENDERER_BUILD, staleBuildReason } from '../../src/main/cli/staleBuild'
import { servingUrl } from '../helpers/servingUrl'

const ROOT = resolve(import.meta.dirname, '../..')
let tmp: string

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'convscope-serve-build-'))
})
after(async () => {
  await rm(tmp, { recursive: true, force: true })
})

/** Set a file's modification time to `seconds` after the epoch. */
const age = (path: string, seconds: number) => utimes(path, seconds, seconds)

test('the renderer is stale when its output is missing or older than a renderer, shared or config source', async () => {
  const root = join(tmp, 'tree')
  for (const dir of ['src/renderer', 'src/shared', 'src/main', 'out/renderer']) await mkdir(join(root, dir), { recursive: true })
  const files = { view: 'src/renderer/App.vue', shared: 'src/shared/api.ts', main: 'src/main/engine.ts', config: 'electron.vite.config.ts', pkg: 'package.json' }
  for (const f of Object.values(files)) {
    await writeFile(join(root, f), '')
    await age(join(root, f), 1000)
  }
  for (const dir of ['src/renderer', 'src/shared', 'src/main', 'src']) await age(join(root, dir), 1000)
  assert.equal(staleBuildReason(root, RENDERER_BUILD), 'out/renderer/index.html is missing')

  const output = join(root, 'out/renderer/index.html')
  await writeFile(output, '<!doctype html>')
  await age(output, 2000)
  assert.equal(staleBuildReason(root, RENDERER_BUILD), null, 'built after every source')

  await age(join(root, files.main), 3000)
  assert.equal(staleBuildReason(root, RENDERER_BUILD), null, 'the main process is not part of the renderer')
  for (const f of [files.view, files.shared, files.config, files.pkg]) {
    await age(join(root, f), 3000)
    assert.equal(staleBuildReason(root, RENDERER_BUILD), 'the sources changed since the last build', `${f} is newer than the build`)
    await age(join(root, f), 1000)
  }
})

test('serve on a checkout without out/ builds the renderer, says so, then serves the window', { timeout: 300_000 }, async () => {
  const copy = join(tmp, 'checkout')
  await mkdir(copy)
  for (const entry of ['src', 'bin', 'resources', 'package.json', 'electron.vite.config.ts', 'tsconfig.json', 'tsconfig.node.json', 'tsconfig.web.json']) {
    await cp(join(ROOT, entry), join(copy, entry), { recursive: true })
  }
  await symlink(join(ROOT, 'node_modules'), join(copy, 'node_modules'))

  const child = spawn(process.execPath, [join(copy, 'bin', 'convscope.mjs'), 'serve', '--port', '0', '--no-demo', '--backend', 'cpu', '--workspace', join(tmp, 'workspace')], {
    cwd: copy,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const served = servingUrl(child, 300_000)
  try {
    const url = await served.url
    const output = served.output()
    assert.match(output, /convscope: building the window \(out\/renderer\/index\.html is missing\)/)
    const page = await fetch(url)
    assert.equal(page.status, 200, output)
    assert.match(await page.text(), /<div id="app">/)
  } finally {
    child.kill('SIGTERM')
  }
})
