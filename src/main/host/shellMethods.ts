/**
 * The methods the shell answers itself (where: 'shell' in shared/api), at once, even while the engine works.
 */
import { readFileSync } from 'node:fs'
import { access, readdir, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConvscopeError, type DirListing, type ParsedParams, type Result, type ShellKind, type ShellMethodName } from '../../shared/api'
import { demoAvailable } from '../resources'
import { imageContentType } from './access'
import type { EngineLanes } from './engines'

export interface ShellContext {
  shell: ShellKind
  workspace: string
  engines: EngineLanes
  /** Default: the version in the project's package.json (Electron passes app.getVersion()). */
  version?: string
  /** The native folder dialog (Electron only); resolves null when the user cancels. */
  chooseFolder?: (title?: string) => Promise<string | null>
  /** Whether a window on an empty workspace opens the demo (default true; `serve --no-demo` turns it off). */
  openDemoOnFirstStart?: boolean
}

type ShellHandler<M extends ShellMethodName> = (params: ParsedParams<M>, ctx: ShellContext) => Promise<Result<M>>

export const shellMethods: { [M in ShellMethodName]: ShellHandler<M> } = {
  async getSystemInfo(_params, ctx) {
    return {
      version: ctx.version ?? projectVersion(),
      backend: ctx.engines.interactive.backend ?? (await ctx.engines.interactive.start()),
      workspace: ctx.workspace,
      shell: ctx.shell,
      nativeDialogs: ctx.chooseFolder !== undefined,
      demoAvailable: demoAvailable(),
      openDemoOnFirstStart: (ctx.openDemoOnFirstStart ?? true) && demoAvailable(),
      platform: process.platform,
      node: process.versions.node,
      engines: ctx.engines.processes(),
    }
  },

  async ping() {
    return { at: Date.now() }
  },

  async browse(params) {
    return browse(params.path)
  },

  async chooseFolder(params, ctx) {
    if (!ctx.chooseFolder) {
      throw new ConvscopeError('UNAVAILABLE', 'Native folder dialogs exist only in the desktop app; pick the folder in the folder browser instead')
    }
    return { path: await ctx.chooseFolder(params.title) }
  },
}

/** Files worth showing in the folder picker besides images: what a model folder is recognised by. */
const MODEL_FILES = new Set(['model.json'])

/**
 * Names of the sub-folders, images and model files of a folder (never contents). A folder is `isModel`
 * when it contains model.json. Hidden entries are left out.
 */
export async function browse(path: string | undefined): Promise<DirListing> {
  if (path !== undefined && !isAbsolute(path)) throw new ConvscopeError('BAD_REQUEST', `Expected an absolute path, got ${JSON.stringify(path)}`)
  const dir = resolve(path ?? homedir())
  let dirents
  try {
    dirents = await readdir(dir, { withFileTypes: true })
  } catch (error) {
    throw fsError(error, dir)
  }
  const entries = await Promise.all(
    dirents
      .filter((d) => !d.name.startsWith('.'))
      .map(async (d) => {
        const full = join(dir, d.name)
        let isDir = d.isDirectory()
        if (d.isSymbolicLink()) isDir = await stat(full).then((s) => s.isDirectory(), () => false)
        if (isDir) return { name: d.name, path: full, kind: 'dir' as const, isModel: await exists(join(full, 'model.json')) }
        if (imageContentType(d.name) || MODEL_FILES.has(d.name)) return { name: d.name, path: full, kind: 'file' as const, isModel: false }
        return null
      }),
  )
  const shown = entries.filter((e) => e !== null)
  shown.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name, undefined, { numeric: true }) : a.kind === 'dir' ? -1 : 1))
  const parent = dirname(dir)
  return { path: dir, parent: parent === dir ? null : parent, entries: shown }
}

function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  )
}

function fsError(error: unknown, path: string): ConvscopeError {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return new ConvscopeError('NOT_FOUND', `${path} does not exist`)
  if (code === 'ENOTDIR') return new ConvscopeError('BAD_REQUEST', `${path} is not a folder`)
  if (code === 'EACCES' || code === 'EPERM') return new ConvscopeError('FORBIDDEN', `No permission to read ${path}`)
  return new ConvscopeError('INTERNAL', `Cannot list ${path}: ${(error as Error).message}`)
}

let cachedVersion: string | undefined

/** The version in convscope's package.json, found upwards from this module (src/main/host or out/main). */
function projectVersion(): string {
  if (cachedVersion) return cachedVersion
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'convscope' && pkg.version) return (cachedVersion = pkg.version)
    } catch {
      // not here: keep looking upwards
    }
    if (dirname(dir) === dir) return (cachedVersion = 'unknown')
  }
}
