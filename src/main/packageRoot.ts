/**
 * The folder of convscope's package.json: the checkout (or the packaged app's app.asar). Code that finds the
 * project's own files (bin/, scripts/, resources/, out/renderer/) starts here rather than counting `../` from
 * its own module, whose place differs between the sources run by tsx (src/main/…), the electron-vite bundle
 * (out/main/, out/main/chunks/) and the CLI bundle (out/cli/<build>/, bin/cliBundle.mjs).
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

interface PackageJson {
  name?: string
  version?: string
}

let found: { dir: string; pkg: PackageJson } | null | undefined

function findPackage(): { dir: string; pkg: PackageJson } | null {
  if (found !== undefined) return found
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson
      if (pkg.name === 'convscope') return (found = { dir, pkg })
    } catch {
      // no package.json here (or another package's, such as a bundle folder's): keep looking upwards
    }
    if (dirname(dir) === dir) return (found = null)
  }
}

/** convscope's root folder; throws when this code runs outside any convscope package (a broken install). */
export function packageRoot(): string {
  const pkg = findPackage()
  if (!pkg) throw new Error(`convscope's package.json is not in any folder above ${fileURLToPath(import.meta.url)}`)
  return pkg.dir
}

/** The version in convscope's package.json, 'unknown' when there is none. */
export const packageVersion = (): string => findPackage()?.pkg.version ?? 'unknown'
