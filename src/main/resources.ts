import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { packageRoot } from './packageRoot'

/**
 * The folder of bundled resources (demo models). CONVSCOPE_RESOURCES wins (the packaged app sets it to its
 * resources path); otherwise the `resources/` folder of the checkout (packageRoot.ts: from the sources, the
 * electron-vite bundle and the CLI bundle alike).
 */
export function resourcesDir(): string {
  const forced = process.env.CONVSCOPE_RESOURCES
  if (forced) return forced
  return join(packageRoot(), 'resources')
}

export const demoModelDir = (kind: 'gap' | 'gmp' | 'fc' = 'gap'): string => join(resourcesDir(), 'demo-models', kind)

/** Whether this installation bundles the trained demo network (it is committed under resources/demo-models). */
export const demoAvailable = (): boolean => existsSync(join(demoModelDir('gap'), 'model.json')) && existsSync(join(demoModelDir('gap'), 'training.json'))
