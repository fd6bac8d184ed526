/**
 * Prepared forms of constant weights (a Conv weight transposed to tfjs's [kh, kw, in, out], dilated, split
 * by group), made once per weight instead of once per run: besides the transpose, wasm's XNNPACK packs a
 * filter the first time it sees it, so a fresh filter every run costs that packing every run (resnet18 at
 * 224 on wasm: 977 → 622 ms per forward with the cache).
 *
 * Opt-in, by the owner of the weights (the executor): holdPreparedWeights(weights) when it builds them,
 * releasePreparedWeights(weights) before disposing them (failing that, the forms go when the weight objects are
 * collected). Any other tensor is prepared on every run, so a kernel called on its own leaves no tensor behind.
 * A prepared form carries no gradient back to its weight (the methods differentiate with respect to inputs and
 * activations, never weights).
 */
import * as tf from '@tensorflow/tfjs'

const holding = new WeakSet<tf.Tensor>()
const prepared = new WeakMap<tf.Tensor, Map<string, tf.Tensor[]>>()
const onCollect = new FinalizationRegistry<Map<string, tf.Tensor[]>>((forms) => disposeForms(forms))

function disposeForms(forms: Map<string, tf.Tensor[]>): void {
  for (const ts of forms.values()) tf.dispose(ts)
  forms.clear()
}

/** Lets kernels keep prepared forms of these constant tensors (the weights and folded constants of a model). */
export function holdPreparedWeights(weights: Iterable<tf.Tensor>): void {
  for (const w of weights) holding.add(w)
}

/** Disposes the prepared forms of these weights and stops holding them (call before disposing the weights). */
export function releasePreparedWeights(weights: Iterable<tf.Tensor>): void {
  for (const w of weights) {
    holding.delete(w)
    const forms = prepared.get(w)
    if (forms == null) continue
    disposeForms(forms)
    prepared.delete(w)
    onCollect.unregister(w)
  }
}

/** `make()` for this weight and `key` (the layout asked for): made once for a held weight, every time otherwise. */
export function preparedWeight<T extends tf.Tensor>(weight: tf.Tensor, key: string, make: () => T[]): T[] {
  if (!holding.has(weight) || weight.isDisposed) return make()
  let forms = prepared.get(weight)
  const hit = forms?.get(key)
  if (hit != null && hit.every((t) => !t.isDisposed)) return hit as T[]
  // made in a scope of its own: the intermediates go, the forms stay
  const made = tf.tidy(make).map((t) => tf.keep(t))
  if (forms == null) {
    forms = new Map()
    prepared.set(weight, forms)
    onCollect.register(weight, forms, weight)
  }
  forms.set(key, made)
  return made
}
