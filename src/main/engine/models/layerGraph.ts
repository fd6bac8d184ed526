/**
 * A model's layers by name, built once when the model is opened (LoadedModel.graph), so the methods look a
 * layer up, follow what feeds it, or list the spatial ones without each rebuilding a map of ModelInfo.layers.
 */
import { ConvscopeError, type LayerInfo, type ModelInfo } from '../../../shared/api'

export class LayerGraph {
  /** The layers in ModelInfo order: the input first, the output last. */
  readonly layers: readonly LayerInfo[]
  private readonly model: string
  private readonly byName: ReadonlyMap<string, LayerInfo>

  constructor(info: Pick<ModelInfo, 'name' | 'layers'>) {
    this.model = info.name
    this.layers = info.layers
    this.byName = new Map(info.layers.map((l) => [l.name, l]))
  }

  has(name: string): boolean {
    return this.byName.has(name)
  }

  /** The layer named `name`, or undefined (for callers that explain a missing layer in their own words). */
  find(name: string): LayerInfo | undefined {
    return this.byName.get(name)
  }

  /** The layer named `name`; BAD_REQUEST naming the model and a few valid layers (those resembling the name first) if none. */
  get(name: string): LayerInfo {
    const layer = this.byName.get(name)
    if (layer) return layer
    throw new ConvscopeError('BAD_REQUEST', `Model ${this.model} has no layer "${name}"; ${suggestLayers(name, this.layers)}`)
  }

  /** The layers feeding `layer`, in its inbound order (names that are not layers of the model are left out). */
  inbound(layer: LayerInfo): LayerInfo[] {
    return layer.inbound.flatMap((n) => this.byName.get(n) ?? [])
  }

  /** The one layer feeding `layer`; undefined when it reads none, several, or a name that is not a layer. */
  input(layer: LayerInfo): LayerInfo | undefined {
    return layer.inbound.length === 1 ? this.byName.get(layer.inbound[0]!) : undefined
  }

  /** The layers with a spatial [h, w, c] output after the model input, input side first. */
  spatial(): LayerInfo[] {
    return this.layers.filter((l) => l.spatial && l.kind !== 'input')
  }
}

/** "layers include conv1, conv2, ... (40 in all)", names resembling the query first. */
export function suggestLayers(query: string, candidates: readonly LayerInfo[], what = 'layers'): string {
  if (candidates.length === 0) return `it has no ${what}`
  const q = query.toLowerCase()
  const names = candidates.map((l) => l.name)
  const alike = q ? names.filter((n) => n.toLowerCase().includes(q) || q.includes(n.toLowerCase())) : []
  const shown = [...new Set([...alike, ...names])].slice(0, 8)
  const more = names.length > shown.length ? `, ... (${names.length} in all)` : ''
  return `${what} include ${shown.join(', ')}${more}`
}
