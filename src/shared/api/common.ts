/** Building blocks the topic files share: numbers, boxes, predictions, skipped files and the two kinds of path. */
import { z } from 'zod'

/** Numbers travel as Float32Array (structured clone over IPC, tagged base64 over WebSocket: see ../wire.ts). */
export const Float32 = z.instanceof(Float32Array)

/** A model's identity: the content hash of its model.json and weight shards (ModelInfo.id). */
export const ModelId = z.string()

/**
 * The two kinds of path a method can take, so that served mode's access rule follows from the contract
 * (host/router.ts walks each method's params for them, host/pathParams.ts; test/unit/accessContract.test.ts
 * checks every method of the table):
 *
 * - `OpenedPath`: a file or folder the user opens (openModel, openImageFolder). Opening it grants the window
 *   access to that folder, so it is not checked against the opened folders.
 * - `LocalPath`: a file or folder the engine reads on a call; it must lie inside a folder the user opened
 *   (or the workspace), else the call is refused with FORBIDDEN before it reaches the engine.
 *
 * Both are absolute paths in practice; the router, not the schema, rejects relative ones with BAD_REQUEST.
 */
export type PathKind = 'opened' | 'local'
const PATH_KIND_MARKS = new Map<unknown, PathKind>()
/** A no-op check marking a path schema with its kind: a brand exists only for the type checker, checks are kept by every clone (.describe, .meta, .min). */
function markedAs(kind: PathKind): z.core.$ZodCheck<string> {
  const mark = z.refine<string>(() => true)
  PATH_KIND_MARKS.set(mark, kind)
  return mark
}
export const OpenedPath = z.string().min(1).check(markedAs('opened')).brand<'OpenedPath'>()
export type OpenedPath = z.infer<typeof OpenedPath>
export const LocalPath = z.string().min(1).check(markedAs('local')).brand<'LocalPath'>()
export type LocalPath = z.infer<typeof LocalPath>

/** 'local' / 'opened' for a schema built from LocalPath / OpenedPath (refined or described further), null for any other. */
export function pathKindOf(schema: z.core.$ZodType): PathKind | null {
  for (const check of schema._zod.def.checks ?? []) {
    const kind = PATH_KIND_MARKS.get(check)
    if (kind) return kind
  }
  return null
}

/** A box in original-image pixels, as edges: it covers columns [x, x + width) and rows [y, y + height). */
export const ImageBox = z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() })
export type ImageBox = z.infer<typeof ImageBox>

/** One of the model's output classes for an image: its index, name (when the model has labels) and probability (score). */
export const Prediction = z.object({ index: z.number().int(), label: z.string().nullable(), score: z.number() })
export type Prediction = z.infer<typeof Prediction>

/** A file a job could not read: its path (relative to the job's folder) and why. */
export const SkippedFile = z.object({ path: z.string(), reason: z.string() })
export type SkippedFile = z.infer<typeof SkippedFile>

/** Fractions in [0, 1]; null where no image counted (e.g. no annotated image). */
export const Fraction = z.number().nullable()
