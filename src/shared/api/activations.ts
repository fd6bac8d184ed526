/** What a layer computes for one image (the Activations view). */
import { z } from 'zod'
import { Float32, Prediction } from './common'
import { ImageFacts } from './images'

export const ActivationData = z.object({
  layer: z.string(),
  image: ImageFacts,
  /** [height, width, channels] for spatial layers, [units] otherwise. */
  shape: z.array(z.number()),
  /** Activations, row-major in `shape`. */
  values: Float32,
  /** Per channel: max over space and the flat (y * width + x) index where it occurs. */
  channelMax: Float32,
  channelArgmax: z.array(z.number().int()),
  /** Top-5 of the model output for this image, where the model ends in class scores. */
  predictions: z.array(Prediction),
})
export type ActivationData = z.infer<typeof ActivationData>
