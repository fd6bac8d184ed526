/**
 * bin/cliBundle.mjs on a copy of this checkout: the first start builds the CLI bundle and later ones reuse it,
 * an edited source is never run stale, parallel starts never see half a build, and CONVSCOPE_CLI_BUNDLE=0 or a
 * failed build run the sources through tsx. Its entry list is checked against electron.vite.config.ts's.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
// @ts-expect-error: a plain .mjs script without types
import { ENTRIES } from '../../bin/cliBundle.mjs'
import { CHECKOUT as ROOT, copyCheckout } from '../helpers/checkoutCopy'

const run = promisify(execFile)
let copy = ''

before(async () => {
  copy = await copyCheckout(await mkdtemp(join(tmpdir(), 'convscope-cli-bundle-')), ['src/main', 'src/shared', 'bin', 'package.json', 'tsconfig.node.json'])
})
after(async () => {
  if (copy) await rm(copy, { recursive: true, force: true })
})

/** `convscope --help` in the copy: its stdout and stderr (CONVSCOPE_DEBUG on unless `env` says otherwise). */
async function help(env: Record<string, string> = {}): Promise<{ out: string; err: string }> {
  const { stdout, stderr } = await run(process.execPath, [join(copy, 'bin', 'convscope.mjs'), '--help'], { env: { ...process.env, CONVSCOPE_DEBUG: '1', ...env } })
  return { out: stdout, err: stderr }
}

const builds = async () => (await readdir(join(copy, 'out', 'cli'))).sort()

test('the bundled entries are the CLI and the main build entries the CLI starts (electron.vite.config.ts)', async () => {
  const config = await readFile(join(ROOT, 'electron.vite.config.ts'), 'utf8')
  const main = config.slice(config.indexOf('main:'), config.indexOf('preload:'))
  const inputs = Object.fromEntries([...main.matchAll(/(\w+): resolve\(__dirname, '([^']+)'\)/g)].map((m) => [m[1], m[2]]))
  delete inputs.index // the Electron shell, which the CLI never starts
  assert.ok(Object.keys(inputs).includes('engine'), 'the config was read')
  assert.deepEqual(ENTRIES, { cli: 'src/main/cli/index.ts', ...inputs })
})

test('the first start builds the bundle, the next reuses it, an edited source is rebuilt before it runs', async () => {
  const first = await help()
  assert.match(first.out, /^usage: convscope <command>/)
  assert.match(first.err, /built the CLI bundle b-[0-9a-f]{16}/)
  assert.doesNotMatch(first.err, /used once/)
  assert.doesNotMatch(first.err, /tsx/)
  const again = await help()
  assert.equal(again.err, '', 'fresh: nothing to build')
  assert.equal(again.out, first.out)

  const index = join(copy, 'src/main/cli/index.ts')
  await writeFile(index, (await readFile(index, 'utf8')).replace("'usage: convscope <command>", "'usage: convscope-edited <command>"))
  const edited = await help()
  assert.match(edited.out, /^usage: convscope-edited <command>/, 'the edit runs at once')
  assert.match(edited.err, /src\/main\/cli\/index\.ts changed during the last seconds: this build is used once/)
  const past = Date.now() / 1000 - 60
  await utimes(index, past, past)
  assert.match((await help()).err, /is stale \(src\/main\/cli\/index\.ts changed\)\n.*built the CLI bundle/)
  const settled = await help()
  assert.equal(settled.err, '')
  assert.match(settled.out, /^usage: convscope-edited/)
})

test('parallel starts on a stale bundle all run, and leave one whole build', async () => {
  await rm(join(copy, 'out'), { recursive: true, force: true })
  const outs = await Promise.all([help(), help()])
  for (const { out } of outs) assert.match(out, /^usage: convscope/)
  const names = await builds()
  assert.equal(names.filter((n) => n.startsWith('b-')).length, 1, names.join(', '))
  assert.deepEqual(names.filter((n) => !n.startsWith('b-')), ['current.json'], 'no temporary folder or record left')
  const build = join(copy, 'out', 'cli', names.find((n) => n.startsWith('b-'))!)
  assert.deepEqual((await readdir(build)).sort(), ['cli.js', 'decodeWorker.js', 'engine.js', 'package.json'])
})

test('a new build removes the builds past the newest 20 or a day old, and crashed builds\' temporary folders', async () => {
  await rm(join(copy, 'out'), { recursive: true, force: true })
  const cli = join(copy, 'out', 'cli')
  const minutesAgo = async (name: string, minutes: number) => {
    await mkdir(join(cli, name), { recursive: true })
    const at = Date.now() / 1000 - minutes * 60
    await utimes(join(cli, name), at, at)
  }
  for (let i = 0; i < 21; i++) await minutesAgo(`b-recent${String(i).padStart(2, '0')}`, i + 1)
  await minutesAgo('b-yesterday', 25 * 60)
  await minutesAgo('.tmp-1-crashed', 2 * 60)
  await minutesAgo('.tmp-2-building', 1)
  assert.match((await help()).err, /built the CLI bundle/)
  const names = await builds()
  const recent = Array.from({ length: 20 }, (_, i) => `b-recent${String(i).padStart(2, '0')}`)
  assert.deepEqual(names.filter((n) => n.startsWith('b-recent')), recent, 'the 21st newest is gone')
  assert.ok(!names.includes('b-yesterday') && !names.includes('.tmp-1-crashed'))
  assert.ok(names.includes('.tmp-2-building'), 'another start\'s build in progress is left alone')
})

test('CONVSCOPE_CLI_BUNDLE=0 and a build that cannot be written run the sources with tsx', async () => {
  await rm(join(copy, 'out'), { recursive: true, force: true })
  const forced = await help({ CONVSCOPE_CLI_BUNDLE: '0', CONVSCOPE_DEBUG: '' })
  assert.match(forced.out, /^usage: convscope/)
  assert.equal(forced.err, '')
  assert.ok(!existsSync(join(copy, 'out')), 'nothing built')

  await mkdir(join(copy, 'out'))
  await writeFile(join(copy, 'out', 'cli'), 'a file where the bundle folder goes')
  const failed = await help()
  assert.match(failed.out, /^usage: convscope/)
  assert.match(failed.err, /running the sources with tsx: the CLI bundle could not be built \(.*out\/cli/)
})
