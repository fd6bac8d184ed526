/**
 * The Keras layer classes (domain 'keras', TF.js layers models) written as ONNX: one family per file, as
 * graph/ops/keras/ has them. InputLayer is the graph input, not a node. A new layer class is one translator in its family.
 */
import type { TranslatorFamily } from '../translator'
import { KERAS_ACTIVATION_LAYERS } from './activations'
import { KERAS_CONV } from './conv'
import { KERAS_CORE } from './core'
import { KERAS_GEOMETRY } from './geometry'
import { KERAS_MERGE } from './merge'
import { KERAS_NORMALIZATION } from './normalization'
import { KERAS_POOLING } from './pooling'

export const KERAS_TRANSLATORS: TranslatorFamily = {
  ...KERAS_CONV,
  ...KERAS_CORE,
  ...KERAS_ACTIVATION_LAYERS,
  ...KERAS_POOLING,
  ...KERAS_NORMALIZATION,
  ...KERAS_MERGE,
  ...KERAS_GEOMETRY,
}
