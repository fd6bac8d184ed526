/**
 * A copy of this checkout for tests that run bin/convscope.mjs as a user would (bin/cliBundle.mjs builds its
 * bundle inside the copy): the given entries copied, node_modules linked, and every copied file dated a minute
 * back, since files copied just now would read as "edited while the bundle was built" (never recorded as fresh).
 */
import { cp, readdir, symlink, utimes } from 'node:fs/promises'
import { join, resolve } from 'node:path'

export const CHECKOUT = resolve(import.meta.dirname, '../..')

/** Copy `entries` (paths relative to the checkout) into `dest`, link node_modules, date the files a minute back. */
export async function copyCheckout(dest: string, entries: readonly string[]): Promise<string> {
  for (const entry of entries) await cp(join(CHECKOUT, entry), join(dest, entry), { recursive: true })
  await symlink(join(CHECKOUT, 'node_modules'), join(dest, 'node_modules'))
  await ageTree(dest, Date.now() / 1000 - 60)
  return dest
}

/** Set the modification time of every file under `dir` to `seconds` after the epoch (links are left alone). */
async function ageTree(dir: string, seconds: number): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) await ageTree(path, seconds)
    else if (entry.isFile()) await utimes(path, seconds, seconds)
  }
}
