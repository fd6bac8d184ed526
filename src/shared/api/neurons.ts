/**
 * From a neuron back to the pixels (issue 12): targets, pixel maps (vanilla gradient, deconvnet, guided
 * backprop, guided Grad-CAM), occlusion, activation maximization, and what the unit card adds to a unit's scan.
 */
import { z } from 'zod'
import { Float32, ImageBox, LocalPath, ModelId } from './common'

/**
 * What a method explains, shared by every method of this file (engine/targets.ts turns it into one number per
 * image of a batch):
 * - a class: its logit (the score before the softmax) or its probability;
 * - a unit: one channel of a layer, at its spatial maximum (the position is chosen on the image, then held
 *   fixed while differentiating), at a given position of the layer's map, or its spatial mean;
 * - a direction in a layer: the dot product of `vector` (one weight per channel) with the layer's channels,
 *   averaged over space.
 */
export const Target = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('class'), class: z.number().int().min(0), score: z.enum(['logit', 'probability']).default('logit') }),
  z.object({
    kind: z.literal('unit'),
    layer: z.string(),
    channel: z.number().int().min(0),
    at: z.union([z.enum(['max', 'mean']), z.object({ y: z.number().int().min(0), x: z.number().int().min(0) })]).default('max'),
  }),
  z.object({ kind: z.literal('direction'), layer: z.string(), vector: z.array(z.number()).min(1) }),
])
export type Target = z.infer<typeof Target>
/** A Target as a caller writes it (defaults optional). */
export type TargetInput = z.input<typeof Target>

/** A target as it was resolved on one image: what it is in words, and for a unit where its value was read. */
export const ResolvedTarget = z.object({
  /** e.g. "class 3 (gold star) logit", "conv_last channel 12 at its max (y 3, x 5)". */
  description: z.string(),
  /** Its value on the (unoccluded, unmodified) image. */
  value: z.number(),
  /** For a unit at its max or at a position: the position in the layer's map; else null. */
  position: z.object({ y: z.number().int(), x: z.number().int() }).nullable(),
  /** For a unit at one position: its receptive field in network-input pixels (edges, clipped); else null. */
  receptiveField: ImageBox.nullable(),
})
export type ResolvedTarget = z.infer<typeof ResolvedTarget>

/** A method of the pixel-map registry (engine/pixels): backprop, deconvnet, guided, guided-gradcam. */
export const PixelMethodName = z.string().regex(/^[a-z][a-z0-9-]*$/, 'a pixel method name: lower-case letters, digits and dashes')
export type PixelMethodName = z.infer<typeof PixelMethodName>

export const PixelMethodsInfo = z.object({
  methods: z.array(
    z.object({
      name: PixelMethodName,
      label: z.string(),
      /** The backward rule at every ReLU, in the lecture's notation, e.g. "(f>0)·(R>0)·R". */
      rule: z.string(),
      /** How ReLU6 and leaky ReLU are treated. */
      otherActivations: z.string(),
      cost: z.string(),
      /** Why the method cannot run on this model, null when it can. */
      unsupported: z.string().nullable(),
    }),
  ),
})
export type PixelMethodsInfo = z.infer<typeof PixelMethodsInfo>

export const GetPixelMap = z.object({
  modelId: ModelId,
  image: LocalPath,
  method: PixelMethodName,
  target: Target,
  /** guided-gradcam: the layer of its Grad-CAM (default: the last spatial layer before the head). */
  layer: z.string().optional(),
})

/** A map on the network input's grid: the signed gradient-like RGB values, raw. */
export const PixelMap = z.object({
  method: PixelMethodName,
  label: z.string(),
  target: ResolvedTarget,
  /** The network input's size (the map's grid). */
  height: z.number().int(),
  width: z.number().int(),
  /** height × width × 3, row-major, channels last, signed and not normalised (what `npy` export writes). */
  values: Float32,
  milliseconds: z.number(),
})
export type PixelMap = z.infer<typeof PixelMap>

/** Occlusion (Zeiler & Fergus 2014): a square slides over the image; the target's value with each position covered. */
export const GetOcclusion = z.object({
  modelId: ModelId,
  image: LocalPath,
  target: Target,
  /** Side of the square, in network-input pixels. */
  size: z.number().int().min(1),
  /** Step between positions, in network-input pixels. */
  stride: z.number().int().min(1),
  /** What covers the square: mid-grey, the image's mean colour, or a Gaussian blur of the image. */
  fill: z.enum(['grey', 'mean', 'blur']).default('grey'),
  /** Occluded copies per forward pass. */
  batch: z.number().int().min(1).max(1024).default(64),
})

export const OcclusionMap = z.object({
  target: ResolvedTarget,
  /** Positions: rows × cols, the square's top-left corner at (row·stride, col·stride) of the input. */
  rows: z.number().int(),
  cols: z.number().int(),
  size: z.number().int(),
  stride: z.number().int(),
  fill: z.enum(['grey', 'mean', 'blur']),
  inputHeight: z.number().int(),
  inputWidth: z.number().int(),
  /** rows × cols: the target's value with the square at that position (compare with target.value). */
  values: Float32,
  milliseconds: z.number(),
})
export type OcclusionMap = z.infer<typeof OcclusionMap>

/** Activation maximization ("visualizing arbitrary neurons"): settings; the cache key is (model, target, these). */
export const ActmaxSettings = z.object({
  steps: z.number().int().min(1).max(10_000).default(256),
  seed: z.number().int().min(0).default(0),
  /** Images optimised together (a diversity term pushes them apart when `diversity` > 0). */
  images: z.number().int().min(1).max(16).default(1),
  /** Side of the optimised image; default: the network input's. */
  size: z.number().int().min(8).max(1024).optional(),
  /** 'fourier': a Fourier-space image with decorrelated colours (Olah et al. 2017); 'pixel': raw pixels (the lecture's). */
  parameterization: z.enum(['fourier', 'pixel']).default('fourier'),
  /** Adam's step; 0.15 (Lucid uses 0.05 on 128–224² images): the demo network's 64² images start slowly at 0.05 (bench/actmaxQuality.ts). */
  learningRate: z.number().positive().default(0.15),
  /** Random transforms each step: jitter in pixels, scale range, rotation in degrees. */
  jitter: z.number().int().min(0).default(8),
  scales: z.array(z.number().positive()).default([1, 0.975, 1.025, 0.95, 1.05]),
  rotate: z.number().min(0).default(5),
  /** The lecture's regularizers (Yosinski et al. 2015): L2 decay, blur every k steps, clipping small pixels / contributions. */
  l2Decay: z.number().min(0).default(0),
  blurEvery: z.number().int().min(0).default(0),
  blurSigma: z.number().min(0).default(0.5),
  clipPixelsPercentile: z.number().min(0).max(100).default(0),
  clipContributionsPercentile: z.number().min(0).max(100).default(0),
  diversity: z.number().min(0).default(0),
  /** A preview image travels with the progress every this many steps (0: none). */
  previewEvery: z.number().int().min(0).default(16),
})
export type ActmaxSettings = z.infer<typeof ActmaxSettings>

export const StartActmax = z.object({ modelId: ModelId, target: Target, settings: ActmaxSettings.default(ActmaxSettings.parse({})) })

export const ActmaxResult = z.object({
  target: z.object({ description: z.string() }),
  settings: ActmaxSettings,
  /** One per optimised image: a PNG data URL of the image in pixel space, and the target's value on it (untransformed). */
  images: z.array(z.object({ png: z.string(), width: z.number().int(), height: z.number().int(), value: z.number() })),
  /** The objective at each step (mean over the images, transformed inputs, before regularizers). */
  objective: z.array(z.number()),
  /** From the cache (same model, target and settings) rather than optimised now. */
  cached: z.boolean(),
  seconds: z.number(),
  stepMilliseconds: z.number(),
})
export type ActmaxResult = z.infer<typeof ActmaxResult>

/** Guided backprop on each of a unit's top patches (Springenberg et al. 2015), cached in the scan folder. */
export const GetGuidedPatches = z.object({
  modelId: ModelId,
  scanDir: LocalPath,
  layer: z.string(),
  unit: z.number().int().min(0),
  /** Patches (default all K of the scan). */
  count: z.number().int().positive().optional(),
  method: PixelMethodName.default('guided'),
})

export const GuidedPatches = z.object({
  layer: z.string(),
  unit: z.number().int(),
  method: PixelMethodName,
  patches: z.array(
    z.object({
      rank: z.number().int(),
      path: z.string(),
      /** The crop: the unit's receptive field at the patch's max, in network-input pixels (clipped). */
      box: ImageBox,
      /** The map over the crop: box.height × box.width × 3, signed, raw. */
      values: Float32,
    }),
  ),
  /** How many came from the scan folder's cache. */
  cached: z.number().int(),
})
export type GuidedPatches = z.infer<typeof GuidedPatches>

/** The classes whose weights on a channel of the last conv layer of a global-pooling network are largest (CAM's w_c^k). */
export const GetUnitClassWeights = z.object({ modelId: ModelId, layer: z.string(), channel: z.number().int().min(0), count: z.number().int().positive().default(5) })

export const UnitClassWeights = z.object({
  /** Why there are none (not the last conv layer of a global-pooling → linear head), null when there are. */
  unsupported: z.string().nullable(),
  /** Largest weight first. */
  classes: z.array(z.object({ index: z.number().int(), label: z.string().nullable(), weight: z.number() })),
})
export type UnitClassWeights = z.infer<typeof UnitClassWeights>

/** A class's weights w_c over the channels of the layer a global-pooling → linear head reads: a direction target. */
export const GetClassDirection = z.object({ modelId: ModelId, class: z.number().int().min(0) })

export const ClassDirection = z.object({
  /** Why there is none (no global-pooling → linear head), null when there is. */
  unsupported: z.string().nullable(),
  /** The head's feature layer, which the direction is in; null when unsupported. */
  layer: z.string().nullable(),
  /** The head's pooling: with 'average', the direction's value (its spatial mean) is the class logit minus its bias. */
  pooling: z.enum(['average', 'max']).nullable(),
  /** w_c: one weight per channel of `layer`; empty when unsupported. */
  vector: z.array(z.number()),
})
export type ClassDirection = z.infer<typeof ClassDirection>
