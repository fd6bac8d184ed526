import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The folder of bundled resources (demo models). CONVSCOPE_RESOURCES wins (the packaged app sets it to its
 * resources path); otherwise the `resources/` folder of the checkout, found by walking up from this file,
 * which works from the sources (tsx) and from the electron-vite bundle (out/main/, out/main/chunks/) alike.
 */
export function resourcesDir(): string {
  const forced = process.env.CONVSCOPE_RESOURCES
  if (forced) return forced
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'resources', 'demo-models'))) return join(dir, 'resources')
    dir = dirname(dir)
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'resources')
}

export const demoModelDir = (kind: 'gap' | 'gmp' | 'fc' = 'gap'): string => join(resourcesDir(), 'demo-models', kind)

/** Whether this installation bundles the trained demo network (it is committed under resources/demo-models). */
export const demoAvailable = (): boolean => existsSync(join(demoModelDir('gap'), 'model.json')) && existsSync(join(demoModelDir('gap'), 'training.json'))
