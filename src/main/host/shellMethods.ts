/**
 * The methods the shell answers itself (where: 'shell' in shared/api), at once, even while the engine works.
 */
import { access, opendir, readdir, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { ConvscopeError, type DirListing, type ParsedParams, type Result, type ShellKind, type ShellMethodName } from '../../shared/api'
import { packageVersion } from '../packageRoot'
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
  /** The native file dialog for a model file, model.json or .onnx (Electron only); null when the user cancels. */
  chooseModel?: (title?: string) => Promise<string | null>
  /** Whether a window on an empty workspace opens the demo (default true; `serve --no-demo` turns it off). */
  openDemoOnFirstStart?: boolean
}

type ShellHandler<M extends ShellMethodName> = (params: ParsedParams<M>, ctx: ShellContext) => Promise<Result<M>>

export const shellMethods: { [M in ShellMethodName]: ShellHandler<M> } = {
  async getSystemInfo(_params, ctx) {
    return {
      version: ctx.version ?? packageVersion(),
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
    if (!ctx.chooseFolder) throw noNativeDialogs()
    return { path: await ctx.chooseFolder(params.title) }
  },

  async chooseModel(params, ctx) {
    if (!ctx.chooseModel) throw noNativeDialogs()
    return { path: await ctx.chooseModel(params.title) }
  },
}

const noNativeDialogs = () =>
  new ConvscopeError('UNAVAILABLE', 'Native file dialogs exist only in the desktop app; pick the folder or file in the folder browser instead')

/** Files worth showing in the folder picker besides images: a TF.js model.json, an ONNX model. */
const isOnnxFile = (name: string): boolean => /\.onnx$/i.test(name)
const isModelFile = (name: string): boolean => name === 'model.json' || isOnnxFile(name)

/** Entries looked at for a model file in each sub-folder: a model folder is small, a class folder may hold thousands. */
const MODEL_SNIFF_ENTRIES = 512

/**
 * Names of the sub-folders, images and model files of a folder (never contents). A folder is `isModel`
 * when it contains model.json or an .onnx file; an .onnx file is `isModel` itself. Hidden entries are left out.
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
        if (isDir) return { name: d.name, path: full, kind: 'dir' as const, isModel: await holdsModel(full) }
        if (imageContentType(d.name) || isModelFile(d.name)) return { name: d.name, path: full, kind: 'file' as const, isModel: isOnnxFile(d.name) }
        return null
      }),
  )
  const shown = entries.filter((e) => e !== null)
  shown.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name, undefined, { numeric: true }) : a.kind === 'dir' ? -1 : 1))
  const parent = dirname(dir)
  return { path: dir, parent: parent === dir ? null : parent, entries: shown }
}

/** Whether a folder holds model.json or (among its first entries) an .onnx file; unreadable folders do not. */
async function holdsModel(dir: string): Promise<boolean> {
  if (await exists(join(dir, 'model.json'))) return true
  try {
    let seen = 0
    for await (const entry of await opendir(dir)) {
      if (isOnnxFile(entry.name)) return true
      if (++seen >= MODEL_SNIFF_ENTRIES) return false
    }
  } catch {
    // unreadable: not offered as a model
  }
  return false
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

