/**
 * Whether out/ must be (re)built before the app or served mode can show the window, and the build itself:
 * `npm start` (bin/start.mjs) checks the whole app, `convscope serve` the renderer it serves, so that a
 * fresh checkout right after `npm install` works without a separate build step (issue 9).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** What a build writes (paths relative to the project root) and the sources it is made from. */
export interface BuildTarget {
  outputs: readonly string[]
  sources: readonly string[]
}

const CONFIG = ['electron.vite.config.ts', 'package.json']

/** The whole app: the Electron shell, the engine process, the preload and the renderer. */
export const APP_BUILD: BuildTarget = {
  outputs: ['out/main/index.js', 'out/main/engine.js', 'out/preload/index.cjs', 'out/renderer/index.html'],
  sources: ['src', ...CONFIG],
}

/** What served mode sends to the browser (its server and engines run from the sources through tsx). */
export const RENDERER_BUILD: BuildTarget = {
  outputs: ['out/renderer/index.html'],
  sources: ['src/renderer', 'src/shared', ...CONFIG],
}

/** Newest modification time under a folder (or of a file), 0 when absent. */
export function newestMtime(path: string): number {
  if (!existsSync(path)) return 0
  const info = statSync(path)
  if (!info.isDirectory()) return info.mtimeMs
  let newest = info.mtimeMs
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)))
  return newest
}

/** Why `target` must be built in `root` ("out/renderer/index.html is missing", "sources changed …"), or null when it is current. */
export function staleBuildReason(root: string, target: BuildTarget): string | null {
  const missing = target.outputs.find((p) => !existsSync(join(root, p)))
  if (missing) return `${missing} is missing`
  const oldestOutput = Math.min(...target.outputs.map((p) => statSync(join(root, p)).mtimeMs))
  const newestSource = Math.max(...target.sources.map((p) => newestMtime(join(root, p))))
  return newestSource > oldestOutput ? 'the sources changed since the last build' : null
}

/**
 * Build with `electron-vite build` when `target` is stale, saying why on stderr (stdout stays for the
 * command's own output). Returns false, after saying so, when the build failed.
 */
export function buildIfStale(root: string, target: BuildTarget, log: (line: string) => void = (line) => console.error(line)): boolean {
  const reason = staleBuildReason(root, target)
  if (reason === null) return true
  log(`convscope: building the window (${reason}); this takes a minute the first time...`)
  const build = spawnSync('npx', ['electron-vite', 'build'], { cwd: root, stdio: ['ignore', process.stderr, process.stderr], shell: process.platform === 'win32' })
  if (build.status === 0) return true
  log(`convscope: the build failed (${build.error?.message ?? `exit status ${build.status ?? build.signal}`}; see above). electron-vite is a dev dependency: run \`npm install\` in ${root}, then \`npx electron-vite build\`.`)
  return false
}
