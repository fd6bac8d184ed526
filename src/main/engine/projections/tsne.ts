/** t-SNE (issue 13) — placeholder of the interface commit, replaced by its implementation. */
import { ConvscopeError } from '../../../shared/api'
import type { Projection } from './projection'

export const tsne: Projection = {
  info: { name: 'tsne', label: 't-SNE', description: '', maxDims: 2, params: [] },
  run: async () => {
    throw new ConvscopeError('INTERNAL', 't-SNE is not built yet')
  },
}
