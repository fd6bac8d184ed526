/**
 * HiResCAM (Draelos & Carin 2020, "Use HiResCAM instead of Grad-CAM for faithful explanations of convolutional
 * neural networks"): M_c = Σ_k (∂y_c/∂A_k ⊙ A_k), the gradient times the activations element-wise, with
 * no spatial averaging of the gradient (Grad-CAM's step) and no ReLU. On a global-average-pooling → linear head
 * the gradient is w_ck / (h·w) everywhere, so HiResCAM = CAM / (h·w) and Σ_xy M_c = logit_c − b_c exactly.
 */
import type * as tf from '@tensorflow/tfjs'
import { LayerGradientMap } from './gradCamBase'

export class HiResCam extends LayerGradientMap {
  readonly name = 'hirescam' as const
  readonly label = 'HiResCAM'
  // On a GAP network its boxes are CAM's (it is CAM / (h·w)): not ticked by default in a comparison.
  override readonly comparedByDefault = false

  protected mapsFrom(gradients: tf.Tensor4D, activations: tf.Tensor4D): tf.Tensor3D {
    return gradients.mul(activations).sum(3) as tf.Tensor3D
  }
}

export const hiResCam = new HiResCam()
