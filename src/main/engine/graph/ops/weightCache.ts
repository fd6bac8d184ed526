/**
 * Prepared forms of constant weights (a Conv weight transposed to tfjs's [kh, kw, in, out], dilated, split
 * by group), made once per weight instead of once per run: besides the transpose, wasm's XNNPACK packs a
 * filter the first time it sees it, so a fresh filter every run costs that packing every run (resnet18 at
 * 224 on wasm: 977 → 551 ms per forward).
 *
 * Only weights held with tf.keep (the executor's initializers and folded constants) are cached; a weight
 * computed in the run is prepared every time. A prepared form carries no gradient back to its weight (the
 * methods differentiate with respect to inputs and activations, never weights). The forms are disposed by
 * releasePreparedWeights (the executor's dispose) or, failing that, when the weight object is collected.
 */
import * as tf from '@tensorflow/tfjs'

const prepared = new WeakMap<tf.Tensor, Map<string, tf.Tensor[]>>()
const onCollect = new FinalizationRegistry<Map<string, tf.Tensor[]>>((forms) => disposeForms(forms))

function disposeForms(forms: Map<string, tf.Tensor[]>): void {
  for (const ts of forms.values()) tf.dispose(ts)
  forms.clear()
}

/** `make(weight)` for this weight and `key` (the layout asked for), made once while the weight is kept. */
export function preparedWeight<T extends tf.Tensor>(weight: tf.Tensor, key: string, make: () => T[]): T[] {
  if (!weight.kept || weight.isDisposed) return make()
  // (made in a scope of its own: the intermediates go, the forms stay)
  let forms = prepared.get(weight)
  const hit = forms?.get(key)
  if (hit != null && hit.every((t) => !t.isDisposed)) return hit as T[]
  const made = tf.tidy(make).map((t) => tf.keep(t))
  if (forms == null) {
    forms = new Map()
    prepared.set(weight, forms)
    onCollect.register(weight, forms, weight)
  }
  forms.set(key, made)
  return made
}

/** Disposes the prepared forms of these weights (call before disposing the weights themselves). */
export function releasePreparedWeights(weights: Iterable<tf.Tensor>): void {
  for (const w of weights) {
    const forms = prepared.get(w)
    if (forms == null) continue
    disposeForms(forms)
    prepared.delete(w)
    onCollect.unregister(w)
  }
}
