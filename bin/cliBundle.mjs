// The command line as one bundled file: esbuild bundles src/main/cli/index.ts (and the entries the CLI starts as
// separate processes or threads, e.g. the engine process of `convscope serve`) into out/cli/<build>/, so that a
// start loads a few files instead of tsx transpiling ~290 TypeScript modules (bench/cliStartup.ts; every
// `scan --workers` worker pays the start too). tsx already caches its transforms on disk: what a start costs
// under it is its loader hooks on every module (--help: 2.8 CPU s under tsx, 1.0 from the bundle, load 12).
//
// Fresh or stale: a build records every file esbuild read (its metafile), plus this file, package.json and
// tsconfig.node.json, each with its size and modification time; a start stats them all and rebuilds when one
// differs or is gone (esbuild's package.json included), so an edited source never runs stale.
// Parallel starts (scan workers, test files): each build is written to its own temporary folder and renamed
// into place, and the record to a temporary file renamed over the old one: a reader sees a whole old build or
// a whole new one. Nothing here throws: any failure means "no bundle" and the caller runs the sources with tsx
// (the reason goes to stderr under CONVSCOPE_DEBUG). CONVSCOPE_CLI_BUNDLE=0 skips the bundle.
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)))
const CACHE = join(ROOT, 'out', 'cli') // inside the checkout even where node_modules is a link to another one's
const RECORD = join(CACHE, 'current.json')

/**
 * What is bundled: the CLI, and the electron-vite main build's separately started entries under the same
 * names (src/main/entryFile.ts finds `<name>.js` beside the code that starts it; test/unit/cliBundle.test.ts
 * checks this list against electron.vite.config.ts).
 */
export const ENTRIES = {
  cli: 'src/main/cli/index.ts',
  engine: 'src/main/engine/worker.ts',
  decodeWorker: 'src/main/engine/datasets/decodeWorker.ts',
}

/** Files that shape the build without being read by esbuild as modules. */
const BUILD_INPUTS = ['bin/cliBundle.mjs', 'package.json', 'tsconfig.node.json']

/** Packages imported by a path that Node's ES module resolution cannot find (no extension, no exports map): bundled. */
const BUNDLED_PACKAGES = /^umap-js(\/|$)/

/** An edit within this long before a build started may not be in it (file times are coarse): such a build is used once, not recorded. */
const MTIME_SLACK_MS = 2000
/**
 * Builds other than the current one are kept this long, and at most KEEP_BUILDS of them (≈ 3 MB each): a running
 * `serve` or scan may still start an engine process or decode thread from the build it started with.
 */
const OLD_BUILD_MS = 24 * 3600_000
const KEEP_BUILDS = 20

const debug = (message) => {
  if (process.env.CONVSCOPE_DEBUG) process.stderr.write(`convscope: ${message}\n`)
}

/** [path relative to ROOT, size, mtime in ms] of a file, or null when it is gone. */
function fileStamp(path) {
  try {
    const info = statSync(join(ROOT, path))
    return [path, info.size, info.mtimeMs]
  } catch {
    return null
  }
}

/** The current build's folder when its record matches the files on disk, else null. */
function freshBuild() {
  let record
  try {
    record = JSON.parse(readFileSync(RECORD, 'utf8'))
  } catch {
    return null
  }
  if (!Array.isArray(record.inputs) || typeof record.dir !== 'string') return null
  if (!statSync(join(CACHE, record.dir, 'cli.js'), { throwIfNoEntry: false })) return null
  for (const [path, size, mtime] of record.inputs) {
    const now = fileStamp(path)
    if (!now || now[1] !== size || now[2] !== mtime) return debug(`the CLI bundle is stale (${path} changed)`), null
  }
  return join(CACHE, record.dir)
}

/** esbuild: the project's own (hoisted) copy, else the one tsx depends on. */
async function loadEsbuild() {
  let require = createRequire(import.meta.url)
  try {
    require.resolve('esbuild')
  } catch {
    require = createRequire(require.resolve('tsx'))
  }
  // its package.json is stamped too: another esbuild version means another build
  return { ...require('esbuild'), packageJson: require.resolve('esbuild/package.json') }
}

/** Whether Node loads this file as CommonJS (.cjs, or .js without "type": "module" in its package.json). */
function isCommonJs(file) {
  if (file.endsWith('.cjs') || file.endsWith('.json') || file.endsWith('.node')) return true
  if (!file.endsWith('.js')) return false
  for (let dir = dirname(file); dirname(dir) !== dir; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json')
    if (statSync(pkg, { throwIfNoEntry: false })) return JSON.parse(readFileSync(pkg, 'utf8')).type !== 'module'
  }
  return true
}

/**
 * Packages stay outside the bundle, loaded at run time from node_modules as under tsx (BUNDLED_PACKAGES
 * excepted). One whose import resolves to CommonJS is loaded with require() instead: an ES import of CommonJS
 * makes Node scan its source for export names (cjs-module-lexer), which was most of a bundled start's time
 * (@tensorflow/tfjs, sharp, protobufjs); esbuild's interop gives the importing code the same bindings.
 * Packages with an ES build (zod, ml-matrix, fast-xml-parser, ws's wrapper) are imported as under tsx.
 */
const externalPackages = {
  name: 'convscope-external-packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (/^[A-Za-z]:[\\/]/.test(args.path) || BUNDLED_PACKAGES.test(args.path) || args.pluginData === 'probe') return undefined
      if (args.kind !== 'import-statement' || args.path.startsWith('node:')) return { path: args.path, external: true }
      const found = await build.resolve(args.path, { kind: 'import-statement', resolveDir: args.resolveDir, pluginData: 'probe' })
      if (found.errors.length || !isCommonJs(found.path)) return { path: args.path, external: true }
      return { path: args.path, namespace: 'required-package' }
    })
    build.onLoad({ filter: /.*/, namespace: 'required-package' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)})`,
      loader: 'js',
    }))
  },
}

/** Build into a new folder; returns [its path, whether it may be recorded as current]. */
async function build() {
  const esbuild = await loadEsbuild()
  const started = Date.now()
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: ENTRIES,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outdir: 'out-of-tree', // not written (write: false); the names of outputFiles are relative to it
    write: false,
    metafile: true,
    keepNames: true, // Function.name / class names as under tsx
    sourcemap: false, // Node maps stack traces only with --enable-source-maps, which costs ≈ 1 s a start; CONVSCOPE_CLI_BUNDLE=0 for source lines
    logLevel: 'silent',
    // Bundled CommonJS (umap-js) calls require(): in an ES module it has to be made.
    banner: { js: "import { createRequire as __convscopeCreateRequire } from 'node:module'; const require = __convscopeCreateRequire(import.meta.url);" },
    plugins: [externalPackages],
  })
  const outdir = resolve(ROOT, 'out-of-tree')
  const files = result.outputFiles.map((f) => [relative(outdir, f.path), f.contents])
  files.push(['package.json', Buffer.from('{ "type": "module" }\n')]) // <name>.js files are ES modules, as in out/main/
  const hash = createHash('sha256')
  for (const [name, contents] of files) hash.update(name).update('\0').update(contents).update('\0')
  const name = `b-${hash.digest('hex').slice(0, 16)}`
  const dir = join(CACHE, name)
  const esbuildPackage = relative(ROOT, esbuild.packageJson)
  const read = Object.keys(result.metafile.inputs).filter((p) => !p.startsWith('required-package:')) // files, not our virtual modules
  const inputs = [...read, ...BUILD_INPUTS, esbuildPackage].map(fileStamp)
  const unsettled = inputs.findIndex((s) => !s || s[2] >= started - MTIME_SLACK_MS)

  mkdirSync(CACHE, { recursive: true })
  const temporary = join(CACHE, `.tmp-${process.pid}-${Date.now()}`)
  for (const [file, contents] of files) {
    mkdirSync(dirname(join(temporary, file)), { recursive: true })
    writeFileSync(join(temporary, file), contents)
  }
  try {
    renameSync(temporary, dir)
  } catch (error) {
    // Another start built the same bytes first (the name is their hash): use that one.
    rmSync(temporary, { recursive: true, force: true })
    if (!statSync(join(dir, 'cli.js'), { throwIfNoEntry: false })) throw error
  }
  if (unsettled < 0) {
    const record = `${RECORD}.${process.pid}.tmp`
    writeFileSync(record, JSON.stringify({ dir: name, esbuild: esbuild.version, inputs }))
    renameSync(record, RECORD)
    removeOldBuilds(name)
  } else {
    debug(`${inputs[unsettled]?.[0] ?? [...read, ...BUILD_INPUTS][unsettled]} changed during the last seconds: this build is used once and not recorded`)
  }
  debug(`built the CLI bundle ${name} in ${Date.now() - started} ms`)
  return dir
}

function removeOldBuilds(current) {
  const others = readdirSync(CACHE)
    .filter((entry) => entry !== current && (entry.startsWith('b-') || entry.startsWith('.tmp-')))
    .map((entry) => ({ path: join(CACHE, entry), build: entry.startsWith('b-'), mtime: statSync(join(CACHE, entry), { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
    .sort((a, b) => b.mtime - a.mtime)
  let kept = 0
  for (const { path, build, mtime } of others) {
    const old = Date.now() - mtime > (build ? OLD_BUILD_MS : 3600_000) // a temporary folder an hour old is a crashed build's
    if (old || (build && ++kept > KEEP_BUILDS)) rmSync(path, { recursive: true, force: true })
  }
}

/**
 * The bundled CLI module (file path) to run: the current build, built first when stale; null when
 * CONVSCOPE_CLI_BUNDLE=0 or the bundle cannot be built (then run the sources with tsx).
 */
export async function cliBundle() {
  if (process.env.CONVSCOPE_CLI_BUNDLE === '0') return null
  try {
    const dir = freshBuild() ?? (await build())
    return join(dir, 'cli.js')
  } catch (error) {
    debug(`running the sources with tsx: the CLI bundle could not be built (${error?.message ?? error})`)
    return null
  }
}
