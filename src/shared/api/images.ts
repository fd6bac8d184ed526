/** Image folders the user opens and the facts of one read image. */
import { z } from 'zod'

export const ImageEntry = z.object({
  /** Absolute path. */
  path: z.string(),
  /** Path relative to the folder root, with forward slashes. */
  relPath: z.string(),
  /** Class folder name for ImageNet-style trees, else null. */
  className: z.string().nullable(),
})
export type ImageEntry = z.infer<typeof ImageEntry>

export const ImageFolder = z.object({
  root: z.string(),
  images: z.array(ImageEntry),
  classes: z.array(z.string()),
  /** True when listing stopped at `limit`. */
  truncated: z.boolean(),
})
export type ImageFolder = z.infer<typeof ImageFolder>

/** Facts about how an image was read, for the UI to show next to the image. */
export const ImageFacts = z.object({
  path: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  format: z.string(),
  /** Notes on conversions made: "CMYK converted to sRGB", "alpha flattened on white", "EXIF rotation applied", ... */
  notes: z.array(z.string()),
})
export type ImageFacts = z.infer<typeof ImageFacts>
