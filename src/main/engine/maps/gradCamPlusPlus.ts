/**
 * Grad-CAM++ (Chattopadhay et al. 2018, eq. 19 with the exponential score of section 3.3): with S = exp(logit),
 * the higher derivatives reduce to powers of the first one, g = d logit / d A, so
 *   α_ij^k = g_ij² / (2 g_ij² + Σ_ab A_ab^k · g_ij³)   (0 where the denominator is 0),
 *   w_k = Σ_ij α_ij^k · relu(g_ij).
 */
import * as tf from '@tensorflow/tfjs'
import { GradCamFamily } from './gradCamBase'

export class GradCamPlusPlus extends GradCamFamily {
  readonly name = 'gradcampp' as const
  readonly label = 'Grad-CAM++'
  /** Its closed form (eq. 19) holds for S = exp(logit) only. */
  override readonly scores: ('logit' | 'probability')[] = ['logit']

  protected channelWeights(gradients: tf.Tensor4D, activations: tf.Tensor4D): tf.Tensor2D {
    const g2 = gradients.square()
    const g3 = g2.mul(gradients)
    const sumA = activations.sum([1, 2], true)
    const denominator = g2.mul(2).add(sumA.mul(g3))
    const nonzero = denominator.notEqual(0)
    const alpha = tf.where(nonzero, g2.div(tf.where(nonzero, denominator, tf.onesLike(denominator))), tf.zerosLike(denominator))
    return alpha.mul(tf.relu(gradients)).sum([1, 2]) as tf.Tensor2D
  }
}

export const gradCamPlusPlus = new GradCamPlusPlus()
