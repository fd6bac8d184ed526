/**
 * A codes folder (issue 13) — the interface commit's signatures; the format and the implementation come with
 * the codes job (engine/codes). Readers of codes (neighbours, projections' API adapters, grids) use only these.
 */
import { ConvscopeError, type CodeImage, type CodesSummary } from '../../../shared/api'

export interface CodesFolder {
  dir: string
  summary: CodesSummary
  /** The model the codes are of (its content identity). */
  modelId: string
  images: CodeImage[]
}

const notYet = (): never => {
  throw new ConvscopeError('INTERNAL', 'codes folders are not built yet')
}

/** Manifest and images of a finished codes folder; a clear error for anything else. */
export async function readCodesFolder(dir: string): Promise<CodesFolder> {
  return notYet() && (dir as never)
}

/** The codes as float32 [count, dim] row-major (float16 files widened); NaN rows for skipped images. */
export async function readCodeMatrix(dir: string): Promise<{ data: Float32Array; count: number; dim: number }> {
  return notYet() && (dir as never)
}

/** The 32×32 RGB thumbnails as uint8 [count, 3072] row-major (HWC); zero rows for skipped images. */
export async function readPixelMatrix(dir: string): Promise<{ data: Uint8Array; count: number; dim: number }> {
  return notYet() && (dir as never)
}
