/**
 * The bundled CLI (bin/cliBundle.mjs) running the commands that find files or start other processes: `scan
 * --workers 2` (worker processes, decode threads), `classify`, `codes` + `embed` (umap-js, bundled), `import-
 * torchvision --help` (its Python script), `serve` (the engine process, the window's files). Each runs as a user
 * runs it, on a copy of this checkout, and is compared with the same command run from the sources (under tsx,
 * as a process where it starts processes, else in this one).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { classifyCommand } from '../../src/main/cli/classifyCommand'
import { codesCommand } from '../../src/main/cli/codesCommand'
import { embedCommand } from '../../src/main/cli/embedCommand'
import { generateDemoDataset } from '../../src/main/engine/demo'
import { MANIFEST_FILE } from '../../src/main/engine/scan/manifest'
import { runCli } from '../fixtures/cli'
import { copyCheckout } from '../helpers/checkoutCopy'
import { servingUrl } from '../helpers/servingUrl'

const run = promisify(execFile)
let scratch = ''
let copy = ''
let data = ''
let gap = ''

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'convscope-bundled-cli-'))
  const entries = ['src/main', 'src/shared', 'bin', 'resources', 'scripts/torchvision', 'package.json', 'tsconfig.node.json', 'electron.vite.config.ts']
  copy = await copyCheckout(join(scratch, 'checkout'), entries)
  // serve's window: a stand-in page, newer than the sources, so that serve does not build the renderer
  await mkdir(join(copy, 'out', 'renderer'), { recursive: true })
  await writeFile(join(copy, 'out', 'renderer', 'index.html'), '<!doctype html><div id="app">stand-in</div>')
  await generateDemoDataset({ out: join(scratch, 'demo'), count: { train: 0, val: 2 }, classes: 4, size: 72, seed: 5 })
  data = join(scratch, 'demo', 'val')
  gap = join(copy, 'resources', 'demo-models', 'gap')
})
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

/** The copy's convscope with `args`: bundled (CONVSCOPE_DEBUG names any build or tsx fallback on stderr), or from the sources. */
async function convscope(how: 'bundle' | 'sources', ...args: string[]): Promise<{ out: string; err: string }> {
  const env = { ...process.env, CONVSCOPE_DEBUG: how === 'bundle' ? '1' : '', CONVSCOPE_CLI_BUNDLE: how === 'bundle' ? '1' : '0', CONVSCOPE_BACKEND: 'cpu' }
  const { stdout, stderr } = await run(process.execPath, [join(copy, 'bin', 'convscope.mjs'), ...args], { env, maxBuffer: 1 << 24 })
  if (how === 'bundle') assert.doesNotMatch(stderr, /running the sources with tsx/)
  return { out: stdout, err: stderr }
}

/** The result files of a scan or codes folder: .npy bytes, and the manifest without its timings. */
async function results(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>()
  for (const name of (await readdir(dir)).sort()) {
    if (name.endsWith('.npy')) files.set(name, (await readFile(join(dir, name))).toString('base64'))
  }
  const manifest = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8').catch(() => '{}')) as Record<string, unknown>
  delete manifest.timing
  files.set(MANIFEST_FILE, JSON.stringify(manifest))
  return files
}

test('scan --workers 2, classify, codes and embed: the bundle writes what the sources write', async () => {
  const scan = (how: 'bundle' | 'sources') => convscope(how, 'scan', '--model', gap, '--data', data, '--out', join(scratch, `scan-${how}`), '--workers', '2', '--batch', '3', '--top', '3')
  await scan('bundle')
  await scan('sources')
  const scanned = await results(join(scratch, 'scan-bundle'))
  assert.ok([...scanned.keys()].some((n) => n.endsWith('.npy')), 'the scan wrote its arrays')
  assert.deepEqual(scanned, await results(join(scratch, 'scan-sources')))

  const classifyArgs = ['--model', gap, '--data', data, '--json', '--backend', 'cpu']
  const classified = JSON.parse((await convscope('bundle', 'classify', ...classifyArgs)).out)
  assert.equal(classified.overall.images, 8)
  assert.deepEqual(classified, JSON.parse((await runCli(classifyCommand, classifyArgs)).out))

  const codes = join(scratch, 'codes')
  await convscope('bundle', 'codes', gap, data, '--out', codes, '--workers', '1')
  assert.equal((await runCli(codesCommand, [gap, data, '--out', join(scratch, 'codes-sources'), '--workers', '1', '--backend', 'cpu'])).code, 0)
  assert.deepEqual(await results(codes), await results(join(scratch, 'codes-sources')))
  const umapArgs = [codes, '--method', 'umap', '--set', 'nNeighbors=4', '--json']
  const umap = JSON.parse((await convscope('bundle', 'embed', ...umapArgs)).out)
  assert.deepEqual([umap.count, umap.cached], [8, false])
  const again = JSON.parse((await runCli(embedCommand, umapArgs)).out)
  assert.deepEqual([again.file, again.cached], [umap.file, true], 'the sources find the bundle\'s map under the same settings')
})

test('import-torchvision --help, and serve starts its engine, answers its page and stops', async () => {
  const usage = await convscope('bundle', 'import-torchvision', '--help')
  assert.match(usage.out, /^usage: convscope import-torchvision NAME/)

  const child = spawn(process.execPath, [join(copy, 'bin', 'convscope.mjs'), 'serve', '--port', '0', '--no-demo', '--backend', 'cpu', '--workspace', join(scratch, 'workspace')], {
    env: { ...process.env, CONVSCOPE_DEBUG: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((done) => child.once('exit', done))
  const served = servingUrl(child)
  const output = served.output
  try {
    const url = await served.url
    assert.doesNotMatch(output(), /building the window|running the sources with tsx/)
    const page = await fetch(url)
    assert.equal(page.status, 200, output())
    assert.match(await page.text(), /stand-in/)
  } finally {
    child.kill('SIGTERM')
  }
  assert.equal(await exited, 0, output())
})
