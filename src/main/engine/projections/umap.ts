/** UMAP (issue 13) — placeholder of the interface commit, replaced by its implementation. */
import { ConvscopeError } from '../../../shared/api'
import type { Projection } from './projection'

export const umap: Projection = {
  info: { name: 'umap', label: 'UMAP', description: '', maxDims: 2, params: [] },
  run: async () => {
    throw new ConvscopeError('INTERNAL', 'UMAP is not built yet')
  },
}
