/** PCA (issue 13) — placeholder of the interface commit, replaced by its implementation. */
import { ConvscopeError } from '../../../shared/api'
import type { Projection } from './projection'

export const pca: Projection = {
  info: { name: 'pca', label: 'PCA', description: '', maxDims: 2, params: [] },
  run: async () => {
    throw new ConvscopeError('INTERNAL', 'PCA is not built yet')
  },
}
