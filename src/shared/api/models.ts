/** A model as the views see it: its layers with receptive fields, its preprocessing, its kernels. */
import { z } from 'zod'
import { Float32, ModelId } from './common'

/**
 * Receptive field of a unit of a layer, per axis [height, width], in input pixels (Araujo et al. 2019):
 * `size` = how many input pixels one unit sees, `jump` = input pixels between neighbouring units,
 * `start` = input coordinate of the centre of the field of unit 0 (may be negative with padding).
 * The field of unit (y, x) covers rows start[0] + y*jump[0] ± (size[0]-1)/2, likewise for columns.
 */
export const ReceptiveField = z.object({
  size: z.tuple([z.number(), z.number()]),
  jump: z.tuple([z.number(), z.number()]),
  start: z.tuple([z.number(), z.number()]),
  /** false where branches merged fields of different geometry: then this is the enclosing field. */
  exact: z.boolean(),
})
export type ReceptiveField = z.infer<typeof ReceptiveField>

export const LayerKind = z.enum(['input', 'conv', 'depthwise', 'pool', 'global-pool', 'dense', 'norm', 'activation', 'merge', 'reshape', 'other'])
export type LayerKind = z.infer<typeof LayerKind>

export const LayerInfo = z.object({
  name: z.string(),
  /** Keras class name (layers models) or TF op (graph models). */
  type: z.string(),
  kind: LayerKind,
  /** Output shape without the batch axis; null entries are unknown dimensions. */
  outputShape: z.array(z.number().nullable()),
  params: z.number().int(),
  inbound: z.array(z.string()),
  receptiveField: ReceptiveField.nullable(),
  /** Whether the layer has a 4-D kernel that the Filters view can show. */
  hasFilters: z.boolean(),
  /** Whether activations of this layer are spatial maps (rank 3 without batch). */
  spatial: z.boolean(),
  activation: z.string().nullable(),
})
export type LayerInfo = z.infer<typeof LayerInfo>

/** Input preprocessing, from the model's `convscope.json` sidecar (defaults where it is missing). */
export const Preprocessing = z.object({
  /** [height, width] the network takes. */
  inputSize: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  channelOrder: z.enum(['RGB', 'BGR']).default('RGB'),
  /** Pixel values are first scaled from [0, 255] to `range`, then `(x - mean) / std` per channel. */
  range: z.tuple([z.number(), z.number()]).default([0, 1]),
  mean: z.tuple([z.number(), z.number(), z.number()]).default([0, 0, 0]),
  std: z.tuple([z.number(), z.number(), z.number()]).default([1, 1, 1]),
  /**
   * stretch: resize to inputSize ignoring aspect; center-crop: scale so the image covers inputSize, then
   * crop the middle; pad: letterbox on black; shorter-side: torchvision's Resize(resizeSize) + CenterCrop
   * (inputSize) — the shorter side becomes resizeSize, the longer int(resizeSize · long / short), then the
   * centre window at int(round((size − crop) / 2)) (black borders where the crop is the larger).
   */
  resize: z.enum(['stretch', 'center-crop', 'pad', 'shorter-side']).default('stretch'),
  /** shorter-side: the shorter side's length after resizing (torchvision's Resize(int)); default min(inputSize). */
  resizeSize: z.number().int().positive().optional(),
  /**
   * The resampling filter, as PIL's Image.resize computes it (antialiased: the filter widens when
   * shrinking), which is what torchvision's Resize does to a PIL image. Default bilinear; torchvision's
   * EfficientNet weights use bicubic.
   */
  interpolation: z.enum(['bilinear', 'bicubic', 'nearest']).optional(),
  /** Label file beside model.json: one label per line, or a JSON array, or an ImageNet-style {"0": [wnid, name]} map. */
  labels: z.string().nullable().default(null),
})
export type Preprocessing = z.infer<typeof Preprocessing>

export const ModelInfo = z.object({
  /** Content hash of model.json and its weight shards: the model's identity. */
  id: ModelId,
  dir: z.string(),
  name: z.string(),
  format: z.enum(['layers', 'graph', 'onnx']),
  /** [height, width, channels] of one input image. */
  inputShape: z.tuple([z.number(), z.number(), z.number()]),
  preprocessing: Preprocessing,
  /** True where no convscope.json was found and defaults were used. */
  preprocessingDefaulted: z.boolean(),
  labels: z.array(z.string()).nullable(),
  layers: z.array(LayerInfo),
  totalParams: z.number().int(),
  warnings: z.array(z.string()),
})
export type ModelInfo = z.infer<typeof ModelInfo>

export const RecentModel = z.object({ id: ModelId, dir: z.string(), name: z.string(), openedAt: z.string() })
export type RecentModel = z.infer<typeof RecentModel>

export const FilterData = z.object({
  layer: z.string(),
  /** Kernel shape [kh, kw, inChannels, outChannels] (depthwise: [kh, kw, channels, multiplier]). */
  shape: z.tuple([z.number(), z.number(), z.number(), z.number()]),
  depthwise: z.boolean(),
  /** Kernel values in the shape above, row-major. */
  weights: Float32,
  /** True for a first layer whose inputs are the 3 image colour channels: shown as RGB tiles. */
  rgb: z.boolean(),
})
export type FilterData = z.infer<typeof FilterData>
