/** The translators by domain: 'keras' (TF.js layers models) and 'tf' (TF.js graph models). ONNX models need none: they run their own file. */
import { KERAS_DOMAIN } from '../../graph/ops/keras'
import { TF_DOMAIN } from '../../graph/fromTfGraph'
import { KERAS_TRANSLATORS } from './keras'
import { TF_TRANSLATORS } from './tf'
import type { Translator, TranslatorFamily } from './translator'

const DOMAINS: Readonly<Record<string, TranslatorFamily>> = {
  [KERAS_DOMAIN]: KERAS_TRANSLATORS,
  [TF_DOMAIN]: TF_TRANSLATORS,
}

export function translatorFor(opType: string, domain: string): Translator | undefined {
  const family = Object.hasOwn(DOMAINS, domain) ? DOMAINS[domain]! : undefined
  return family && Object.hasOwn(family, opType) ? family[opType] : undefined
}
