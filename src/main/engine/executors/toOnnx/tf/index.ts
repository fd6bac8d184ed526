/** The TensorFlow ops (domain 'tf', TF.js graph models) written as ONNX, one family per file as graph/ops/tf/ has them. */
import type { TranslatorFamily } from '../translator'
import { TF_CONV } from './conv'
import { TF_IMAGE } from './image'
import { TF_MATH } from './math'
import { TF_SHAPE } from './shape'

export const TF_TRANSLATORS: TranslatorFamily = { ...TF_CONV, ...TF_MATH, ...TF_SHAPE, ...TF_IMAGE }
