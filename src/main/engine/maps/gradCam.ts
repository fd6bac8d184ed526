/** Grad-CAM (Selvaraju et al. 2017, eq. 1): channel weight α_k = the spatial mean of d logit_c / d A_k. */
import type * as tf from '@tensorflow/tfjs'
import { GradCamFamily } from './gradCamBase'

export class GradCam extends GradCamFamily {
  readonly name = 'gradcam' as const
  readonly label = 'Grad-CAM'

  protected channelWeights(gradients: tf.Tensor4D): tf.Tensor2D {
    return gradients.mean([1, 2]) as tf.Tensor2D
  }
}

export const gradCam = new GradCam()
