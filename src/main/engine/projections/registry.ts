/** The projections registry (issue 13): every method the API, the CLI's `embed` and the Embeddings view offer. */
import { ConvscopeError, type ProjectionInfo, type ProjectionParams } from '../../../shared/api'
import { pca } from './pca'
import type { Projection } from './projection'
import { tsne } from './tsne'
import { umap } from './umap'

export const projections: readonly Projection[] = [pca, tsne, umap]

export const projectionInfos = (): ProjectionInfo[] => projections.map((p) => p.info)

export function projectionNamed(name: string): Projection {
  const found = projections.find((p) => p.info.name === name)
  if (!found) throw new ConvscopeError('BAD_REQUEST', `unknown projection "${name}"; choose one of ${projections.map((p) => p.info.name).join(', ')}`)
  return found
}

/** Every setting of `projection` from `given` (strings from a CLI flag are read as numbers), defaults filled in; unknown or out-of-range settings are refused. */
export function resolveParams(projection: Projection, given: ProjectionParams): ProjectionParams {
  const { name, params } = projection.info
  const unknown = Object.keys(given).filter((k) => !params.some((p) => p.name === k))
  if (unknown.length) throw new ConvscopeError('BAD_REQUEST', `${name} has no setting ${unknown.map((u) => `"${u}"`).join(', ')}; its settings: ${params.map((p) => p.name).join(', ') || 'none'}`)
  const out: ProjectionParams = {}
  for (const p of params) {
    const raw = given[p.name] ?? p.default
    if (p.kind === 'choice') {
      const v = String(raw)
      if (!p.choices?.includes(v)) throw new ConvscopeError('BAD_REQUEST', `${name} ${p.name} must be one of ${p.choices?.join(', ')}, not "${v}"`)
      out[p.name] = v
      continue
    }
    const v = typeof raw === 'number' ? raw : Number(raw)
    if (!Number.isFinite(v) || (p.kind === 'int' && !Number.isInteger(v))) throw new ConvscopeError('BAD_REQUEST', `${name} ${p.name} must be ${p.kind === 'int' ? 'a whole number' : 'a number'}, not "${raw}"`)
    if ((p.min !== undefined && v < p.min) || (p.max !== undefined && v > p.max)) {
      throw new ConvscopeError('BAD_REQUEST', `${name} ${p.name} must be in [${p.min ?? '-∞'}, ${p.max ?? '∞'}], not ${v}`)
    }
    out[p.name] = v
  }
  return out
}
