/**
 * Where a module that runs on its own is (the engine process, host/engineHost.ts; the decode threads,
 * engine/datasets/decodePool.ts). One rule for both: running from source (the calling module is a .ts file,
 * under tsx) it is the .ts file at `source` relative to the caller, and needs tsx's loader; bundled by
 * electron-vite it is the built `<built>` in out/main/ (an entry of electron.vite.config.ts's main build),
 * beside the bundle that holds the calling code, or one folder up when that code landed in out/main/chunks/.
 */
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface EntryFile {
  path: string
  /** A .ts source file: it runs only with tsx's loader (tsxLoader()). */
  fromSource: boolean
}

/** The entry `source` (relative to the caller's folder) when running from source, else the built file `built`. */
export function locateEntryFile(moduleUrl: string, source: string, built: string): EntryFile {
  const here = dirname(fileURLToPath(moduleUrl))
  if (moduleUrl.endsWith('.ts')) return { path: resolve(here, source), fromSource: true }
  const candidates = [join(here, built), join(here, '..', built)]
  return { path: candidates.find((p) => existsSync(p)) ?? candidates[0]!, fromSource: false }
}

/** tsx's loader as an absolute URL, so that an entry starts whatever the working directory. */
export function tsxLoader(): string {
  try {
    return import.meta.resolve('tsx')
  } catch {
    return 'tsx'
  }
}
