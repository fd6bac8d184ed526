/** The window's session, kept by the engine in the workspace so that a reload or a second window comes back to it. */
import { z } from 'zod'

/** The window's views, in tab order (their number keys are 1…). */
export const ViewName = z.enum(['workspace', 'architecture', 'filters', 'activations', 'units', 'jobs', 'classes', 'embeddings'])
export type ViewName = z.infer<typeof ViewName>

/**
 * What the window had open and selected (`<workspace>/session.json`). The paths are plain strings, not path
 * params: saving reads nothing, and restoring goes through openModel / openImageFolder and the image check
 * (getImageFacts), which served mode rules as any other call.
 */
export const Session = z.object({
  /** The open model's folder and image folder, reopened on restore. */
  modelDir: z.string().nullable(),
  imageFolder: z.string().nullable(),
  /** The linked selection (stores/selection.ts). */
  layer: z.string().nullable(),
  unit: z.number().int().nonnegative().nullable(),
  image: z.string().nullable(),
  classIndex: z.number().int().nonnegative().nullable(),
  view: ViewName,
})
export type Session = z.infer<typeof Session>
