/**
 * Guided backprop on each of a unit's top patches (Springenberg et al. 2015; issue 12, item 3): for each top-K entry
 * of a finished scan, the image preprocessed as the scan did, the pixel map (engine/pixels, default `guided`) of the
 * unit at the position the scan recorded (held fixed, not located again), cropped to the unit's receptive field
 * there in network-input pixels: the part of the map that can be non-zero. Maps are cached in the scan folder
 * (scan/patchMapCache.ts); progress and cancel between patches.
 */
import { ConvscopeError, type ImageBox, type ParsedParams, type Preprocessing, type Result } from '../../../../shared/api'
import { throwIfCancelled, type JobContext } from '../../context'
import { toInputTensor } from '../../images/preprocess'
import { readModelInput } from '../../images/readImage'
import type { LoadedModel } from '../../model'
import { pixelMethod } from '../../pixels'
import type { PixelMethod } from '../../pixels/types'
import type { ScanManifest } from '../../scan/manifest'
import { PatchMapCache, sameCrop, type CachedPatchMap } from '../../scan/patchMapCache'
import { readLayerTopK, unitPatches, type TopPatch } from '../../scan/topPatches'
import { planTarget, receptiveFieldBox } from '../../targets'

export interface PatchMapRequest {
  layer: string
  unit: number
  /** The first `count` patches (default all K of the scan). */
  count?: number
  /** A pixel method name (pixels/index.ts). */
  method: string
}

/** One top patch with its map over the unit's receptive field. */
export interface PatchMap {
  patch: TopPatch
  /** The crop in network-input pixels (edges): the receptive field at the patch's position, clipped. */
  box: ImageBox
  /** box.height × box.width × 3, HWC, signed, raw. */
  values: Float32Array<ArrayBuffer>
  cached: boolean
}

export interface UnitPatchMaps {
  manifest: ScanManifest
  method: PixelMethod
  maps: PatchMap[]
  /** How many came from the cache. */
  cached: number
}

/** The `box` part of an h × w × 3 HWC array (a map, or an image's bytes) of row length `width`. */
export function cropMap(values: Float32Array, width: number, box: ImageBox): Float32Array<ArrayBuffer>
export function cropMap(values: Uint8Array, width: number, box: ImageBox): Uint8Array<ArrayBuffer>
export function cropMap(values: Float32Array | Uint8Array, width: number, box: ImageBox): Float32Array<ArrayBuffer> | Uint8Array<ArrayBuffer> {
  const length = box.height * box.width * 3
  const out = values instanceof Float32Array ? new Float32Array(length) : new Uint8Array(length)
  for (let y = 0; y < box.height; y++) {
    const from = ((box.y + y) * width + box.x) * 3
    out.set(values.subarray(from, from + box.width * 3), y * box.width * 3)
  }
  return out
}

/** The maps of `unit`'s top patches in the scan in `scanDir` (made with `model`), from the cache where it has them. */
export async function unitPatchMaps(model: LoadedModel, scanDir: string, request: PatchMapRequest, ctx: JobContext): Promise<UnitPatchMaps> {
  const method = pixelMethod(request.method)
  const why = method.unsupported(model)
  if (why) throw new ConvscopeError('UNSUPPORTED_OP', `${method.label} cannot run on model ${model.info.name}: ${why}`)
  const scan = await readLayerTopK(scanDir, request.layer)
  const { manifest } = scan
  if (manifest.model.id !== model.info.id) {
    throw new ConvscopeError(
      'BAD_REQUEST',
      `The scan in ${scanDir} was made with model ${manifest.model.name} (${manifest.model.dir}), not with ${model.info.name}: its patches' maps need the model that found them`,
    )
  }
  const all = unitPatches(scan, request.unit)
  const patches = all.slice(0, request.count)
  const pre = manifest.model.preprocessing
  const [height, width] = pre.inputSize
  // The unit's receptive field where the scan found it; a dense layer's unit sees the whole input.
  const boxOf = (p: TopPatch): ImageBox => receptiveFieldBox(model, request.layer, p, height, width) ?? { x: 0, y: 0, width, height }

  const cache = new PatchMapCache(scanDir, manifest, model.info.id, method.name, request.layer, request.unit)
  const stored = await cache.read()
  const valid = (c: CachedPatchMap | undefined): c is CachedPatchMap => {
    const p = c && all[c.rank - 1]
    return !!p && sameCrop(c, { image: p.image, y: p.y, x: p.x, box: boxOf(p) })
  }
  const maps: PatchMap[] = []
  const fresh: CachedPatchMap[] = []
  try {
    for (const [i, patch] of patches.entries()) {
      throwIfCancelled(ctx)
      const hit = stored.get(patch.rank)
      if (valid(hit)) {
        maps.push({ patch, box: hit.box, values: hit.values, cached: true })
      } else {
        const box = boxOf(patch)
        const values = await patchMap(model, method, request, patch, pre, box)
        fresh.push({ rank: patch.rank, image: patch.image, y: patch.y, x: patch.x, box, values })
        maps.push({ patch, box, values, cached: false })
      }
      ctx.progress({ done: i + 1, total: patches.length, unit: 'patches', message: `${method.label} of ${request.layer} unit ${request.unit}'s top patches` })
    }
  } finally {
    // Also after a cancel: what was computed stays. The maps are the answer; the cache is only a saving, so a
    // scan folder that cannot be written (read-only media) does not fail the request.
    if (fresh.length) {
      const kept = [...stored.values()].filter((c) => valid(c) && !fresh.some((f) => f.rank === c.rank))
      await cache.write([...kept, ...fresh]).catch(() => {})
    }
  }
  return { manifest, method, maps, cached: maps.filter((m) => m.cached).length }
}

/** One patch's map: its image as the scan preprocessed it, the unit at the scan's position, cropped to `box`. */
async function patchMap(model: LoadedModel, method: PixelMethod, request: PatchMapRequest, patch: TopPatch, pre: Preprocessing, box: ImageBox): Promise<Float32Array<ArrayBuffer>> {
  const spatial = model.graph.get(request.layer).spatial
  const plan = planTarget(model, { kind: 'unit', layer: request.layer, channel: request.unit, at: spatial ? { y: patch.y, x: patch.x } : 'max' })
  const { input } = await readModelInput(patch.path, pre)
  const x = toInputTensor(input)
  try {
    const map = await method.compute(model, x, plan)
    if (map.height !== input.shape[0] || map.width !== input.shape[1]) {
      throw new ConvscopeError('INTERNAL', `${method.name} returned a ${map.height}×${map.width} map for a ${input.shape[0]}×${input.shape[1]} input`)
    }
    return cropMap(map.values, map.width, box)
  } finally {
    x.dispose()
  }
}

export async function getGuidedPatches(model: LoadedModel, p: ParsedParams<'getGuidedPatches'>, ctx: JobContext): Promise<Result<'getGuidedPatches'>> {
  const { maps, method, cached } = await unitPatchMaps(model, p.scanDir, p, ctx)
  return {
    layer: p.layer,
    unit: p.unit,
    method: method.name,
    patches: maps.map((m) => ({ rank: m.patch.rank, path: m.patch.path, box: m.box, values: m.values })),
    cached,
  }
}
