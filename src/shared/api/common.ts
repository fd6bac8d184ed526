/** Building blocks the topic files share: numbers, boxes, predictions, skipped files and the two kinds of path. */
import { z } from 'zod'

/** Numbers travel as Float32Array (structured clone over IPC, tagged base64 over WebSocket: see ../wire.ts). */
export const Float32 = z.instanceof(Float32Array)

/** A model's identity: the content hash of its model.json and weight shards (ModelInfo.id). */
export const ModelId = z.string()

/**
 * The two kinds of path a method can take, so that served mode's access rule follows from the contract
 * (host/router.ts walks each method's params for them; test/unit/accessContract.test.ts checks every method):
 *
 * - `OpenedPath`: a file or folder the user opens (openModel, openImageFolder). Opening it grants the window
 *   access to that folder, so it is not checked against the opened folders.
 * - `LocalPath`: a file or folder the engine reads on a call; it must lie inside a folder the user opened
 *   (or the workspace), else the call is refused with FORBIDDEN before it reaches the engine.
 *
 * Both are absolute paths in practice; the router, not the schema, rejects relative ones with BAD_REQUEST.
 */
export const OpenedPath = z.string().min(1).brand<'OpenedPath'>()
export type OpenedPath = z.infer<typeof OpenedPath>
export const LocalPath = z.string().min(1).brand<'LocalPath'>()
export type LocalPath = z.infer<typeof LocalPath>
/** The kind of each path schema, found by walking a params schema (pathKindOf). */
export type PathKind = 'opened' | 'local'
const PATH_KINDS = new Map<z.ZodType, PathKind>([
  [OpenedPath, 'opened'],
  [LocalPath, 'local'],
])
/** 'local' / 'opened' for the path schemas above, null for any other schema. */
export function pathKindOf(schema: z.ZodType): PathKind | null {
  return PATH_KINDS.get(schema) ?? null
}

/** A box in original-image pixels, as edges: it covers columns [x, x + width) and rows [y, y + height). */
export const ImageBox = z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() })
export type ImageBox = z.infer<typeof ImageBox>

/** One of the model's output classes for an image: its index, name (when the model has labels) and score. */
export const Prediction = z.object({ index: z.number().int(), label: z.string().nullable(), score: z.number() })
export type Prediction = z.infer<typeof Prediction>

/** A file a job could not read: its path (relative to the job's folder) and why. */
export const SkippedFile = z.object({ path: z.string(), reason: z.string() })
export type SkippedFile = z.infer<typeof SkippedFile>

/** Fractions in [0, 1]; null where no image counted (e.g. no annotated image). */
export const Fraction = z.number().nullable()
