/** Class maps of one image (issue 5): CAM, the Grad-CAM family, gradient saliency; the fully-convolutional class grid. */
import { z } from 'zod'
import { Float32, ImageBox, LocalPath, ModelId, Prediction } from './common'
import { ImageFacts } from './images'

/**
 * The name of a method of the engine's map registry (src/main/engine/maps), listed with its label and
 * availability by getMapMethods (e.g. cam: Zhou et al. 2016; gradcam / gradcampp: Selvaraju et al. 2017,
 * Chattopadhay et al. 2018; backprop: plain gradient saliency). The registry is the one list of names: the
 * contract cannot import it (it is tfjs code), so it checks the shape here and the engine answers BAD_REQUEST,
 * naming the methods it knows, for a name it does not.
 */
export const MapMethodName = z.string().regex(/^[a-z][a-z0-9-]*$/, 'a map method name: lower-case letters, digits and dashes')
export type MapMethodName = z.infer<typeof MapMethodName>

/** The map registry's methods as they describe themselves, which of them run on a model, and at which layers. */
export const MapMethodsInfo = z.object({
  methods: z.array(
    z.object({
      name: MapMethodName,
      /** Display name on this model, e.g. "Grad-CAM++", "CAM (global max pooling head)". */
      label: z.string(),
      /** Why the method cannot run on this model (CAM without a global-pooling head), null when it can. */
      unsupported: z.string().nullable(),
      /** What it needs: a layer the caller chooses (`layer` of getClassMaps), a backward pass, a global-pooling → linear head. */
      needs: z.object({ layer: z.boolean(), gradient: z.boolean(), globalPoolingHead: z.boolean() }),
      /** One value per grid cell, or a colour per cell. */
      returns: z.enum(['one-channel', 'rgb']),
      /** The map's grid: a layer's, or the network input's. */
      grid: z.enum(['layer', 'input']),
      /** Its cost for one image and all requested classes, in words ("forward only", "one forward and one backward pass"). */
      cost: z.string(),
      /** Ticked by default where methods are compared over a folder (localization). */
      comparedByDefault: z.boolean(),
      /** The class scores it can explain: every method the logit; the gradient maps whose definition allows it also the probability. */
      scores: z.array(z.enum(['logit', 'probability'])),
    }),
  ),
  /** Spatial layers the methods that need a layer can read maps at, input side first. */
  layers: z.array(z.string()),
  /** The layer used when none is given: the last spatial layer before the classifier head. */
  defaultLayer: z.string().nullable(),
  /**
   * Why the model has no fully-convolutional rewrite (no flatten → dense or global pooling → dense head), null when
   * its layers have one; judged from the layer list, so the rewrite may still refuse, with its reason, in getClassMapGrid.
   */
  fullyConvolutional: z.string().nullable(),
})
export type MapMethodsInfo = z.infer<typeof MapMethodsInfo>

export const GroundTruthBox = z.object({
  /** The object's class name as the annotation gives it (<name>, e.g. a WordNet id or a class folder name). */
  name: z.string(),
  /** Its index among the model's classes, null when the model has no class of that name. */
  classIndex: z.number().int().nullable(),
  box: ImageBox,
})

/** One class's map for one image, with its box at the threshold. */
export const ClassMapEntry = z.object({
  classIndex: z.number().int(),
  label: z.string().nullable(),
  /** The model's output for the class (probability when the model ends in a softmax). */
  probability: z.number(),
  /** The class score the map explains (the logit). */
  logit: z.number(),
  /** Grid of the map: a conv layer's (CAM, Grad-CAM family) or the network input's (backprop). */
  height: z.number().int(),
  width: z.number().int(),
  /** Raw map values, row-major height × width (not normalised; CAM values may be negative). */
  values: Float32,
  /** Largest connected component of the map (upsampled to the image) above threshold × its max; null for an all-zero map. */
  box: ImageBox.nullable(),
})
export type ClassMapEntry = z.infer<typeof ClassMapEntry>

export const ClassMaps = z.object({
  image: ImageFacts,
  method: MapMethodName,
  /** The layer the maps were read at; null for input-space methods. */
  layer: z.string().nullable(),
  /** The class score the maps explain. */
  score: z.enum(['logit', 'probability']),
  threshold: z.number(),
  /** The model's top-5 classes for the image. */
  predictions: z.array(Prediction),
  maps: z.array(ClassMapEntry),
  /** Where the network's input lies on the image (a crop lies inside it, letterbox padding outside): maps are drawn there. */
  inputOnImage: ImageBox,
  /** Boxes from the image's annotation file (none, and why, when it cannot be read); null when no file was found. */
  groundTruth: z.object({ annotation: z.string(), boxes: z.array(GroundTruthBox), error: z.string().nullable() }).nullable(),
  /** Milliseconds spent on the maps (beyond the forward pass for the predictions). */
  milliseconds: z.number(),
})
export type ClassMaps = z.infer<typeof ClassMaps>

export const GetClassMaps = z.object({
  modelId: ModelId,
  image: LocalPath,
  method: MapMethodName,
  /** Classes to map; default: the top `top` predicted classes. */
  classes: z.array(z.number().int().min(0)).min(1).max(64).optional(),
  top: z.number().int().min(1).max(20).default(5),
  /** Grad-CAM family: the layer to read maps at (default: the last spatial layer before the head). */
  layer: z.string().optional(),
  /** Boxes keep the map above this fraction of its max (the CAM paper: 20 %). */
  threshold: z.number().gt(0).lt(1).default(0.2),
  /** The class score the maps explain: the logit (default) or the softmax probability (methods whose `scores` allow it). */
  score: z.enum(['logit', 'probability']).default('logit'),
  /** The image folder the image belongs to (its root), where annotations and classes.json are looked for. */
  dataDir: LocalPath.optional(),
  /** Folder of annotation XML (see engine/localization/annotations.ts for where it is looked for by default). */
  annotations: LocalPath.optional(),
})

export const GetClassFolders = z.object({ modelId: ModelId, dataDir: LocalPath, folders: z.array(z.string()) })
/** A class folder of an image folder and the model class it holds (null: none), as `classify` maps them. */
export const ClassFolder = z.object({ folder: z.string(), classIndex: z.number().int().nullable() })

/** The fully-convolutional rewrite of a flatten → dense network run on a larger input (issue 5, item 3). */
export const ClassMapGrid = z.object({
  image: ImageFacts,
  /** The input size it ran at, [height, width], and the training input size. */
  inputSize: z.tuple([z.number().int(), z.number().int()]),
  trainingInputSize: z.tuple([z.number().int(), z.number().int()]),
  /** How the head became convolutions: a flatten → dense head, or global pooling removed; and the steps, for the user. */
  head: z.enum(['flatten-dense', 'global-pooling']),
  steps: z.array(z.string()),
  /**
   * The output grid: position (y, x) sees the input around (origin[0] + y · stride[0], origin[1] + x · stride[1])
   * (input pixels, as edges: the centre of its receptive field; for a flatten → dense head, of the training-size
   * window it classifies).
   */
  height: z.number().int(),
  width: z.number().int(),
  stride: z.tuple([z.number(), z.number()]),
  origin: z.tuple([z.number(), z.number()]),
  classes: z.number().int(),
  /** Per position the most probable class (row-major height × width) and its probability. */
  argmax: z.array(z.number().int()),
  maxProbability: Float32,
  /** Class probabilities, row-major height × width × classes. */
  probabilities: Float32,
  labels: z.array(z.string()).nullable(),
  /** Where the network's input lies on the image. */
  inputOnImage: ImageBox,
})
export type ClassMapGrid = z.infer<typeof ClassMapGrid>

export const GetClassMapGrid = z.object({ modelId: ModelId, image: LocalPath, size: z.number().int().min(8).max(2048) })
